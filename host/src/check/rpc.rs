//! Ethereum JSON-RPC requests an rpc module under check answers on the fixture
//! chain: every answer must be JSON-RPC 2.0 — the request's `id`, a `result` or an
//! `error` with an integer `code` and a string `message`, a batch answered by an
//! array — and is compared with what the built-in `rpc-eth` answers (a difference is
//! a warning: a module may serve methods differently, or not at all).

use serde_json::{Value, json};

use molt_runtime::RpcEngine;

use super::fixture::Fixture;
use super::{Outcome, Report};

/// The requests, made of the fixture's accounts, contract and transactions.
pub fn requests(f: &Fixture) -> Vec<Value> {
    let [a, b] = f.accounts;
    let one = |id: Value, method: &str, params: Value| json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    vec![
        one(json!(1), "eth_chainId", json!([])),
        one(json!("a string id"), "eth_blockNumber", json!([])),
        one(json!(3), "eth_getBlockByNumber", json!(["latest", false])),
        one(json!(4), "eth_getBalance", json!([b, "latest"])),
        one(json!(5), "eth_getTransactionCount", json!([a, "latest"])),
        one(json!(6), "eth_getCode", json!([f.logger, "latest"])),
        one(
            json!(7),
            "eth_getStorageAt",
            json!([f.logger, "0x0", "latest"]),
        ),
        one(json!(8), "eth_getTransactionReceipt", json!([f.log_tx])),
        one(
            json!(9),
            "eth_getTransactionReceipt",
            json!([f.reverted_tx]),
        ),
        one(
            json!(10),
            "eth_getLogs",
            json!([{"fromBlock": "0x0", "toBlock": "latest"}]),
        ),
        one(
            json!(11),
            "eth_call",
            json!([{"from": a, "to": f.logger}, "latest"]),
        ),
        one(
            json!(12),
            "eth_estimateGas",
            json!([{"from": a, "to": b, "value": "0x1"}]),
        ),
        json!([
            {"jsonrpc": "2.0", "id": 13, "method": "eth_gasPrice"},
            {"jsonrpc": "2.0", "id": 14, "method": "eth_syncing"},
        ]),
        one(json!(15), "molt_noSuchMethod", json!([])),
    ]
}

/// Sends each request to `candidate` and to the built-in module; reports the shape of
/// every answer and which answers differ.
pub fn run(report: &mut Report, f: &Fixture, candidate: &RpcEngine) {
    let before = report.findings.len();
    let mut differ = Vec::new();
    let mut answered = 0;
    for request in requests(f) {
        let body = request.to_string();
        let name = method_names(&request);
        let answer = match candidate.call(&f.view, body.as_bytes()) {
            Ok((out, _)) => out,
            Err(e) => {
                report.fail("json-rpc", format!("{name}: the call failed: {e}"));
                continue;
            }
        };
        let answer: Value = match serde_json::from_slice(&answer) {
            Ok(v) => v,
            Err(e) => {
                report.fail("json-rpc", format!("{name}: the answer is not JSON: {e}"));
                continue;
            }
        };
        if let Err(why) = well_formed(&request, &answer) {
            report.fail("json-rpc", format!("{name}: {why}: {answer}"));
            continue;
        }
        if name == "molt_noSuchMethod" {
            match answer["error"]["code"].as_i64() {
                Some(-32601) => {}
                Some(code) => report.warn(
                    "json-rpc",
                    format!("an unknown method answered code {code}, not -32601"),
                ),
                None => report.fail("json-rpc", "an unknown method answered a result"),
            }
        }
        answered += 1;
        let builtin = f
            .node
            .rpc
            .call(&f.view, body.as_bytes())
            .ok()
            .and_then(|(out, _)| serde_json::from_slice::<Value>(&out).ok());
        if builtin.as_ref() != Some(&answer) {
            differ.push(name);
        }
    }
    let not_json = b"{\"jsonrpc\":\"2.0\",\"id\":1,";
    match candidate.call(&f.view, not_json) {
        Ok((out, _)) => match serde_json::from_slice::<Value>(&out) {
            Ok(v) if v["error"]["code"] == -32700 && v["id"].is_null() => answered += 1,
            Ok(v) => report.warn(
                "json-rpc",
                format!("a body that is not JSON answered {v}, not error -32700 with id null"),
            ),
            Err(_) => report.fail(
                "json-rpc",
                "a body that is not JSON: the answer is not JSON",
            ),
        },
        Err(e) => report.fail("json-rpc", format!("a body that is not JSON failed: {e}")),
    }
    if !report.findings[before..]
        .iter()
        .any(|f| f.outcome == Outcome::Fail)
    {
        report.pass(
            "json-rpc",
            format!(
                "{answered} sample requests answered as JSON-RPC 2.0 (ids, results, errors, a \
                 batch, a body that is not JSON)"
            ),
        );
    }
    match (differ.is_empty(), answered) {
        (_, 0) => {}
        (true, _) => report.pass("json-rpc", "every answer is the built-in rpc-eth's"),
        (false, _) => report.warn(
            "json-rpc",
            format!(
                "answers differ from the built-in rpc-eth's: {}",
                differ.join(", ")
            ),
        ),
    }
}

/// The method of a request, or of each in a batch.
fn method_names(request: &Value) -> String {
    match request {
        Value::Array(calls) => calls.iter().map(method_names).collect::<Vec<_>>().join("+"),
        v => v["method"].as_str().unwrap_or("?").to_string(),
    }
}

/// Whether `answer` is a JSON-RPC 2.0 answer to `request`.
fn well_formed(request: &Value, answer: &Value) -> Result<(), String> {
    match (request, answer) {
        (Value::Array(calls), Value::Array(answers)) => {
            if calls.len() != answers.len() {
                return Err(format!(
                    "a batch of {} answered with {}",
                    calls.len(),
                    answers.len()
                ));
            }
            for call in calls {
                let mine = answers.iter().find(|a| a.get("id") == call.get("id"));
                match mine {
                    Some(a) => well_formed(call, a)?,
                    None => return Err(format!("no answer with id {} in the batch", call["id"])),
                }
            }
            Ok(())
        }
        (Value::Array(_), _) => Err("a batch answered with something else than an array".into()),
        (_, Value::Object(o)) => {
            if o.get("jsonrpc") != Some(&json!("2.0")) {
                return Err("no \"jsonrpc\": \"2.0\"".into());
            }
            if o.get("id") != request.get("id") {
                return Err(format!(
                    "id {} answered with id {:?}",
                    request["id"],
                    o.get("id")
                ));
            }
            match (o.get("result"), o.get("error")) {
                (Some(_), None) => Ok(()),
                (None, Some(e)) if e["code"].is_i64() && e["message"].is_string() => Ok(()),
                (None, Some(_)) => Err("an error without an integer code and a message".into()),
                _ => Err("not exactly one of result and error".into()),
            }
        }
        _ => Err("not a JSON object".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_judged_as_json_rpc() {
        let request = json!({"jsonrpc": "2.0", "id": 7, "method": "eth_chainId"});
        let ok = json!({"jsonrpc": "2.0", "id": 7, "result": "0x1"});
        assert_eq!(well_formed(&request, &ok), Ok(()));
        let wrong_id = json!({"jsonrpc": "2.0", "id": 8, "result": "0x1"});
        assert!(
            well_formed(&request, &wrong_id)
                .unwrap_err()
                .contains("id 7")
        );
        let both = json!({"jsonrpc": "2.0", "id": 7, "result": 1, "error": {}});
        assert!(well_formed(&request, &both).is_err());
        let bad_error = json!({"jsonrpc": "2.0", "id": 7, "error": {"code": "x"}});
        assert!(well_formed(&request, &bad_error).is_err());
        let batch = json!([request, {"jsonrpc": "2.0", "id": 9, "method": "x"}]);
        let answers = json!([
            {"jsonrpc": "2.0", "id": 9, "error": {"code": -32601, "message": "no"}},
            ok,
        ]);
        assert_eq!(well_formed(&batch, &answers), Ok(()));
        assert!(well_formed(&batch, &json!([ok])).is_err());
    }
}
