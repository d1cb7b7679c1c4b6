//! `GET /healthz` and `GET /readyz` on the JSON-RPC port, as Kubernetes probes expect.
//!
//! Liveness is the process answering at all. Readiness says whether the node should
//! take client traffic: its database is open and has a head (for `molt dev`, the
//! genesis it produced), its modules are loaded (the node serves only after they are),
//! a network node is within [`MAX_SYNC_LAG`] heights of the furthest peer proposal it
//! has seen, and it is not shutting down. A probe reads 200 with a JSON body, or 503
//! with the reasons.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use molt_bft::BftMetrics;
use serde_json::{Value, json};

use crate::http::Page;

/// Heights a network node may trail its peers and still be ready.
pub const MAX_SYNC_LAG: u64 = 2;

/// What the probes read.
pub struct Health {
    chain: Arc<molt_chain::Chain>,
    network: Option<Arc<BftMetrics>>,
    draining: AtomicBool,
}

impl Health {
    /// Probes for a node on `chain`, with its consensus counters if it is a validator.
    pub fn new(chain: Arc<molt_chain::Chain>, network: Option<Arc<BftMetrics>>) -> Self {
        Health {
            chain,
            network,
            draining: AtomicBool::new(false),
        }
    }

    /// From now on the node is not ready: it is shutting down.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// The answer to `GET path` if `path` is a probe: a JSON page.
    pub fn probe(&self, path: &str) -> Option<Page> {
        let (status, body) = match path {
            "/healthz" => (200, json!({ "status": "ok" })),
            "/readyz" => self.readiness(),
            _ => return None,
        };
        Some(Page {
            status,
            content_type: "application/json",
            body: body.to_string().into_bytes(),
        })
    }

    fn readiness(&self) -> (u16, Value) {
        let mut reasons = Vec::new();
        if self.draining.load(Ordering::Acquire) {
            reasons.push("shutting down".to_string());
        }
        let head = match self.chain.db().head() {
            Ok(Some(head)) => Some(head),
            Ok(None) => {
                reasons.push("no genesis yet".to_string());
                None
            }
            Err(e) => {
                reasons.push(format!("database: {e}"));
                None
            }
        };
        let lag = self.network.as_ref().map(|n| {
            if n.height.load(Ordering::Relaxed) == 0 {
                reasons.push("consensus has not started".to_string());
            }
            let lag = n.sync_lag();
            if lag > MAX_SYNC_LAG {
                reasons.push(format!(
                    "syncing: {lag} heights behind the network (ready within {MAX_SYNC_LAG})"
                ));
            }
            lag
        });
        let mut body = json!({ "ready": reasons.is_empty(), "head": head });
        if let Some(lag) = lag {
            body["syncLag"] = json!(lag);
        }
        if reasons.is_empty() {
            (200, body)
        } else {
            body["reasons"] = json!(reasons);
            (503, body)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain() -> Arc<molt_chain::Chain> {
        let db = molt_storage::Db::temporary().unwrap();
        let chain = crate::builtin::native_chain(
            db,
            molt_chain::ChainConfig::dev(),
            molt_upgrade_proxy::keys::generate(),
            &[],
        );
        Arc::new(chain.unwrap())
    }

    fn body(answer: Option<Page>) -> (u16, Value) {
        let page = answer.unwrap();
        (page.status, serde_json::from_slice(&page.body).unwrap())
    }

    #[test]
    fn draining_and_lagging_nodes_are_alive_but_not_ready() {
        let health = Health::new(chain(), None);
        assert_eq!(body(health.probe("/readyz")).0, 200);
        health.drain();
        let (status, ready) = body(health.probe("/readyz"));
        assert_eq!(
            (status, ready["reasons"][0].clone()),
            (503, json!("shutting down"))
        );
        assert_eq!(body(health.probe("/healthz")).0, 200);
        assert!(health.probe("/metrics").is_none());

        let metrics = Arc::new(BftMetrics::default());
        let health = Health::new(chain(), Some(metrics.clone()));
        assert_eq!(
            body(health.probe("/readyz")).0,
            503,
            "consensus not started"
        );
        metrics.at_height(3);
        metrics.peer_at(3 + MAX_SYNC_LAG);
        assert_eq!(body(health.probe("/readyz")).0, 200);
        metrics.peer_at(4 + MAX_SYNC_LAG);
        let (status, ready) = body(health.probe("/readyz"));
        assert_eq!((status, ready["syncLag"].clone()), (503, json!(3)));
    }
}
