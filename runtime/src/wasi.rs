//! WASI preview 1 for guests, with no ambient authority.
//!
//! A guest's WASI context has no arguments, no environment and an empty stdin. Its
//! stdout and stderr go line by line into the node log if its manifest asks for
//! `stdio` and the operator grants it (and are discarded otherwise). It gets one preopened directory, at guest path `/data`, only if
//! its manifest asks for `preopen-dir` and the operator grants a directory. Randomness
//! exists in the context, but deterministic kinds can never import the functions that
//! reach it (see `molt_abi::interface::DETERMINISTIC_WASI`). The clocks of a
//! deterministic kind are frozen: its system clock always reads the Unix epoch and its
//! monotonic clock never advances, so reading them (as Rust's `std` hash seeding does)
//! observes nothing.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use cap_std::time::{Duration, Instant, SystemTime};
use wasi_common::pipe::{ReadPipe, WritePipe};
use wasi_common::sync::{clocks_ctx, random_ctx, sched_ctx};
use wasi_common::{Table, WasiClocks, WasiCtx, WasiMonotonicClock, WasiSystemClock};

use crate::error::LoadError;

/// The guest path under which a granted directory appears.
pub const GUEST_DIR: &str = "/data";

/// What the operator lets a module have, beyond what every module gets.
#[derive(Clone, Debug, Default)]
pub struct Grants {
    /// Forward stdout/stderr of modules that ask for `stdio` into the node log.
    pub stdio: bool,
    /// A directory for a module that asks for `preopen-dir`.
    pub dir: Option<PathBuf>,
}

/// The WASI authority of one loaded module, resolved from manifest and grants.
#[derive(Clone, Debug)]
pub(crate) struct WasiPlan {
    module: Arc<str>,
    stdio: bool,
    dir: Option<Arc<Dir>>,
    frozen_clocks: bool,
}

impl WasiPlan {
    /// `frozen_clocks` for a deterministic kind.
    pub(crate) fn new(
        module: Arc<str>,
        stdio: bool,
        dir: Option<&PathBuf>,
        frozen_clocks: bool,
    ) -> Result<Self, LoadError> {
        let dir = dir
            .map(|path| {
                Dir::open_ambient_dir(path, ambient_authority()).map_err(|source| LoadError::Dir {
                    path: path.display().to_string(),
                    source,
                })
            })
            .transpose()?
            .map(Arc::new);
        Ok(WasiPlan {
            module,
            stdio,
            dir,
            frozen_clocks,
        })
    }

    /// A fresh context for one call.
    pub(crate) fn context(&self) -> Result<WasiCtx, String> {
        let clocks = match self.frozen_clocks {
            true => Frozen::clocks(),
            false => clocks_ctx(),
        };
        let ctx = WasiCtx::new(random_ctx(), clocks, sched_ctx(), Table::new());
        ctx.set_stdin(Box::new(ReadPipe::new(std::io::empty())));
        if self.stdio {
            ctx.set_stdout(Box::new(WritePipe::new(LogLines::new(
                &self.module,
                "stdout",
            ))));
            ctx.set_stderr(Box::new(WritePipe::new(LogLines::new(
                &self.module,
                "stderr",
            ))));
        }
        if let Some(dir) = &self.dir {
            let dir = dir.try_clone().map_err(|e| e.to_string())?;
            let dir = Box::new(wasi_common::sync::dir::Dir::from_cap_std(dir));
            ctx.push_preopened_dir(dir, GUEST_DIR)
                .map_err(|e| e.to_string())?;
        }
        Ok(ctx)
    }
}

/// A deterministic module's clocks: the system clock at the Unix epoch, the monotonic
/// clock at the instant the context was made.
struct Frozen(Instant);

impl Frozen {
    fn clocks() -> WasiClocks {
        let now = Instant::from_std(std::time::Instant::now());
        WasiClocks::new()
            .with_system(Frozen(now))
            .with_monotonic(Frozen(now))
    }
}

impl WasiSystemClock for Frozen {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }

    fn now(&self, _precision: Duration) -> SystemTime {
        SystemTime::from_std(std::time::UNIX_EPOCH)
    }
}

impl WasiMonotonicClock for Frozen {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }

    fn now(&self, _precision: Duration) -> Instant {
        self.0
    }
}

/// A writer that turns a guest's output stream into node log lines.
struct LogLines {
    module: Arc<str>,
    stream: &'static str,
    pending: Vec<u8>,
}

/// Longest line kept before it is flushed unfinished.
const MAX_LINE: usize = 4096;

impl LogLines {
    fn new(module: &Arc<str>, stream: &'static str) -> Self {
        LogLines {
            module: module.clone(),
            stream,
            pending: Vec::new(),
        }
    }

    fn emit(&mut self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        tracing::info!(target: "molt::guest", module = &*self.module, stream = self.stream, "{}", text.trim_end());
    }
}

impl Write for LogLines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        while let Some(nl) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=nl).collect();
            self.emit(&line);
        }
        if self.pending.len() > MAX_LINE {
            let line = std::mem::take(&mut self.pending);
            self.emit(&line);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLines {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            self.emit(&line);
        }
    }
}
