//! The deployment files — `Dockerfile`, `deploy/docker-compose.yml`,
//! `deploy/kubernetes/molt.yaml`, `deploy/grafana/molt.json` — must agree with the
//! binary: every command line they hold parses as `molt` parses it, their ports are the
//! ones the nodes `molt testnet init` writes listen on, their probes are the node's, and
//! every metric the dashboard plots is one a node serves. No container engine is
//! needed for these: the files are parsed, and what they run is run here directly.
//! The ignored tests at the end take the static build into an empty root, and into
//! podman as the image and as the compose network.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;
use common::{DevNode, http_get};
use molt_host::cli::Cli;
use serde_json::json;
use serde_yaml::Value as Yaml;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap()
}

/// A command line as strings.
fn strings(v: &Yaml) -> Vec<String> {
    v.as_sequence()
        .unwrap_or_else(|| panic!("not a list: {v:?}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// `molt ARGS…` must parse exactly as the binary parses it.
fn parses(args: &[String]) {
    let argv = std::iter::once("molt".to_string()).chain(args.iter().cloned());
    if let Err(e) = Cli::try_parse_from(argv) {
        panic!("`molt {}` does not parse:\n{e}", args.join(" "));
    }
}

/// The value after `flag` in `args`.
fn flag<'a>(args: &'a [String], flag: &str) -> &'a str {
    let i = args
        .iter()
        .position(|a| a == flag)
        .unwrap_or_else(|| panic!("no {flag} in {args:?}"));
    &args[i + 1]
}

fn port_of(addr: &str) -> u16 {
    addr.parse::<std::net::SocketAddr>().unwrap().port()
}

/// Runs `molt testnet init` with `args`, its `--out` replaced by a temporary directory;
/// returns that directory and each node's `molt.toml`.
fn init(args: &[String]) -> (tempfile::TempDir, Vec<toml::Value>) {
    let out = tempfile::tempdir().unwrap();
    let mut args = args.to_vec();
    let i = args.iter().position(|a| a == "--out").unwrap();
    args[i + 1] = out.path().to_str().unwrap().to_string();
    let status = Command::new(env!("CARGO_BIN_EXE_molt"))
        .args(&args)
        .status()
        .unwrap();
    assert!(status.success(), "molt {args:?}");
    let nodes = (0..)
        .map(|i| out.path().join(format!("node{i}/molt.toml")))
        .take_while(|p| p.exists())
        .map(|p| toml::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect();
    (out, nodes)
}

#[test]
fn the_compose_network_runs_what_init_writes_on_the_ports_it_publishes() {
    let compose: Yaml = serde_yaml::from_str(&read("deploy/docker-compose.yml")).unwrap();
    let services = compose["services"].as_mapping().unwrap();

    // Step 1: every command parses; init's writes the nodes the others start.
    let init_args = strings(&compose["services"]["init"]["command"]);
    parses(&init_args);
    let (_out, files) = init(&init_args);
    let hosts: Vec<&str> = flag(&init_args, "--hosts").split(',').collect();
    assert_eq!(files.len(), hosts.len());

    for (i, host) in hosts.iter().enumerate() {
        let service = &services[&Yaml::from(*host)];
        let args = strings(&service["command"]);
        parses(&args);
        assert_eq!(flag(&args, "--datadir"), format!("/data/node{i}"));
        let volumes = strings(&compose["x-node"]["volumes"]);
        // The image's volume: no anonymous one is made beside it.
        assert_eq!(volumes, ["data:/data"]);
        assert!(read("Dockerfile").contains("\nVOLUME [\"/data\"]\n"));

        // Step 2: it publishes the RPC port its molt.toml serves on and its metrics.
        let file = &files[i];
        let rpc = port_of(file["rpc"]["addr"].as_str().unwrap());
        let metrics = port_of(flag(&args, "--metrics.addr"));
        let published: BTreeSet<u16> = strings(&service["ports"])
            .iter()
            .map(|p| p.rsplit(':').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(published, BTreeSet::from([rpc, metrics]), "{host}");
        assert!(
            file["rpc"]["addr"]
                .as_str()
                .unwrap()
                .starts_with("0.0.0.0:")
        );

        // Step 3: it dials the others by their service names.
        let peers = file["p2p"]["peers"].as_array().unwrap();
        for (j, other) in hosts.iter().enumerate().filter(|(j, _)| *j != i) {
            let p2p = files[j]["p2p"]["listen"].as_str().unwrap();
            let port = p2p.rsplit('/').next().unwrap();
            assert!(peers.contains(&toml::Value::from(format!("/dns4/{other}/tcp/{port}"))));
            let relay = file["p2p"]["relay"].as_array().unwrap();
            let other_rpc = port_of(files[j]["rpc"]["addr"].as_str().unwrap());
            assert!(relay.contains(&toml::Value::from(format!("{other}:{other_rpc}"))));
        }
    }
    // Graceful shutdown (20 s by default) fits the grace compose gives.
    assert_eq!(compose["x-node"]["stop_grace_period"], Yaml::from("30s"));
}

#[test]
fn the_kubernetes_statefulset_probes_and_ports_match_the_node() {
    let text = read("deploy/kubernetes/molt.yaml");
    let docs: Vec<Yaml> = serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    let kind = |k: &'static str| docs.iter().filter(move |d| d["kind"] == k);
    let set = kind("StatefulSet").next().expect("a StatefulSet");
    let pod = &set["spec"]["template"]["spec"];
    let container = &pod["containers"][0];

    // Step 1: the container's command parses, its data dir is the claimed volume.
    let args = strings(&container["args"]);
    parses(&args);
    let claim = set["spec"]["volumeClaimTemplates"][0]["metadata"]["name"]
        .as_str()
        .unwrap();
    let mount = container["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|m| m["name"] == claim)
        .expect("the claimed volume is mounted");
    assert_eq!(
        mount["mountPath"].as_str().unwrap(),
        flag(&args, "--datadir")
    );

    // Step 2: its ports are those `init --base-port 7545 --hosts …` gives a node.
    let hosts = "molt-0.molt,molt-1.molt,molt-2.molt,molt-3.molt";
    assert!(
        text.contains(&format!("--hosts {hosts}")),
        "the header's init command"
    );
    let init_args: Vec<String> = [
        "testnet",
        "init",
        "--validators",
        "4",
        "--base-port",
        "7545",
        "--hosts",
        hosts,
        "--out",
        "x",
    ]
    .map(String::from)
    .to_vec();
    let (_out, files) = init(&init_args);
    let port = |name: &str| {
        container["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .and_then(|p| p["containerPort"].as_u64())
            .unwrap_or_else(|| panic!("no {name} port")) as u16
    };
    let node = &files[1];
    assert_eq!(port("rpc"), port_of(node["rpc"]["addr"].as_str().unwrap()));
    assert_eq!(
        port("admin"),
        port_of(node["admin"]["addr"].as_str().unwrap())
    );
    assert_eq!(port("metrics"), port_of(flag(&args, "--metrics.addr")));
    let p2p = node["p2p"]["listen"].as_str().unwrap();
    assert_eq!(port("p2p").to_string(), p2p.rsplit('/').next().unwrap());
    assert!(
        node["p2p"]["peers"]
            .as_array()
            .unwrap()
            .contains(&toml::Value::from("/dns4/molt-0.molt/tcp/7545"))
    );

    // Step 3: the probes are the node's, on its RPC port.
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"], Yaml::from(path), "{probe}");
        assert_eq!(get["port"], Yaml::from("rpc"), "{probe}");
    }
    // Non-root, as the image; a grace period longer than the node's shutdown timeout.
    assert_eq!(pod["securityContext"]["runAsUser"], Yaml::from(10001));
    assert!(pod["terminationGracePeriodSeconds"].as_u64().unwrap() > 20);

    // Step 4: the headless Service names the pods the hosts above use, and the RPC
    // Service reaches the rpc port.
    let headless = kind("Service")
        .find(|s| s["spec"]["clusterIP"] == "None")
        .expect("a headless Service");
    assert_eq!(headless["metadata"]["name"], set["spec"]["serviceName"]);
    assert_eq!(
        format!(
            "{}-0.{}",
            set["metadata"]["name"].as_str().unwrap(),
            headless["metadata"]["name"].as_str().unwrap()
        ),
        "molt-0.molt"
    );
    let rpc = kind("Service")
        .find(|s| s["metadata"]["name"] == "molt-rpc")
        .expect("an RPC Service");
    assert!(
        rpc["spec"]["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .any(|p| p["targetPort"] == "rpc")
    );
}

#[test]
fn the_dockerfile_runs_a_dev_node_as_a_non_root_user_with_its_probe() {
    let text = read("Dockerfile");
    let last_stage = &text[text.rfind("\nFROM ").unwrap()..];
    let line = |keyword: &str| {
        last_stage
            .lines()
            .find_map(|l| l.strip_prefix(keyword))
            .unwrap_or_else(|| panic!("no {keyword} in the final stage"))
            .trim()
            .to_string()
    };
    let array = |s: &str| serde_json::from_str::<Vec<String>>(s).unwrap();
    assert!(last_stage.starts_with("\nFROM scratch"));
    assert_eq!(array(&line("ENTRYPOINT ")), ["/molt"]);
    let cmd = array(&line("CMD "));
    parses(&cmd);
    let health = array(line("HEALTHCHECK ").split_once("CMD ").unwrap().1);
    assert_eq!(health[0], "/molt");
    parses(&health[1..]);
    let user = line("USER ");
    assert!(
        !user.starts_with("0") && !user.starts_with("root"),
        "{user}"
    );
    // The ports the dev node serves on by default (and its metrics) are exposed.
    let exposed: Vec<u16> = line("EXPOSE ")
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert!(exposed.contains(&8545) && health[2].contains(":8545/readyz"));
    assert!(exposed.contains(&port_of(flag(&cmd, "--metrics.addr"))));
    assert!(line("ENV MOLT_CACHE_DIR=").starts_with(flag(&cmd, "--datadir")));
}

#[test]
fn the_dashboard_plots_only_metrics_a_node_serves() {
    let dashboard: serde_json::Value =
        serde_json::from_str(&read("deploy/grafana/molt.json")).unwrap();
    let plotted: BTreeSet<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap().clone())
        .flat_map(|t| {
            let expr = t["expr"].as_str().unwrap().to_string();
            expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("molt_"))
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect();

    // Step 1: a dev node with a block and some calls, scraped.
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &["--metrics.addr", "127.0.0.1:0"]);
    let tx = node.ok(
        "eth_sendTransaction",
        json!([{ "from": common::ACCOUNT0, "to": common::ACCOUNT1, "value": "0x1" }]),
    );
    node.wait_for("eth_getTransactionReceipt", json!([tx]));
    let metrics = common::metrics_addr(&node);
    let (_, text) = http_get(&metrics, "/metrics", None);
    // The image's health check is `molt probe`: 0 when ready, 1 otherwise.
    let probe = |path: &str| {
        let url = format!("http://{}{path}", node.addr);
        let out = Command::new(env!("CARGO_BIN_EXE_molt"))
            .args(["probe", &url])
            .output()
            .unwrap();
        out.status.code()
    };
    assert_eq!(probe("/readyz"), Some(0));
    assert_eq!(probe("/nowhere"), Some(1));
    node.stop();

    // Step 2: every plotted series is one the node (or a validator) serves: a sample,
    // or a declared family not yet observed (no failure has happened).
    let mut served = BTreeSet::new();
    for text in [text, molt_bft::BftMetrics::default().prometheus()] {
        for line in text.lines() {
            match line.strip_prefix("# TYPE ") {
                Some(declared) => {
                    let (name, kind) = declared.split_once(' ').unwrap();
                    let suffixes: &[&str] = match kind {
                        "counter" => &["", "_total"],
                        "histogram" => &["_bucket", "_sum", "_count"],
                        _ => &[""],
                    };
                    served.extend(suffixes.iter().map(|s| format!("{name}{s}")));
                }
                None if line.starts_with('#') => {}
                None => {
                    served.insert(line.split(['{', ' ']).next().unwrap().to_string());
                }
            }
        }
    }
    let missing: Vec<_> = plotted.difference(&served).collect();
    assert!(missing.is_empty(), "plotted but not served: {missing:?}");
    assert!(plotted.len() > 20, "{plotted:?}");
}

/// The static binary in an otherwise empty root directory, run as the image's user:
/// what `FROM scratch` gives it. Needs root (for chroot) and the static build:
///
/// ```sh
/// CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-feature=+crt-static" \
///   cargo build --profile dist --target x86_64-unknown-linux-gnu -p molt-host --bin molt
/// MOLT_STATIC_BIN=target/x86_64-unknown-linux-gnu/dist/molt \
///   cargo test -p molt-host --test deploy -- --ignored
/// ```
#[test]
#[ignore = "needs the static release build and root (run with --ignored, MOLT_STATIC_BIN set)"]
fn the_static_binary_serves_a_dev_node_from_an_empty_root() {
    // A relative path is taken from the workspace root.
    let bin = repo()
        .join(std::env::var("MOLT_STATIC_BIN").expect("MOLT_STATIC_BIN names the static build"));
    let root = tempfile::tempdir().unwrap();
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(root.path(), mode).unwrap();

    // Step 1: the root holds the binary, an empty data directory owned by 10001 and
    // the devices every container has.
    std::fs::copy(&bin, root.path().join("molt")).unwrap();
    std::fs::create_dir(root.path().join("data")).unwrap();
    let chown = Command::new("chown")
        .args(["10001:10001"])
        .arg(root.path().join("data"))
        .status();
    assert!(chown.unwrap().success());
    let entries: Vec<_> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries.len(), 2, "{entries:?}");
    // What a container runtime gives even a `FROM scratch` image: /dev/null,
    // /dev/random and /dev/urandom (a static binary cannot find libc's getrandom, so
    // the `getrandom` crate falls back to the files).
    std::fs::create_dir(root.path().join("dev")).unwrap();
    for (name, minor) in [("null", "3"), ("random", "8"), ("urandom", "9")] {
        let path = root.path().join("dev").join(name);
        let made = Command::new("mknod")
            .args(["-m", "666"])
            .arg(&path)
            .args(["c", "1", minor])
            .status();
        assert!(made.unwrap().success(), "mknod {}", path.display());
    }

    // Step 2: the image's command, chrooted, as the image's user.
    let mut command = Command::new("chroot");
    command
        .arg("--userspec=10001:10001")
        .arg(root.path())
        .args(["/molt", "dev", "--datadir", "/data", "--http.port", "0"])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("MOLT_CACHE_DIR", "/data/module-cache");
    let node = DevNode::spawn_command(command, "the static molt in an empty root");

    // Step 3: it is ready, serves JSON-RPC and stops cleanly.
    let (status, body) = http_get(&node.addr.to_string(), "/readyz", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(node.ok("eth_chainId", json!([])), "0x7a69");
    node.stop();
    assert!(root.path().join("data/db").exists());
}

/// The image itself, built and run by a container engine (podman) where one runs: the
/// Dockerfile's final stage verbatim, with its build stage replaced by the static
/// binary built outside (`MOLT_STATIC_BIN`, as above) — the base image of the build
/// stage is not reachable everywhere. Checks that the image holds the binary and
/// nothing else, that it serves as user 10001 with its data on a volume, that its
/// health check passes, and that `podman stop` (SIGTERM) ends it with exit code 0.
///
/// ```sh
/// MOLT_STATIC_BIN=target/x86_64-unknown-linux-gnu/dist/molt \
///   cargo test -p molt-host --test deploy -- --ignored the_image
/// ```
#[test]
#[ignore = "needs podman and the static release build (run with --ignored, MOLT_STATIC_BIN set)"]
fn the_image_serves_a_dev_node_in_a_container_engine() {
    let name = format!("molt-image-test-{}", std::process::id());
    let cleanup = Cleanup(name.clone());

    // Step 1: the image holds the binary and nothing else.
    let bin = build_image(&name);
    let size: u64 = podman(&["image", "inspect", "--format", "{{.Size}}", &name])
        .parse()
        .unwrap();
    let binary = std::fs::metadata(&bin).unwrap().len();
    eprintln!("image: {size} bytes, the binary {binary}");
    assert!(
        size - binary < 64 << 10,
        "{size} bytes for a {binary}-byte binary"
    );

    // Step 2: it runs with its own command, its data on a named volume, the JSON-RPC
    // port published on an ephemeral host port.
    podman(&[
        "run",
        "-d",
        "--name",
        &name,
        "-v",
        &format!("{name}:/data"),
        "-p",
        "127.0.0.1::8545",
        &name,
    ]);
    let port = podman(&["port", &name, "8545"]);
    let addr = port.lines().next().unwrap().trim().to_string();

    // Step 3: its health check (`molt probe …/readyz` inside the container) passes
    // once the node is ready; then it serves from outside, as user 10001.
    let started = std::time::Instant::now();
    while !Command::new("podman")
        .args(["healthcheck", "run", &name])
        .output()
        .unwrap()
        .status
        .success()
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "not healthy within 60 s: {}",
            podman(&["logs", &name])
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let (status, body) = http_get(&addr, "/readyz", None);
    assert_eq!(status, 200, "{body}");
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []});
    let (_, answer) = common::post(addr.parse().unwrap(), call.to_string().as_bytes());
    assert!(answer.contains("\"0x7a69\""), "{answer}");
    assert_eq!(
        podman(&["top", &name, "huser"]).lines().nth(1),
        Some("10001")
    );

    // Step 4: SIGTERM (`podman stop`) drains, flushes and exits 0.
    podman(&["stop", "-t", "30", &name]);
    let code = podman(&["inspect", "--format", "{{.State.ExitCode}}", &name]);
    assert_eq!(code, "0", "{}", podman(&["logs", &name]));
    drop(cleanup);
}

/// `deploy/docker-compose.yml` as it is, run by podman-compose (1.1 or later: `pip
/// install podman-compose`) on the image: `init`, then four validators that find each
/// other by service name, finalise blocks together and stop with exit code 0. It
/// publishes fixed host ports (8545–8548, 9001–9004), which must be free, and tags the
/// image as the compose file names it.
///
/// ```sh
/// MOLT_STATIC_BIN=target/x86_64-unknown-linux-gnu/dist/molt \
///   cargo test -p molt-host --test deploy -- --ignored the_compose
/// ```
#[test]
#[ignore = "needs podman, podman-compose and the static release build (run with --ignored, MOLT_STATIC_BIN set)"]
fn the_compose_network_finalises_blocks_in_containers() {
    let project = format!("molt-compose-test-{}", std::process::id());
    let file = repo().join("deploy/docker-compose.yml");
    let compose = |args: &[&str]| {
        let out = Command::new("podman-compose")
            .arg("-p")
            .arg(&project)
            .arg("-f")
            .arg(&file)
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "podman-compose {args:?}: {err}");
    };
    let _down = ComposeDown(project.clone(), file.clone());

    // Step 1: the image the compose file names, then `init` writes the four nodes.
    let compose_file: Yaml = serde_yaml::from_str(&read("deploy/docker-compose.yml")).unwrap();
    let image = compose_file["x-node"]["image"].as_str().unwrap();
    build_image(image);
    compose(&["--profile", "init", "run", "--rm", "init"]);

    // Step 2: four validators; each is ready, serves metrics, and sees three peers.
    compose(&["up", "-d"]);
    let started = std::time::Instant::now();
    let within = |what: &str, done: &dyn Fn() -> bool| {
        while !done() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(120),
                "{what}: not within 120 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    };
    let rpc = |i: u16| format!("127.0.0.1:{}", 8545 + i);
    let metric = |i: u16, name: &str| -> Option<f64> {
        let addr: std::net::SocketAddr = format!("127.0.0.1:{}", 9001 + i).parse().unwrap();
        std::net::TcpStream::connect(addr).ok()?;
        let (_, text) = http_get(&addr.to_string(), "/metrics", None);
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
    };
    for i in 0..4 {
        within(&format!("node{i} ready"), &|| {
            std::net::TcpStream::connect(rpc(i)).is_ok()
                && http_get(&rpc(i), "/readyz", None).0 == 200
        });
        within(&format!("node{i}'s three peers"), &|| {
            metric(i, "malachitebft_core_consensus_connected_peers") == Some(3.0)
        });
    }

    // Step 3: every validator finalises the same blocks.
    within("height 5 on every node", &|| {
        (0..4).all(|i| metric(i, "molt_bft_height").is_some_and(|h| h >= 5.0))
    });
    let block = json!({"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": ["0x4", false]});
    let hashes: BTreeSet<String> = (0..4)
        .map(|i| {
            let (_, answer) = common::post(rpc(i).parse().unwrap(), block.to_string().as_bytes());
            let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
            answer["result"]["hash"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(hashes.len(), 1, "{hashes:?}");

    // Step 4: SIGTERM to all four: each drains, flushes and exits 0.
    compose(&["stop"]);
    for i in 0..4 {
        let container = format!("{project}_node{i}_1");
        let code = podman(&["inspect", "--format", "{{.State.ExitCode}}", &container]);
        assert_eq!(code, "0", "{container}: {}", podman(&["logs", &container]));
    }
}

/// Takes a compose project down with its volumes, whatever the outcome.
struct ComposeDown(String, PathBuf);

impl Drop for ComposeDown {
    fn drop(&mut self) {
        let _ = Command::new("podman-compose")
            .arg("-p")
            .arg(&self.0)
            .arg("-f")
            .arg(&self.1)
            .args(["down", "-v"])
            .output();
    }
}

/// Runs podman; its standard output. Panics with its error output if it fails.
fn podman(args: &[&str]) -> String {
    let out = Command::new("podman").args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "podman {args:?}: {err}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Builds the image as `tag` from the Dockerfile's final stage verbatim, its build
/// stage replaced by one that hands over what the real one does (`/out/molt`,
/// `/out/data`) from the static binary built outside (`MOLT_STATIC_BIN`, a path from
/// the workspace root): the base image of the build stage is not reachable everywhere.
/// The binary's path.
fn build_image(tag: &str) -> PathBuf {
    let bin = repo()
        .join(std::env::var("MOLT_STATIC_BIN").expect("MOLT_STATIC_BIN names the static build"));
    let ctx = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(ctx.path().join("out/data")).unwrap();
    std::fs::copy(&bin, ctx.path().join("out/molt")).unwrap();
    let dockerfile = read("Dockerfile");
    let last = dockerfile
        .rfind("\nFROM scratch")
        .expect("a final FROM scratch stage");
    let stage = &dockerfile[last + 1..];
    assert!(!stage[1..].contains("\nFROM "), "one final stage");
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!("FROM scratch AS build\nCOPY out /out\n\n{stage}"),
    )
    .unwrap();
    // `--format docker`: the OCI format has no HEALTHCHECK.
    let context = ctx.path().to_str().unwrap();
    podman(&["build", "--format", "docker", "-t", tag, context]);
    bin
}

/// Removes the test's container, image and volume, whatever the outcome.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for args in [
            &["rm", "-f", &self.0][..],
            &["volume", "rm", "-f", &self.0],
            &["rmi", "-f", &self.0],
        ] {
            let _ = Command::new("podman").args(args).output();
        }
    }
}
