//! The registry: what survives a restart of the router: the signed package of every module deployed
//! to the node (`<datadir>/modules/<sha256>.wasm`) and, per slot, the digest of the
//! version active last (`<datadir>/modules/active-<slot>`), and every version it has
//! served (`history-<slot>`, what the verifier judges downgrades against). A restart
//! loads the active version again — through the verifier, like any deployment.

use std::path::{Path, PathBuf};

use crate::router::VersionInfo;

/// The router's files in a data directory.
#[derive(Clone, Debug)]
pub struct SlotFiles {
    dir: PathBuf,
}

impl SlotFiles {
    /// The files under `<datadir>/modules`.
    pub fn new(datadir: &Path) -> Self {
        SlotFiles {
            dir: datadir.join("modules"),
        }
    }

    /// Keeps a deployed package under its digest.
    pub fn save_package(&self, digest: &str, bytes: &[u8]) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        write_atomically(&self.dir.join(format!("{digest}.wasm")), bytes)
    }

    /// Records which version `slot` serves now, and adds it to the slot's history.
    pub fn record_active(&self, slot: &str, version: &VersionInfo) {
        // One read-modify-write of the history at a time (the request threads and the
        // admin API both record).
        static RECORDING: parking_lot::Mutex<()> = parking_lot::Mutex::new(());
        let _one = RECORDING.lock();
        let path = self.dir.join(format!("active-{slot}"));
        let mut history = self.history(slot);
        let line = |v: &VersionInfo| format!("{} {} {}\n", v.name, v.version, v.digest);
        let recorded = write_atomically(&path, version.digest.as_bytes()).and_then(|()| {
            if history.contains(version) {
                return Ok(());
            }
            history.push(version.clone());
            let text: String = history.iter().map(line).collect();
            write_atomically(&self.dir.join(format!("history-{slot}")), text.as_bytes())
        });
        if let Err(e) = recorded {
            tracing::error!(
                "could not record the active {slot} module in {}: {e}",
                self.dir.display()
            );
        }
    }

    /// Every version `slot` has served (`<datadir>/modules/history-<slot>`: one
    /// `name version digest` a line), oldest first; empty if unreadable.
    pub fn history(&self, slot: &str) -> Vec<VersionInfo> {
        let text =
            std::fs::read_to_string(self.dir.join(format!("history-{slot}"))).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let mut words = l.split(' ');
                Some(VersionInfo {
                    name: words.next()?.into(),
                    version: words.next()?.into(),
                    digest: words.next()?.into(),
                })
            })
            .collect()
    }

    /// The package `slot` served last, if one was deployed: `(digest, bytes)`.
    pub fn active(&self, slot: &str) -> std::io::Result<Option<(String, Vec<u8>)>> {
        let path = self.dir.join(format!("active-{slot}"));
        let digest = match std::fs::read_to_string(&path) {
            Ok(d) => d.trim().to_string(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        match std::fs::read(self.dir.join(format!("{digest}.wasm"))) {
            Ok(bytes) => Ok(Some((digest, bytes))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The package with this digest, as deployed.
    pub fn package(&self, digest: &str) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.dir.join(format!("{digest}.wasm")))
    }
}

/// Writes `bytes` to a temporary file of this write's own, syncs it and renames it
/// over `path`: readers see the old content or the new, never a mix, and two writers
/// (a canary promoted on a request thread, a deploy on the admin's) never share a
/// temporary file.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::sync::atomic::{AtomicU64, Ordering};
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    let tmp = path.with_extension(format!("{}-{n}.tmp", std::process::id()));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}
