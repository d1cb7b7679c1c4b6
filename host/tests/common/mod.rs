//! Helpers for tests that run the real `molt` binary and talk to it like a client:
//! start `molt dev` on an ephemeral port, JSON-RPC over plain HTTP, stop it gently or
//! with SIGKILL.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A `molt dev` process.
pub struct DevNode {
    child: Option<Child>,
    /// Where it serves JSON-RPC.
    pub addr: SocketAddr,
    /// What it printed before `Listening on`.
    pub banner: String,
}

impl DevNode {
    /// Starts `molt dev --datadir DIR --http.port 0 EXTRA…` and waits until it serves.
    pub fn start(datadir: &Path, extra: &[&str]) -> DevNode {
        Self::start_with_log(datadir, extra, None)
    }

    /// Like [`start`](Self::start), the node's log (stderr) going to `log` if given.
    pub fn start_with_log(datadir: &Path, extra: &[&str], log: Option<&Path>) -> DevNode {
        let dir = datadir.to_str().unwrap();
        let args = [&["dev", "--datadir", dir, "--http.port", "0"], extra].concat();
        Self::spawn(&args, log, "warn")
    }

    /// Runs `molt ARGS…` (a command that prints `Listening on ADDR` once it serves),
    /// its log at `log_level` going to `log` if given, and waits until it serves.
    pub fn spawn(args: &[&str], log: Option<&Path>, log_level: &str) -> DevNode {
        let stderr = match log {
            // Appends: a restarted node's log follows its earlier life.
            Some(path) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .unwrap(),
            ),
            None => Stdio::inherit(),
        };
        let mut command = Command::new(env!("CARGO_BIN_EXE_molt"));
        command.args(args).env("RUST_LOG", log_level).stderr(stderr);
        Self::spawn_command(command, &format!("molt {args:?}"))
    }

    /// Runs `command` (a `molt` that prints `Listening on ADDR` once it serves, its
    /// stdout not yet redirected) and waits until it serves.
    pub fn spawn_command(mut command: Command, what: &str) -> DevNode {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {what}: {e}"));
        let mut banner = String::new();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = loop {
            let Some(Ok(line)) = lines.next() else {
                let status = child.wait().unwrap();
                panic!("{what} exited ({status}) before serving:\n{banner}");
            };
            if let Some(addr) = line.strip_prefix("Listening on ") {
                break addr.parse().unwrap();
            }
            banner.push_str(&line);
            banner.push('\n');
        };
        // Keep draining stdout so the node never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        DevNode {
            child: Some(child),
            addr,
            banner,
        }
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// One JSON-RPC call; the whole response object.
    pub fn call(&self, method: &str, params: Value) -> Value {
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let (status, body) = post(self.addr, body.to_string().as_bytes());
        assert_eq!(status, 200, "{method}: HTTP {status}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// POSTs a raw body; the response, parsed.
    pub fn call_raw(&self, body: &str) -> Value {
        let (status, body) = post(self.addr, body.as_bytes());
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    /// A JSON-RPC call that must succeed; its result.
    pub fn ok(&self, method: &str, params: Value) -> Value {
        let response = self.call(method, params);
        match response.get("result") {
            Some(r) => r.clone(),
            None => panic!("{method} failed: {response}"),
        }
    }

    /// A JSON-RPC call that must fail; its error object.
    pub fn err(&self, method: &str, params: Value) -> Value {
        let response = self.call(method, params);
        match response.get("error") {
            Some(e) => e.clone(),
            None => panic!("{method} should have failed: {response}"),
        }
    }

    /// Waits until `method(params)` returns a non-null result.
    pub fn wait_for(&self, method: &str, params: Value) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = self.ok(method, params.clone());
            if !r.is_null() {
                return r;
            }
            assert!(Instant::now() < deadline, "{method} stayed null");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(mut self) {
        let mut child = self.child.take().unwrap();
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = child.wait().unwrap();
        assert!(exit.success(), "molt dev exited with {exit}");
    }

    /// Sends `kill -SIG` (`"TERM"`, `"INT"`) and returns at once.
    pub fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        let status = Command::new("kill")
            .args([&format!("-{sig}"), &pid])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit; its exit code (`None`: killed by a signal).
    pub fn wait(mut self) -> Option<i32> {
        self.child.take().unwrap().wait().unwrap().code()
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

impl Drop for DevNode {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// POSTs `body` to `addr` and returns the status and body.
pub fn post(addr: SocketAddr, body: &[u8]) -> (u16, String) {
    try_post(addr, body).expect("the node answers")
}

/// Like [`post`], `None` if the node cannot be reached (it was killed).
pub fn try_post(addr: SocketAddr, body: &[u8]) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .ok()?;
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).ok()?;
    // A server may answer (413) before reading an oversize body, then close.
    let _ = stream.write_all(body);
    Some(read_response(&mut stream))
}

/// Reads an HTTP response to its end: status (0 if there is none) and body.
fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}

/// A POST whose head and first half of the body are sent, the rest held back: a
/// request in flight for as long as the test likes. It asks `Expect: 100-continue`
/// and waits for the `100 Continue`, so the server is known to be reading its body.
pub struct HalfSent {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl HalfSent {
    /// Starts POSTing `body` to `addr`.
    pub fn start(addr: SocketAddr, body: &[u8]) -> HalfSent {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let head = format!(
            "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let (first, rest) = body.split_at(body.len() / 2);
        stream.write_all(head.as_bytes()).unwrap();
        let mut interim = Vec::new();
        let mut byte = [0u8; 1];
        while !interim.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).unwrap();
            interim.push(byte[0]);
        }
        assert!(
            interim.starts_with(b"HTTP/1.1 100"),
            "{}",
            String::from_utf8_lossy(&interim)
        );
        stream.write_all(first).unwrap();
        stream.flush().unwrap();
        HalfSent {
            stream,
            rest: rest.to_vec(),
        }
    }

    /// Sends the rest and reads the answer: status and body.
    pub fn finish(mut self) -> (u16, String) {
        self.stream.write_all(&self.rest).unwrap();
        read_response(&mut self.stream)
    }
}

/// Waits until `addr` refuses new connections (a server that stopped accepting).
pub fn wait_until_refused(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(addr).is_ok() {
        assert!(
            Instant::now() < deadline,
            "{addr} still accepts connections"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The first dev account's key (the standard test mnemonic, index 0).
pub const KEY0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/// Dev account 0.
pub const ACCOUNT0: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
/// Dev account 1.
pub const ACCOUNT1: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

/// A hex quantity as u64.
pub fn quantity(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

/// The admin API's address, from a node's banner.
pub fn admin_addr(node: &DevNode) -> String {
    node.banner
        .lines()
        .find_map(|l| l.strip_prefix("Admin API: http://"))
        .and_then(|l| l.split_whitespace().next())
        .expect("the banner names the admin API")
        .to_string()
}

/// The metrics address (`--metrics.addr`), from a node's banner.
pub fn metrics_addr(node: &DevNode) -> String {
    node.banner
        .lines()
        .find_map(|l| {
            l.strip_prefix("Metrics:   http://")?
                .strip_suffix("/metrics")
        })
        .expect("the banner names the metrics address")
        .to_string()
}

/// `molt module ARGS… --admin ADMIN --datadir DATADIR`: whether it succeeded, and
/// what it printed (stdout, then stderr).
pub fn molt_module(args: &[&str], admin: &str, datadir: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_molt"))
        .arg("module")
        .args(args)
        .args(["--admin", admin, "--datadir", datadir.to_str().unwrap()])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// `GET path` on `addr`, with a bearer token: status and body.
pub fn http_get(addr: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}
