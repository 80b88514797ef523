//! Staging directories: where a command fetches, extracts and tests a pack before the store
//! is locked for its commit. Each holds a lock of its own (`.live`) for as long as its command
//! runs, so that another command's tidying removes only those whose command is gone.

use std::fs::{self, File, TryLockError};
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::error::{IoContext, Result};

use crate::fsutil::remove_any;

/// A staging directory that another command's tidying cannot remove while it exists.
#[derive(Debug)]
pub struct Staging {
    dir: tempfile::TempDir,
    /// Locked while this process lives (the OS releases it on exit, also on a crash).
    _live: File,
}

impl Staging {
    /// A fresh directory inside `root` (the store's `staging/`).
    pub(super) fn create(root: &Path) -> Result<Staging> {
        let what = || format!("creating a staging directory in {}", root.display());
        let dir = tempfile::Builder::new()
            .prefix("stage-")
            .tempdir_in(root)
            .ctx(what)?;
        let live = File::create(dir.path().join(LIVE)).ctx(what)?;
        live.try_lock().map_err(io_error).ctx(what)?;
        Ok(Staging { dir, _live: live })
    }

    /// The directory (removed with everything in it when this is dropped).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Leaves the directory behind with its lock released, as a crashed command would.
    #[cfg(test)]
    pub(super) fn abandon(self) -> std::path::PathBuf {
        self.dir.keep()
    }
}

const LIVE: &str = ".live";

/// A directory being created has no lock yet for this long: it is left alone until then.
const CREATING: Duration = Duration::from_secs(60);

fn io_error(e: TryLockError) -> std::io::Error {
    match e {
        TryLockError::Error(e) => e,
        TryLockError::WouldBlock => std::io::ErrorKind::WouldBlock.into(),
    }
}

/// Removes the staging directories in `root` whose command is no longer running.
pub(super) fn sweep(root: &Path) -> Result<()> {
    let entries = match fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(crate::error::Error::io(
                format!("reading {}", root.display()),
                e,
            ))
        }
    };
    for entry in entries {
        let path = entry.ctx(|| format!("reading {}", root.display()))?.path();
        if is_live(&path) {
            continue;
        }
        crate::failpoint::hit("trash.purge").ctx(|| format!("removing {}", path.display()))?;
        remove_any(&path)?;
    }
    Ok(())
}

/// Whether the command that made `dir` may still be using it.
fn is_live(dir: &Path) -> bool {
    match File::open(dir.join(LIVE)) {
        // Locked by its command; when this process takes the lock, its command is gone.
        Ok(file) => matches!(file.try_lock(), Err(TryLockError::WouldBlock)),
        // Not a staging directory of this kind, or one whose lock is about to be made.
        Err(_) => fs::symlink_metadata(dir)
            .and_then(|m| m.modified())
            .is_ok_and(|t| {
                dir.is_dir()
                    && SystemTime::now()
                        .duration_since(t)
                        .is_ok_and(|age| age < CREATING)
            }),
    }
}
