//! Compiled modules, cached by the hash of their bytes: in memory for this process,
//! and on disk so a restart does not recompile.
//!
//! On-disk layout: `<dir>/<engine fingerprint>/<sha256 of module>.cwasm`. The engine
//! fingerprint changes with wasmtime's version and the engine's settings, so an
//! incompatible artifact is never even looked at.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use wasmtime::{Engine, Module};

/// A compiled-module cache for one engine.
#[derive(Debug)]
pub struct ModuleCache {
    engine: Engine,
    dir: Option<PathBuf>,
    memory: Mutex<HashMap<[u8; 32], Module>>,
}

/// Where a module came from, for logs and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheHit {
    /// Already compiled in this process.
    Memory,
    /// Loaded from the on-disk cache.
    Disk,
    /// Compiled now.
    Compiled,
}

impl ModuleCache {
    /// A cache for `engine`, persisting under `dir` if given.
    pub fn new(engine: Engine, dir: Option<&Path>) -> Self {
        let dir = dir.map(|d| d.join(fingerprint(&engine)));
        ModuleCache {
            engine,
            dir,
            memory: Mutex::new(HashMap::new()),
        }
    }

    /// The compiled form of `bytes`, compiling only if no cache has it.
    pub fn get(&self, bytes: &[u8]) -> wasmtime::Result<(Module, CacheHit)> {
        let key: [u8; 32] = Sha256::digest(bytes).into();
        if let Some(m) = self.lock().get(&key) {
            return Ok((m.clone(), CacheHit::Memory));
        }
        let path = self
            .dir
            .as_ref()
            .map(|d| d.join(format!("{}.cwasm", hex::encode(key))));
        let from_disk = path.as_ref().filter(|p| p.exists()).and_then(|p| {
            // SAFETY: the file was written by `Module::serialize` into the node's own
            // cache directory (see `store`), which has the same trust as the node's
            // binary; wasmtime still checks its header and engine compatibility.
            match unsafe { Module::deserialize_file(&self.engine, p) } {
                Ok(m) => Some(m),
                Err(e) => {
                    tracing::warn!(path = %p.display(), "ignoring unusable cached module: {e}");
                    None
                }
            }
        });
        let (module, hit) = match from_disk {
            Some(m) => (m, CacheHit::Disk),
            None => {
                let m = Module::new(&self.engine, bytes)?;
                if let Some(p) = &path
                    && let Err(e) = store(&m, p)
                {
                    tracing::warn!(path = %p.display(), "could not cache compiled module: {e}");
                }
                (m, CacheHit::Compiled)
            }
        };
        self.lock().insert(key, module.clone());
        Ok((module, hit))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Module>> {
        // A panic while holding this lock leaves the map consistent (inserts are
        // atomic), so a poisoned lock is still usable.
        self.memory.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn fingerprint(engine: &Engine) -> String {
    let mut h = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("{:016x}", h.finish())
}

/// Writes a compiled module atomically (a temporary file of a unique name, then
/// rename). Several processes may share the directory — containers on one volume are
/// all process 1, so a name made of the pid is not enough.
fn store(module: &Module, path: &Path) -> anyhow::Result<()> {
    let dir = path.parent().ok_or_else(|| anyhow::anyhow!("no parent"))?;
    std::fs::create_dir_all(dir)?;
    let bytes = module.serialize().map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut tmp = tempfile::NamedTempFile::with_prefix_in(".compiling-", dir)?;
    tmp.write_all(&bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)?;
    Ok(())
}
