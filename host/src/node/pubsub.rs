//! The rpc slot's WebSocket sessions: `eth_subscribe` and `eth_unsubscribe` (geth's
//! `newHeads`, `logs`, `newPendingTransactions`), with every other request answered
//! by the rpc module as an HTTP body is.
//!
//! A subscription belongs to its socket, so the session keeps it here, in the host;
//! what a notification says is still the module's to write: a new head is the
//! module's `eth_getBlockByNumber` without the body, a log subscription's logs are its
//! `eth_getLogs` at the new block, a full pending transaction its
//! `eth_getTransactionByHash`. A session hears the chain's events through a bounded
//! queue ([`EVENT_QUEUE`]) read by a thread of its own; a session that falls that far
//! behind loses its subscriptions (with a log line), and one whose socket stops
//! reading loses the subscription that overflowed it — block production never waits.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, Weak};

use molt_chain::{ChainEvent, Events};
use serde_json::{Value, json};

use crate::http::{Notifier, RpcHandler, Session};

/// Chain events a session may have unread before it loses its subscriptions.
pub const EVENT_QUEUE: usize = 1024;

/// Subscription ids, unique in the process.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// What a subscription reports.
#[derive(Clone, Debug)]
enum Kind {
    NewHeads,
    /// Logs that match these criteria (`address`, `topics`).
    Logs(Value),
    /// Pooled transactions: hashes, or whole transactions with `full`.
    Pending {
        full: bool,
    },
}

/// One WebSocket connection to the rpc slot.
pub struct RpcSession<H> {
    rpc: Arc<H>,
    events: Arc<Events>,
    shared: Arc<Shared>,
}

struct Shared {
    notifier: Notifier,
    subscriptions: Mutex<HashMap<u64, Kind>>,
    /// Whether a listener and its thread serve this session.
    listening: AtomicBool,
}

impl<H: RpcHandler> RpcSession<H> {
    /// A session answering with `rpc`, subscribing to `events`, pushing on
    /// `notifier`.
    pub fn new(rpc: Arc<H>, events: Arc<Events>, notifier: Notifier) -> Self {
        RpcSession {
            rpc,
            events,
            shared: Arc::new(Shared {
                notifier,
                subscriptions: Mutex::new(HashMap::new()),
                listening: AtomicBool::new(false),
            }),
        }
    }

    fn subscribe(&self, params: &[Value]) -> Result<Value, Value> {
        let kind = match params.first().and_then(Value::as_str) {
            Some("newHeads") => Kind::NewHeads,
            Some("logs") => {
                let mut criteria = match params.get(1) {
                    None | Some(Value::Null) => json!({}),
                    Some(Value::Object(o)) => Value::Object(o.clone()),
                    Some(_) => return Err(invalid_params("logs criteria must be an object")),
                };
                // Each notification covers one new block.
                if let Some(o) = criteria.as_object_mut() {
                    for key in ["fromBlock", "toBlock", "blockHash"] {
                        o.remove(key);
                    }
                }
                // The module judges the criteria as eth_getLogs would.
                let mut probe = criteria.clone();
                probe["fromBlock"] = json!("latest");
                probe["toBlock"] = json!("latest");
                call(&*self.rpc, "eth_getLogs", json!([probe]))?;
                Kind::Logs(criteria)
            }
            Some("newPendingTransactions") => Kind::Pending {
                full: params.get(1).and_then(Value::as_bool).unwrap_or(false),
            },
            Some(other) => {
                return Err(json!({
                    "code": -32601,
                    "message": format!("no \"{other}\" subscription in eth namespace"),
                }));
            }
            None => return Err(invalid_params("missing subscription name")),
        };
        self.listen();
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        lock(&self.shared.subscriptions).insert(id, kind);
        Ok(json!(format!("{id:#x}")))
    }

    fn unsubscribe(&self, params: &[Value]) -> Result<Value, Value> {
        let id = params
            .first()
            .and_then(Value::as_str)
            .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok());
        let removed = id.is_some_and(|id| lock(&self.shared.subscriptions).remove(&id).is_some());
        Ok(Value::Bool(removed))
    }

    /// Starts hearing the chain's events, if this session does not yet.
    fn listen(&self) {
        if self.shared.listening.swap(true, Ordering::AcqRel) {
            return;
        }
        let (tx, rx) = sync_channel::<ChainEvent>(EVENT_QUEUE);
        let session = Arc::downgrade(&self.shared);
        self.events.listen(Box::new(move |event| {
            if session.strong_count() == 0 {
                return false;
            }
            match tx.try_send(*event) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    tracing::warn!(
                        target: "molt::rpc",
                        "a WebSocket session is {EVENT_QUEUE} chain events behind: its \
                         subscriptions are dropped"
                    );
                    false
                }
                Err(TrySendError::Disconnected(_)) => false,
            }
        }));
        let (rpc, shared) = (self.rpc.clone(), Arc::downgrade(&self.shared));
        let spawned = std::thread::Builder::new()
            .name("molt-ws-notify".into())
            .spawn(move || notify(&*rpc, &shared, rx));
        if spawned.is_err() {
            self.shared.listening.store(false, Ordering::Release);
        }
    }
}

impl<H: RpcHandler> Session for RpcSession<H> {
    fn message(&self, body: &[u8]) -> Vec<u8> {
        // Only a body that names a subscription method is read here.
        if body.windows(9).any(|w| w == b"subscribe")
            && let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body)
        {
            let params = match request.get("params") {
                Some(Value::Array(p)) => p.as_slice(),
                _ => &[],
            };
            let answer = match request.get("method").and_then(Value::as_str) {
                Some("eth_subscribe") => Some(self.subscribe(params)),
                Some("eth_unsubscribe") => Some(self.unsubscribe(params)),
                _ => None,
            };
            if let Some(answer) = answer {
                let id = request.get("id").cloned().unwrap_or(Value::Null);
                let response = match answer {
                    Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
                    Err(error) => json!({ "jsonrpc": "2.0", "id": id, "error": error }),
                };
                return response.to_string().into_bytes();
            }
        }
        self.rpc.handle(body)
    }
}

/// The session's thread: turns each chain event into its subscriptions'
/// notifications, until the session or its listener is gone.
fn notify(rpc: &dyn RpcHandler, session: &Weak<Shared>, events: Receiver<ChainEvent>) {
    while let Ok(event) = events.recv() {
        let Some(shared) = session.upgrade() else {
            return;
        };
        if shared.notifier.is_closed() {
            return;
        }
        let subscriptions: Vec<(u64, Kind)> = lock(&shared.subscriptions)
            .iter()
            .map(|(id, kind)| (*id, kind.clone()))
            .collect();
        let mut head = None;
        for (id, kind) in subscriptions {
            let results = match (&kind, event) {
                (Kind::NewHeads, ChainEvent::Block { number, .. }) => {
                    let header = head.get_or_insert_with(|| new_head(rpc, number));
                    header.iter().cloned().collect()
                }
                (Kind::Logs(criteria), ChainEvent::Block { hash, .. }) => {
                    let mut filter = criteria.clone();
                    filter["blockHash"] = json!(hash);
                    match call(rpc, "eth_getLogs", json!([filter])) {
                        Ok(Value::Array(logs)) => logs,
                        _ => Vec::new(),
                    }
                }
                (Kind::Pending { full: false }, ChainEvent::Pending(hash)) => vec![json!(hash)],
                (Kind::Pending { full: true }, ChainEvent::Pending(hash)) => {
                    match call(rpc, "eth_getTransactionByHash", json!([hash])) {
                        Ok(Value::Null) | Err(_) => Vec::new(),
                        Ok(tx) => vec![tx],
                    }
                }
                _ => Vec::new(),
            };
            for result in results {
                let note = json!({
                    "jsonrpc": "2.0",
                    "method": "eth_subscription",
                    "params": { "subscription": format!("{id:#x}"), "result": result },
                });
                if !shared.notifier.send(note.to_string()) {
                    tracing::warn!(
                        target: "molt::rpc",
                        "a WebSocket client does not read its notifications: subscription \
                         {id:#x} is dropped"
                    );
                    lock(&shared.subscriptions).remove(&id);
                    break;
                }
            }
        }
    }
    // The listener is gone (the session fell behind): so are its subscriptions.
    if let Some(shared) = session.upgrade() {
        lock(&shared.subscriptions).clear();
        shared.listening.store(false, Ordering::Release);
    }
}

/// Block `number`'s header as `newHeads` reports it: the module's block without its
/// body.
fn new_head(rpc: &dyn RpcHandler, number: u64) -> Option<Value> {
    let mut block = call(
        rpc,
        "eth_getBlockByNumber",
        json!([format!("{number:#x}"), false]),
    )
    .ok()
    .filter(Value::is_object)?;
    if let Some(o) = block.as_object_mut() {
        for key in [
            "transactions",
            "uncles",
            "withdrawals",
            "size",
            "totalDifficulty",
        ] {
            o.remove(key);
        }
    }
    Some(block)
}

/// Calls `method` on the module; its result, or its error object.
fn call(rpc: &dyn RpcHandler, method: &str, params: Value) -> Result<Value, Value> {
    let request = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
    let out = rpc.handle(request.to_string().as_bytes());
    let mut response: Value =
        serde_json::from_slice(&out).map_err(|e| error(-32603, &format!("internal error: {e}")))?;
    match response.get_mut("error") {
        Some(error) => Err(error.take()),
        None => Ok(response
            .get_mut("result")
            .map(Value::take)
            .unwrap_or_default()),
    }
}

fn error(code: i64, message: &str) -> Value {
    json!({ "code": code, "message": message })
}

fn invalid_params(message: &str) -> Value {
    error(-32602, message)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
