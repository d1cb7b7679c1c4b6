//! `molt probe URL`: GET a probe and exit 0 on a 2xx answer, 1 otherwise — the health
//! check of an image that holds nothing but `molt` (no shell, no curl).

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;

#[derive(Debug, Args)]
pub(super) struct ProbeArgs {
    /// What to GET, `http://HOST:PORT/PATH` (e.g. `http://127.0.0.1:8545/readyz`).
    url: String,
    /// How long to wait for the answer.
    #[arg(long, default_value = "5s", value_parser = super::dev::parse_duration)]
    timeout: Duration,
}

pub(super) fn run(args: ProbeArgs) -> anyhow::Result<ExitCode> {
    let Some(rest) = args.url.strip_prefix("http://") else {
        bail!("{}: only http:// URLs can be probed", args.url);
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let addr = authority
        .to_socket_addrs()
        .with_context(|| format!("{authority} is not HOST:PORT"))?
        .next()
        .with_context(|| format!("{authority} has no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, args.timeout)
        .with_context(|| format!("connecting to {authority}"))?;
    stream.set_read_timeout(Some(args.timeout))?;
    stream.set_write_timeout(Some(args.timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )?;
    let (status, body) = crate::http::read_response(&mut stream).context("not an HTTP answer")?;
    println!("{status} {}", String::from_utf8_lossy(&body).trim());
    Ok(if (200..300).contains(&status) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
