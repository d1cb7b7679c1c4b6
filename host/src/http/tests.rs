//! The endpoint from a client's side: real TCP, real HTTP/1.1.

use std::io::{Read, Write};
use std::net::TcpStream;

use super::*;

/// Echoes the body back, like the `echo` guest's `molt_echo` would.
struct Mirror;

impl RpcHandler for Mirror {
    fn handle(&self, body: &[u8]) -> Vec<u8> {
        body.to_vec()
    }
}

fn server(max_body: usize, cors: Option<&str>) -> Server {
    let config = HttpConfig {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        max_body,
        cors_origin: cors.map(str::to_string),
        bearer_token: None,
    };
    serve(config, Arc::new(Mirror)).unwrap()
}

/// Sends one request and returns (status line, headers + body as text).
fn send(addr: SocketAddr, method: &str, body: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{method} / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (status, rest) = response.split_once("\r\n").unwrap();
    (status.to_string(), rest.to_string())
}

#[test]
fn posts_reach_the_handler_and_its_answer_comes_back() {
    let s = server(1024, None);
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}"#;
    let (status, rest) = send(s.local_addr(), "POST", body);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        rest.to_ascii_lowercase()
            .contains("content-type: application/json")
    );
    assert!(rest.ends_with(body));
}

#[test]
fn oversize_bodies_and_other_methods_are_refused() {
    let s = server(16, None);
    let (status, rest) = send(s.local_addr(), "POST", &"x".repeat(17));
    assert_eq!(status, "HTTP/1.1 413 Payload Too Large");
    assert!(rest.contains(r#""code":-32600"#), "{rest}");
    let (status, _) = send(s.local_addr(), "GET", "");
    assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
}

#[test]
fn cors_headers_when_configured() {
    let s = server(1024, Some("*"));
    let (status, rest) = send(s.local_addr(), "OPTIONS", "");
    assert_eq!(status, "HTTP/1.1 204 No Content");
    assert!(
        rest.to_ascii_lowercase()
            .contains("access-control-allow-origin: *"),
        "{rest}"
    );
    let plain = server(1024, None);
    let (_, rest) = send(plain.local_addr(), "POST", "{}");
    assert!(
        !rest
            .to_ascii_lowercase()
            .contains("access-control-allow-origin")
    );
}

/// The `rpc` guest module as a handler: each body is one `molt_rpc_handle` call. A
/// call that fails (trap, timeout, refusal) becomes a JSON-RPC internal error.
struct GuestRpc(molt_runtime::LoadedModule);

impl RpcHandler for GuestRpc {
    fn handle(&self, body: &[u8]) -> Vec<u8> {
        match self.0.call("molt_rpc_handle", body) {
            Ok(out) => out,
            Err(e) => error_body(-32603, &format!("internal error: {e}")),
        }
    }
}

#[test]
fn the_echo_guest_answers_over_http_and_a_failing_call_is_an_rpc_error() {
    use molt_runtime::{Grants, Runtime, RuntimeConfig};
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    let echo = crate::builtin::ECHO;
    let module = rt
        .load(&echo.manifest(), &echo.wasm(), &Grants::default())
        .unwrap();
    let config = HttpConfig {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..HttpConfig::default()
    };
    let s = serve(config, Arc::new(GuestRpc(module))).unwrap();
    let (status, rest) = send(
        s.local_addr(),
        "POST",
        r#"{"jsonrpc":"2.0","id":3,"method":"web3_clientVersion"}"#,
    );
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        rest.ends_with(r#"{"jsonrpc":"2.0","id":3,"result":"molt-echo/0.1.0"}"#),
        "{rest}"
    );
    let (_, rest) = send(
        s.local_addr(),
        "POST",
        r#"{"jsonrpc":"2.0","id":4,"method":"molt_refuse"}"#,
    );
    assert!(
        rest.contains(r#""code":-32603"#) && rest.contains("refused on request"),
        "{rest}"
    );
}

/// Sends one request on an open keep-alive connection and reads its response.
fn request_on(stream: &mut TcpStream, body: &str) -> String {
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    // The mirror answers with exactly the body: read until it is there.
    while !String::from_utf8_lossy(&response).ends_with(body) {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed early");
        response.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(response).unwrap()
}

#[test]
fn more_open_connections_than_connection_threads_are_all_served() {
    let s = server(1024, None);
    let mut open: Vec<TcpStream> = (0..MAX_CONNECTION_THREADS + 8)
        .map(|_| TcpStream::connect(s.local_addr()).unwrap())
        .collect();
    for round in 0..2 {
        for (i, stream) in open.iter_mut().enumerate() {
            let body = format!(r#"{{"connection":{i},"round":{round}}}"#);
            assert!(request_on(stream, &body).starts_with("HTTP/1.1 200 OK"));
        }
    }
}

/// Answers after a pause.
struct Slow;

impl RpcHandler for Slow {
    fn handle(&self, body: &[u8]) -> Vec<u8> {
        std::thread::sleep(std::time::Duration::from_millis(300));
        body.to_vec()
    }
}

#[test]
fn a_stopping_server_answers_the_requests_in_flight_first() {
    let s = serve(
        HttpConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..HttpConfig::default()
        },
        Arc::new(Slow),
    )
    .unwrap();
    let addr = s.local_addr();
    let client = std::thread::spawn(move || send(addr, "POST", r#"{"late":true}"#));
    std::thread::sleep(std::time::Duration::from_millis(100));
    drop(s);
    let (status, rest) = client.join().unwrap();
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(rest.ends_with(r#"{"late":true}"#));
    // And then it is gone.
    assert!(TcpStream::connect(addr).is_err());
}
