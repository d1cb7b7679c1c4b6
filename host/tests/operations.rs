//! Operating `molt` as an orchestrator does: probes, graceful and forced shutdown,
//! through the real binary.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use common::{DevNode, HalfSent, http_get, quantity, wait_until_refused};
use serde_json::{Value, json};

fn get_json(node: &DevNode, path: &str) -> (u16, Value) {
    let (status, body) = http_get(&node.addr.to_string(), path, None);
    (status, serde_json::from_str(&body).unwrap())
}

fn block_number_body() -> Vec<u8> {
    json!({"jsonrpc": "2.0", "id": 7, "method": "eth_blockNumber", "params": []})
        .to_string()
        .into_bytes()
}

#[test]
fn probes_answer_and_sigterm_finishes_the_requests_in_flight() {
    let dir = tempfile::tempdir().unwrap();

    // Step 1: a new dev node is alive and ready at its genesis.
    let node = DevNode::start(dir.path(), &[]);
    let (status, live) = get_json(&node, "/healthz");
    assert_eq!((status, &live["status"]), (200, &json!("ok")));
    let (status, ready) = get_json(&node, "/readyz");
    assert_eq!(status, 200, "{ready}");
    assert_eq!(
        (ready["ready"].clone(), ready["head"].clone()),
        (json!(true), json!(0))
    );

    // Step 2: a block is mined.
    node.ok("evm_mine", json!([]));
    assert_eq!(quantity(&node.ok("eth_blockNumber", json!([]))), 1);

    // Step 3: a request is in flight (half its body sent) when SIGTERM arrives.
    let in_flight = HalfSent::start(node.addr, &block_number_body());
    node.signal("TERM");

    // Step 4: the node stops accepting, and still answers the request in flight.
    wait_until_refused(node.addr);
    let (status, body) = in_flight.finish();
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["result"], "0x1");

    // Step 5: it exits 0, and a restart finds the block.
    assert_eq!(node.wait(), Some(0));
    let node = DevNode::start(dir.path(), &[]);
    assert_eq!(quantity(&node.ok("eth_blockNumber", json!([]))), 1);
    node.stop();
}

#[test]
fn a_second_signal_or_the_grace_period_ends_a_stuck_shutdown() {
    for (how, extra, expected) in [
        ("a second SIGTERM", &[][..], 130),
        ("the grace period", &["--shutdown.timeout", "300ms"][..], 1),
    ] {
        let dir = tempfile::tempdir().unwrap();
        // Step 1: a request held in flight keeps the graceful shutdown waiting.
        let node = DevNode::start(dir.path(), extra);
        let in_flight = HalfSent::start(node.addr, &block_number_body());
        node.signal("TERM");
        wait_until_refused(node.addr);

        // Step 2: the second signal (or the grace period) ends the process at once,
        // with its own exit code rather than the clean 0.
        if expected == 130 {
            node.signal("TERM");
        }
        assert_eq!(node.wait(), Some(expected), "ended by {how}");
        drop(in_flight);
    }
}

#[test]
fn json_logs_name_the_slot_module_and_version_of_each_guest_call() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("node.log");
    let datadir = dir.path().join("data");
    let datadir = datadir.to_str().unwrap();

    // Step 1: a node logging JSON, guest calls at debug.
    let node = DevNode::spawn(
        &[
            "--log.format",
            "json",
            "dev",
            "--datadir",
            datadir,
            "--http.port",
            "0",
        ],
        Some(&log),
        "info,molt::guest=debug",
    );
    let version = node
        .banner
        .lines()
        .find_map(|l| l.strip_prefix("rpc-eth "))
        .and_then(|l| l.split_whitespace().next())
        .expect("the banner lists the rpc module")
        .to_string();

    // Step 2: one JSON-RPC call through the rpc module.
    node.ok("eth_chainId", json!([]));
    node.stop();

    // Step 3: every line is a JSON object; the call's line names its guest.
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .all(|l| l["timestamp"].is_string() && l["level"].is_string())
    );
    let call = lines
        .iter()
        .find(|l| l["fields"]["message"] == "call returned" && l["span"]["slot"] == "rpc")
        .unwrap_or_else(|| panic!("no rpc call in the log:\n{text}"));
    assert_eq!(call["span"]["module"], "rpc-eth");
    assert_eq!(call["span"]["version"], version.as_str());
    assert!(call["fields"]["elapsed_us"].is_u64(), "{call}");
}

/// The value of the Prometheus sample `name{labels}` in `text`, if present.
fn sample(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
}

#[test]
fn per_module_and_chain_metrics_are_served_without_a_token_on_the_metrics_address() {
    let dir = tempfile::tempdir().unwrap();

    // Step 1: a node with a metrics address.
    let node = DevNode::start(dir.path(), &["--metrics.addr", "127.0.0.1:0"]);
    let metrics = common::metrics_addr(&node);
    let version = |name: &str| {
        node.banner
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|l| l.split_whitespace().next())
            .unwrap()
            .to_string()
    };

    // Step 2: JSON-RPC calls and a block with one transaction.
    node.ok("eth_chainId", json!([]));
    let tx = node.ok(
        "eth_sendTransaction",
        json!([{ "from": common::ACCOUNT0, "to": common::ACCOUNT1, "value": "0x1" }]),
    );
    node.wait_for("eth_getTransactionReceipt", json!([tx]));

    // Step 3: Prometheus reads per-version call counts and histograms, and the chain's.
    let (status, text) = http_get(&metrics, "/metrics", None);
    assert_eq!(status, 200, "{text}");
    let rpc = format!(
        r#"{{slot="rpc",module="rpc-eth",version="{}"}}"#,
        version("rpc-eth")
    );
    let exec = format!(
        r#"{{slot="execution",module="execution-revm",version="{}"}}"#,
        version("execution-revm")
    );
    let at_least = |name: &str, labels: &str, min: f64| {
        let key = format!("{name}{labels}");
        let v = sample(&text, &key).unwrap_or_else(|| panic!("{key} missing:\n{text}"));
        assert!(v >= min, "{key} = {v}, expected at least {min}");
    };
    at_least("molt_module_calls_total", &rpc, 3.0);
    at_least("molt_module_call_seconds_count", &rpc, 3.0);
    at_least("molt_module_instantiation_seconds_count", &rpc, 3.0);
    at_least("molt_module_peak_memory_bytes", &rpc, 65536.0);
    at_least("molt_module_calls_total", &exec, 1.0);
    at_least("molt_module_fuel_count", &exec, 1.0);
    assert!(text.contains("# TYPE molt_module_call_seconds histogram"));
    assert!(text.contains(&format!(
        "molt_module_call_seconds_bucket{{le=\"+Inf\",slot=\"rpc\",module=\"rpc-eth\",version=\"{}\"}}",
        version("rpc-eth")
    )));
    at_least("molt_chain_blocks_committed_total", "", 1.0);
    at_least("molt_chain_block_transactions_sum", "", 1.0);
    at_least("molt_chain_block_build_seconds_count", "", 1.0);
    at_least("molt_chain_state_root_seconds_count", "", 1.0);
    at_least("molt_chain_head", "", 1.0);
    assert_eq!(sample(&text, "molt_chain_pool_pending"), Some(0.0));
    at_least("molt_rpc_calls_total", "", 3.0);

    // Step 4: that address serves nothing else.
    let (status, _) = http_get(&metrics, "/readyz", None);
    assert_eq!(status, 405);
    let (_, body) = common::post(
        metrics.parse().unwrap(),
        br#"{"jsonrpc":"2.0","id":1,"method":"molt_status","params":[]}"#,
    );
    assert!(body.contains("GET /metrics only"), "{body}");
    node.stop();
}

mod otlp {
    //! A tiny OTLP/HTTP receiver: every span POSTed to `/v1/traces`, decoded.

    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{SocketAddr, TcpListener};
    use std::sync::{Arc, Mutex};

    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
    use opentelemetry_proto::tonic::trace::v1::Span;
    use prost::Message;

    pub struct Receiver {
        pub addr: SocketAddr,
        pub spans: Arc<Mutex<Vec<Span>>>,
    }

    impl Receiver {
        pub fn start() -> Receiver {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let spans = Arc::new(Mutex::new(Vec::new()));
            let kept = spans.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(mut stream) = stream else { continue };
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut length = 0;
                    let mut path = String::new();
                    loop {
                        let mut line = String::new();
                        reader.read_line(&mut line).unwrap();
                        if path.is_empty() {
                            path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap();
                        }
                        if line == "\r\n" || line.is_empty() {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    assert_eq!(path, "/v1/traces");
                    let request = ExportTraceServiceRequest::decode(&body[..]).unwrap();
                    for resource in request.resource_spans {
                        for scope in resource.scope_spans {
                            kept.lock().unwrap().extend(scope.spans);
                        }
                    }
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n",
                    );
                }
            });
            Receiver { addr, spans }
        }
    }

    /// A string attribute of `span`.
    pub fn attribute(span: &Span, key: &str) -> Option<String> {
        span.attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                Any::StringValue(s) => Some(s.clone()),
                Any::IntValue(i) => Some(i.to_string()),
                _ => None,
            })
    }
}

#[test]
fn one_eth_call_is_one_connected_trace_from_http_through_the_guests_and_chain_queries() {
    use alloy_primitives::hex;
    use std::io::{Read, Write};

    // Step 1: a collector, and a node exporting to it, logging JSON.
    let collector = otlp::Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("node.log");
    let datadir = dir.path().join("data");
    let endpoint = format!("http://{}", collector.addr);
    let node = DevNode::spawn(
        &[
            "--otlp.endpoint",
            &endpoint,
            "--log.format",
            "json",
            "dev",
            "--datadir",
            datadir.to_str().unwrap(),
            "--http.port",
            "0",
        ],
        Some(&log),
        "info,molt::guest=debug",
    );

    // Step 2: one eth_call, and one request that carries a client's `traceparent`;
    // stopping the node flushes its spans.
    node.ok(
        "eth_call",
        json!([{ "from": common::ACCOUNT0, "to": common::ACCOUNT1, "data": "0x" }, "latest"]),
    );
    let (client_trace, client_span) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#;
    let mut stream = std::net::TcpStream::connect(node.addr).unwrap();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         traceparent: 00-{client_trace}-{client_span}-01\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.contains("0x7a69"), "{answer}");
    node.stop();
    let spans = collector.spans.lock().unwrap().clone();

    // Step 3: the request's trace holds the router, the rpc guest, its chain queries
    // and, under one of them, the execution guest — each linked to its parent.
    let request = spans
        .iter()
        .find(|s| s.name == "http.request" && hex::encode(&s.trace_id) != client_trace)
        .unwrap_or_else(|| panic!("no http.request span in {spans:?}"));
    let trace: Vec<_> = spans
        .iter()
        .filter(|s| s.trace_id == request.trace_id)
        .collect();
    let parent_of = |s: &opentelemetry_proto::tonic::trace::v1::Span| {
        trace
            .iter()
            .find(|p| p.span_id == s.parent_span_id)
            .copied()
    };
    let named = |name: &'static str| trace.iter().filter(move |s| s.name == name).copied();
    let router = named("router").next().expect("a router span");
    assert_eq!(parent_of(router).map(|p| &p.name), Some(&request.name));
    let rpc = named("guest")
        .find(|s| otlp::attribute(s, "slot").as_deref() == Some("rpc"))
        .expect("the rpc guest's span");
    assert_eq!(parent_of(rpc).map(|p| p.name.as_str()), Some("router"));
    assert_eq!(otlp::attribute(rpc, "module").as_deref(), Some("rpc-eth"));
    let queries: Vec<_> = named("chain_query").collect();
    assert!(!queries.is_empty(), "no chain_query spans");
    assert!(
        queries
            .iter()
            .all(|q| parent_of(q).map(|p| p.span_id.clone()) == Some(rpc.span_id.clone()))
    );
    let execution = named("guest")
        .find(|s| otlp::attribute(s, "slot").as_deref() == Some("execution"))
        .expect("the execution guest's span");
    assert_eq!(
        parent_of(execution).map(|p| p.name.as_str()),
        Some("chain_query")
    );
    assert_eq!(
        otlp::attribute(execution, "entry").as_deref(),
        Some("molt_execute_call")
    );

    // The request with a `traceparent` continues the client's trace, under its span.
    let continued = spans
        .iter()
        .find(|s| s.name == "http.request" && hex::encode(&s.trace_id) == client_trace)
        .expect("the client's trace continued");
    assert_eq!(hex::encode(&continued.parent_span_id), client_span);

    // Step 4: the trace id reaches the log lines written during the request.
    let trace_id = hex::encode(&request.trace_id);
    let text = std::fs::read_to_string(&log).unwrap();
    let tagged = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["spans"][0]["trace_id"] == trace_id.as_str())
        .count();
    assert!(tagged >= 2, "no log line carries trace {trace_id}:\n{text}");
}
