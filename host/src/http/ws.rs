//! JSON-RPC over WebSocket on the HTTP port (as anvil and geth `--ws` serve it): a
//! `GET` with `Upgrade: websocket` becomes a socket whose text (or binary) messages
//! are request bodies, answered in order by the handler's [`Session`], and on which
//! the session may push messages of its own at any time (subscription
//! notifications) through its [`Notifier`].
//!
//! The socket never waits on a slow client inside the node: what the session pushes
//! goes through a bounded queue ([`NOTIFY_QUEUE`]) and [`Notifier::send`] answers
//! `false` when it is full, for the session to drop what it was sending.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONNECTION, HeaderValue, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, UPGRADE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Message, Role, WebSocketConfig};

use super::{RpcHandler, Tasks, json_error, stopped};

/// Messages a session may have queued for its socket before [`Notifier::send`]
/// refuses more.
pub const NOTIFY_QUEUE: usize = 4096;

/// Answers the messages of one WebSocket connection; dropped when it closes.
pub trait Session: Send + Sync + 'static {
    /// The answer to one message (a JSON-RPC request body); empty for none.
    fn message(&self, body: &[u8]) -> Vec<u8>;
}

/// Sends messages of a session's own on its socket.
#[derive(Clone, Debug)]
pub struct Notifier(mpsc::Sender<String>);

impl Notifier {
    /// Queues `message`; `false` if the socket is closed or its queue is full (a
    /// client that does not read).
    pub fn send(&self, message: String) -> bool {
        self.0.try_send(message).is_ok()
    }

    /// Whether the socket is gone.
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }

    /// A notifier and the receiving end of its queue (for tests of sessions).
    pub fn channel(capacity: usize) -> (Notifier, mpsc::Receiver<String>) {
        let (tx, rx) = mpsc::channel(capacity);
        (Notifier(tx), rx)
    }
}

/// Whether `req` asks to become a WebSocket.
pub(super) fn is_upgrade(req: &Request<Incoming>) -> bool {
    req.headers()
        .get(UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Answers a WebSocket handshake and serves the socket on a task of `tasks` once
/// hyper hands over the connection.
pub(super) fn upgrade(
    mut req: Request<Incoming>,
    handler: Arc<dyn RpcHandler>,
    max_message: usize,
    tasks: &Tasks,
    shutdown: watch::Receiver<bool>,
) -> Response<Full<Bytes>> {
    let Some(key) = req.headers().get(SEC_WEBSOCKET_KEY) else {
        return json_error(StatusCode::BAD_REQUEST, -32600, "missing Sec-WebSocket-Key");
    };
    let accept = derive_accept_key(key.as_bytes());
    let (notifier, notes) = Notifier::channel(NOTIFY_QUEUE);
    let Some(session) = handler.session(notifier) else {
        return json_error(
            StatusCode::BAD_REQUEST,
            -32600,
            "WebSocket is not served here",
        );
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    tasks.spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let config = WebSocketConfig::default()
                    .max_message_size(Some(max_message))
                    .max_frame_size(Some(max_message));
                let socket = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(config),
                )
                .await;
                serve(socket, session, notes, shutdown).await;
            }
            Err(e) => tracing::debug!(target: "molt::http", "WebSocket upgrade failed: {e}"),
        }
    });
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = response.headers_mut();
    h.insert(UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&accept) {
        h.insert(SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}

/// Answers each message in order and forwards the session's own, until the client
/// closes the socket or the server stops.
async fn serve<S>(
    socket: WebSocketStream<S>,
    session: Arc<dyn Session>,
    mut notes: mpsc::Receiver<String>,
    shutdown: watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut sink, mut stream) = socket.split();
    let stop = stopped(shutdown);
    tokio::pin!(stop);
    loop {
        let out = tokio::select! {
            _ = &mut stop => break,
            message = stream.next() => {
                let body = match message {
                    Some(Ok(Message::Text(t))) => Bytes::from(t),
                    Some(Ok(Message::Binary(b))) => b,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                    // Pings are answered by the socket itself.
                    Some(Ok(_)) => continue,
                };
                let session = session.clone();
                match tokio::task::spawn_blocking(move || session.message(&body)).await {
                    Ok(out) if out.is_empty() => continue,
                    Ok(out) => String::from_utf8_lossy(&out).into_owned(),
                    Err(_) => String::from_utf8_lossy(&super::error_body(-32603, "internal error"))
                        .into_owned(),
                }
            }
            Some(note) = notes.recv() => note,
        };
        if sink.send(Message::text(out)).await.is_err() {
            break;
        }
    }
    let _ = sink.close().await;
}
