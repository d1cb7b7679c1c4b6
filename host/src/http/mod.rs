//! The JSON-RPC HTTP endpoint (hyper 1.x): bodies in, bodies out.
//!
//! The server knows HTTP — methods, body size limits, CORS, a bearer token — and no
//! JSON-RPC method: every accepted body goes to an [`RpcHandler`] (in the node, the
//! `rpc` guest module) and its answer goes back as the response body. The one piece of
//! JSON-RPC it writes is the error object of a request refused before any handler saw
//! it (no token, not a POST, a body too large, a handler that panicked), in the shape
//! every client parses (`error_body`). A `GET` with `Upgrade: websocket` becomes a
//! JSON-RPC WebSocket ([`ws`]) answered by the handler's [`Session`]. Each connection
//! is served on a thread of its own that runs the handler inline (up to
//! 64 connections; beyond, on a shared runtime's blocking pool), so a
//! keep-alive client's requests cost no hand-off between threads.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    CONTENT_TYPE, HeaderValue,
};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

pub mod ws;
pub use ws::{Notifier, Session};

/// Answers one request body. Called on a thread that may block; may take its time.
pub trait RpcHandler: Send + Sync + 'static {
    /// The response body for `body` (JSON in, JSON out).
    fn handle(&self, body: &[u8]) -> Vec<u8>;

    /// The response body for a POST of `body` to `path`; [`handle`](Self::handle) by
    /// default, whatever the path.
    fn post(&self, _path: &str, body: &[u8]) -> Vec<u8> {
        self.handle(body)
    }

    /// The answer to `GET path`, if the handler serves one (the admin API's
    /// `/metrics`, the probes). Called on the server's thread: keep it cheap.
    fn get(&self, _path: &str) -> Option<Page> {
        None
    }

    /// The session that answers a new WebSocket connection (`GET` with `Upgrade:
    /// websocket`), if the handler serves WebSocket; it may push messages of its own
    /// through `notifier`.
    fn session(self: Arc<Self>, notifier: Notifier) -> Option<Arc<dyn Session>> {
        let _ = notifier;
        None
    }
}

/// A handler's answer to a `GET`.
#[derive(Clone, Debug)]
pub struct Page {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

impl Page {
    /// A `200 OK` page.
    pub fn ok(content_type: &'static str, body: Vec<u8>) -> Self {
        Page {
            status: 200,
            content_type,
            body,
        }
    }
}

/// Tasks a connection started that outlive its HTTP exchange (WebSocket sockets).
#[derive(Clone, Default)]
pub(crate) struct Tasks(Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>);

impl Tasks {
    fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let handle = tokio::spawn(task);
        if let Ok(mut tasks) = self.0.lock() {
            tasks.retain(|t| !t.is_finished());
            tasks.push(handle);
        }
    }

    /// Waits for every task started so far.
    async fn join(&self) {
        let tasks = match self.0.lock() {
            Ok(mut tasks) => std::mem::take(&mut *tasks),
            Err(_) => return,
        };
        for t in tasks {
            let _ = t.await;
        }
    }
}

/// A JSON-RPC error object without an id: the answer to a body no handler answered.
pub(crate) fn error_body(code: i64, message: &str) -> Vec<u8> {
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": { "code": code, "message": message }
    })
    .to_string()
    .into_bytes()
}

/// Where and how to serve.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Address to listen on (port 0 picks a free one).
    pub addr: SocketAddr,
    /// Largest request body accepted, in bytes (geth's default: 5 MiB).
    pub max_body: usize,
    /// `Access-Control-Allow-Origin` to send, if any (e.g. `*`).
    pub cors_origin: Option<String>,
    /// If set, every request must carry `Authorization: Bearer <token>` (the admin
    /// API); others get 401.
    pub bearer_token: Option<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 8545)),
            max_body: 5 * 1024 * 1024,
            cors_origin: None,
            bearer_token: None,
        }
    }
}

/// A running server; dropping it stops it (after the requests in flight).
pub struct Server {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    shutdown: watch::Sender<bool>,
    connections: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .finish()
    }
}

impl Server {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // Connections on their own threads finish what they are answering and close.
        let _ = self.shutdown.send(true);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while self.connections.load(Ordering::Acquire) > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

/// Connections served on a thread of their own, at most; more are served by the
/// shared runtime, which hands each body to its blocking pool.
///
/// On its own thread a connection's requests run the handler inline: no hand-off
/// between threads per request (that hand-off was a fifth of the node's CPU under
/// keep-alive clients).
const MAX_CONNECTION_THREADS: usize = 64;

/// Binds `config.addr` and serves on a background thread with its own runtime.
pub fn serve(config: HttpConfig, handler: Arc<dyn RpcHandler>) -> std::io::Result<Server> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("molt-http")
        .enable_all()
        .build()?;
    let listener = runtime.block_on(TcpListener::bind(config.addr))?;
    let local_addr = listener.local_addr()?;
    let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
    let (shutdown, shutdown_rx) = watch::channel(false);
    let connections = Arc::new(AtomicUsize::new(0));
    let config = Arc::new(config);
    let counted = connections.clone();
    let thread = std::thread::Builder::new()
        .name("molt-http-accept".into())
        .spawn(move || {
            runtime.block_on(async move {
                loop {
                    let accepted = tokio::select! {
                        _ = &mut stop_rx => break,
                        accepted = listener.accept() => accepted,
                    };
                    let Ok((stream, _)) = accepted else { continue };
                    let conn = Connection {
                        handler: handler.clone(),
                        config: config.clone(),
                        shutdown: shutdown_rx.clone(),
                    };
                    if counted.load(Ordering::Acquire) >= MAX_CONNECTION_THREADS {
                        tokio::spawn(conn.serve(stream, false));
                        continue;
                    }
                    let Ok(stream) = stream.into_std() else {
                        continue;
                    };
                    counted.fetch_add(1, Ordering::AcqRel);
                    let mine = counted.clone();
                    let spawned = std::thread::Builder::new()
                        .name("molt-http-conn".into())
                        .spawn(move || {
                            conn.serve_on_this_thread(stream);
                            mine.fetch_sub(1, Ordering::AcqRel);
                        });
                    if spawned.is_err() {
                        counted.fetch_sub(1, Ordering::AcqRel);
                    }
                }
            });
        })?;
    Ok(Server {
        local_addr,
        stop: Some(stop_tx),
        thread: Some(thread),
        shutdown,
        connections,
    })
}

/// One accepted connection.
struct Connection {
    handler: Arc<dyn RpcHandler>,
    config: Arc<HttpConfig>,
    shutdown: watch::Receiver<bool>,
}

impl Connection {
    /// Serves the connection on the calling thread, the handler inline.
    fn serve_on_this_thread(self, stream: std::net::TcpStream) {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async move {
            if let Ok(stream) = tokio::net::TcpStream::from_std(stream) {
                self.serve(stream, true).await;
            }
        });
    }

    /// Serves HTTP/1 on `stream` until the client closes it or the server stops;
    /// `inline`: run the handler on this task's thread. A WebSocket it turns into is
    /// served to its end before this returns.
    async fn serve(self, stream: tokio::net::TcpStream, inline: bool) {
        let tasks = Tasks::default();
        let hand = Arc::new(Hand {
            handler: self.handler,
            config: self.config,
            tasks: tasks.clone(),
            shutdown: self.shutdown.clone(),
        });
        let service = service_fn(move |req| respond(req, hand.clone(), inline));
        let conn = http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        tokio::pin!(conn);
        tokio::select! {
            _ = conn.as_mut() => {}
            _ = stopped(self.shutdown) => {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
        }
        tasks.join().await;
    }
}

/// What answering a connection's requests needs.
struct Hand {
    handler: Arc<dyn RpcHandler>,
    config: Arc<HttpConfig>,
    tasks: Tasks,
    shutdown: watch::Receiver<bool>,
}

/// Resolves when the server stops.
async fn stopped(mut shutdown: watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow_and_update() {
            return;
        }
        if shutdown.changed().await.is_err() {
            // The server is gone without saying stop: nothing will ever say it.
            std::future::pending::<()>().await;
        }
    }
}

async fn respond(
    req: Request<Incoming>,
    hand: Arc<Hand>,
    inline: bool,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let config = &hand.config;
    let authorized = config.bearer_token.as_deref().is_none_or(|token| {
        req.headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| given.as_bytes() == token.as_bytes())
    });
    let mut response = match *req.method() {
        Method::OPTIONS => plain(StatusCode::NO_CONTENT, ""),
        _ if !authorized => json_error(StatusCode::UNAUTHORIZED, -32600, "missing or wrong token"),
        Method::GET if ws::is_upgrade(&req) => ws::upgrade(
            req,
            hand.handler.clone(),
            config.max_body,
            &hand.tasks,
            hand.shutdown.clone(),
        ),
        Method::POST => {
            let path = req.uri().path().to_owned();
            let parent = trace_parent(req.headers());
            match Limited::new(req.into_body(), config.max_body)
                .collect()
                .await
            {
                Ok(body) => {
                    let body = body.to_bytes();
                    let span = request_span(&path, parent);
                    let answered = match inline {
                        true => Ok(span.in_scope(|| hand.handler.post(&path, &body))),
                        false => {
                            let handler = hand.handler.clone();
                            tokio::task::spawn_blocking(move || {
                                span.in_scope(|| handler.post(&path, &body))
                            })
                            .await
                        }
                    };
                    match answered {
                        Ok(out) => json(StatusCode::OK, out),
                        Err(_) => {
                            json_error(StatusCode::INTERNAL_SERVER_ERROR, -32603, "internal error")
                        }
                    }
                }
                Err(_) => json_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    -32600,
                    &format!("request body larger than {} bytes", config.max_body),
                ),
            }
        }
        Method::GET => match hand.handler.get(req.uri().path()) {
            Some(page) => {
                let mut r = Response::new(Full::new(Bytes::from(page.body)));
                *r.status_mut() =
                    StatusCode::from_u16(page.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                r.headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static(page.content_type));
                r
            }
            None => json_error(StatusCode::METHOD_NOT_ALLOWED, -32600, "use POST"),
        },
        _ => json_error(StatusCode::METHOD_NOT_ALLOWED, -32600, "use POST"),
    };
    if let Some(origin) = config
        .cors_origin
        .as_deref()
        .and_then(|o| HeaderValue::from_str(o).ok())
    {
        let h = response.headers_mut();
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST, OPTIONS"),
        );
        h.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type"),
        );
    }
    Ok(response)
}

/// The trace a client's W3C `traceparent` (and `tracestate`) header says the request
/// belongs to; an empty context without one.
fn trace_parent(headers: &hyper::HeaderMap) -> opentelemetry::Context {
    use opentelemetry::propagation::TextMapPropagator as _;
    opentelemetry_sdk::propagation::TraceContextPropagator::new()
        .extract(&opentelemetry_http::HeaderExtractor(headers))
}

/// The span of one POST: a trace of its own, or a child of the client's span when it
/// sent a `traceparent`. Its `trace_id` (when traces are exported) goes into every log
/// line written under it.
fn request_span(path: &str, parent: opentelemetry::Context) -> tracing::Span {
    use opentelemetry::trace::TraceContextExt as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;

    let span = tracing::info_span!(
        target: "molt::http",
        "http.request",
        method = "POST",
        path,
        trace_id = tracing::field::Empty
    );
    if parent.span().span_context().is_valid() {
        // Only fails when traces are off (no OpenTelemetry layer): nothing to link.
        let _ = span.set_parent(parent);
    }
    let context = span.context();
    let otel = context.span();
    let trace = otel.span_context();
    if trace.is_valid() {
        span.record("trace_id", trace.trace_id().to_string());
    }
    span
}

fn plain(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r
}

fn json(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn json_error(status: StatusCode, code: i64, message: &str) -> Response<Full<Bytes>> {
    json(status, error_body(code, message))
}

#[cfg(test)]
mod tests;

/// POSTs a JSON body to `http://addr/` (one connection, closed after) and returns the
/// status and body: the `molt module` commands' client for the admin API.
pub fn post_json(
    addr: SocketAddr,
    token: Option<&str>,
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(addr)?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{auth}\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    read_response(&mut stream)
}

/// Reads an HTTP/1.1 response to the end of the stream (the request said
/// `Connection: close`): its status and body. The node's clients — `post_json`,
/// `molt probe`, the OTLP exporter — share it.
pub fn read_response(stream: &mut impl std::io::Read) -> std::io::Result<(u16, Vec<u8>)> {
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("malformed HTTP response"))?;
    let status = std::str::from_utf8(&response[..split])
        .ok()
        .and_then(|h| h.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("malformed HTTP status line"))?;
    Ok((status, response[split + 4..].to_vec()))
}
