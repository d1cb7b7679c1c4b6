//! A network node passes the transactions its clients submit to its peers' pools, so
//! that whichever validator proposes next can include them.
//!
//! Transactions pooled here from a client are batched and POSTed to each peer's
//! JSON-RPC server at [`RELAY_PATH`](super::rpc::RELAY_PATH); a peer pools them
//! without passing them on again (every node relays to all the others). A peer that
//! is down misses the batch: the transaction still reaches the chain when this node
//! proposes.

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use alloy_primitives::Bytes;
use molt_chain::Chain;

use super::rpc::RELAY_PATH;

/// Most transactions in one relayed batch.
const BATCH: usize = 256;
/// How long a peer may take to connect, read and answer.
const PEER_TIMEOUT: Duration = Duration::from_secs(2);

/// The relay thread; dropping it stops the thread.
pub struct Relay {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Relay {
    /// Relays what clients submit to `chain` to `peers` (their JSON-RPC addresses,
    /// `host:port`, resolved at each send so that a peer's name may move).
    pub fn start(chain: &Chain, peers: Vec<String>) -> std::io::Result<Relay> {
        let (tx, rx) = mpsc::channel::<Bytes>();
        chain.relay_to(tx);
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("molt-relay".into())
            .spawn(move || {
                loop {
                    let first = match rx.recv_timeout(Duration::from_millis(200)) {
                        Ok(raw) => raw,
                        Err(RecvTimeoutError::Timeout) if !stopped.load(Ordering::Relaxed) => {
                            continue;
                        }
                        Err(_) => return,
                    };
                    let mut batch = vec![first];
                    batch.extend(rx.try_iter().take(BATCH - 1));
                    let body = serde_json::to_vec(&batch).unwrap_or_default();
                    for peer in &peers {
                        if let Err(e) = post(peer, &body) {
                            tracing::debug!(target: "molt::relay", %peer, "relay failed: {e}");
                        }
                    }
                }
            })?;
        Ok(Relay {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// POSTs `body` to the relay path of `peer` and reads the answer.
fn post(peer: &str, body: &[u8]) -> std::io::Result<()> {
    let addr = peer.to_socket_addrs()?.next().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{peer} has no address"),
        )
    })?;
    let mut stream = TcpStream::connect_timeout(&addr, PEER_TIMEOUT)?;
    stream.set_read_timeout(Some(PEER_TIMEOUT))?;
    stream.set_write_timeout(Some(PEER_TIMEOUT))?;
    write!(
        stream,
        "POST {RELAY_PATH} HTTP/1.1\r\nHost: {peer}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    match crate::http::read_response(&mut stream)? {
        (200, _) => Ok(()),
        (status, answer) => Err(std::io::Error::other(format!(
            "{status}: {}",
            String::from_utf8_lossy(&answer[..answer.len().min(200)])
        ))),
    }
}
