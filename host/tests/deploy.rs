//! The deployment files — `Dockerfile`, `deploy/docker-compose.yml`,
//! `deploy/kubernetes/molt.yaml`, `deploy/grafana/molt.json` — must agree with the
//! binary: every command line they hold parses as `molt` parses it, their ports are the
//! ones the nodes `molt testnet init` writes listen on, their probes are the node's, and
//! every metric the dashboard plots is one a node serves. No container engine is
//! needed: the files are parsed, and what they run is run here directly.

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
        assert_eq!(flag(&args, "--datadir"), format!("/net/node{i}"));
        let volumes = strings(&compose["x-node"]["volumes"]);
        assert_eq!(volumes, ["net:/net"]);

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
