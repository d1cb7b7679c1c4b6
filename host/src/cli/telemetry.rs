//! `--otlp.endpoint URL`: OpenTelemetry traces of the node's work, exported over
//! OTLP/HTTP (protobuf) to `URL/v1/traces` by a batch processor on a thread of its own.
//!
//! The spans are the `tracing` spans the node opens — `http.request` (with the trace id
//! as a field, so log lines carry it), `router`, `guest` (slot, module, version),
//! `chain_query` — bridged by `tracing-opentelemetry`. The exporter's HTTP client is a
//! plain blocking HTTP/1.1 POST ([`PlainHttp`]): collectors on a node's network speak
//! plain HTTP, and it keeps TLS stacks and another HTTP client out of the binary.

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::Context;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;

/// How long one export may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The exporter; dropping it flushes the spans not yet sent.
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("flushing traces: {e}");
        }
    }
}

/// A `tracing` layer exporting spans to the OTLP/HTTP collector at `endpoint`
/// (`http://collector:4318`; `/v1/traces` is appended unless the URL ends with it).
pub fn layer<S>(
    endpoint: &str,
) -> anyhow::Result<(
    tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>,
    Telemetry,
)>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    if !endpoint.starts_with("http://") {
        anyhow::bail!("--otlp.endpoint {endpoint}: only http:// collectors are supported");
    }
    let base = endpoint.trim_end_matches('/');
    let url = match base.ends_with("/v1/traces") {
        true => base.to_string(),
        false => format!("{base}/v1/traces"),
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(PlainHttp)
        .with_endpoint(url)
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .context("building the OTLP exporter")?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name("molt")
        .build();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build();
    let tracer = provider.tracer("molt");
    Ok((
        tracing_opentelemetry::layer().with_tracer(tracer),
        Telemetry { provider },
    ))
}

/// A blocking HTTP/1.1 client for `http://` URLs: one connection per export.
#[derive(Debug)]
pub struct PlainHttp;

#[async_trait::async_trait]
impl HttpClient for PlainHttp {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let uri = request.uri().clone();
        let host = uri.host().ok_or("the collector URL has no host")?;
        let port = uri.port_u16().unwrap_or(80);
        let addr = (host, port)
            .to_socket_addrs()?
            .next()
            .ok_or("the collector's host has no address")?;
        let mut stream = TcpStream::connect_timeout(&addr, EXPORT_TIMEOUT)?;
        stream.set_read_timeout(Some(EXPORT_TIMEOUT))?;
        stream.set_write_timeout(Some(EXPORT_TIMEOUT))?;
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let mut head = format!(
            "{} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: {}\r\nConnection: close\r\n",
            request.method(),
            request.body().len()
        );
        for (name, value) in request.headers() {
            if let Ok(value) = value.to_str() {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        stream.write_all(request.body())?;
        let (status, body) = crate::http::read_response(&mut stream)?;
        Ok(Response::builder().status(status).body(Bytes::from(body))?)
    }
}
