//! Staging directories: where a command fetches, extracts and tests a pack before the store
//! is locked for its commit. Each holds a lock of its own (`.live`) for as long as its command
//! runs, so that another command's tidying removes only those whose command is gone.

use std::collections::BTreeSet;
use std::fs::{self, File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::error::{IoContext, Result};

use crate::fs::fsutil::remove_any;

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
        OWN.lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(dir.path().to_owned());
        // Locked before it is named `.live`: a `.live` is never seen unlocked while its
        // command runs.
        let locking = dir.path().join(".live-new");
        let live = File::create(&locking).ctx(what)?;
        live.try_lock().map_err(io_error).ctx(what)?;
        fs::rename(&locking, dir.path().join(LIVE)).ctx(what)?;
        Ok(Staging { dir, _live: live })
    }

    /// The directory (removed with everything in it when this is dropped).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Leaves the directory behind with its lock released, as a crashed command would.
    #[cfg(test)]
    pub(super) fn abandon(self) -> PathBuf {
        let path = self.dir.path().to_owned();
        self._live.unlock().unwrap();
        OWN.lock().unwrap().remove(&path);
        std::mem::forget(self);
        path
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        OWN.lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(self.dir.path());
    }
}

const LIVE: &str = ".live";

/// This process's own staging directories: never swept by it, whatever its lock says (on
/// NFS, `flock` is emulated with per-process locks, which a process always obtains again).
static OWN: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

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
        crate::util::failpoint::hit("trash.purge")
            .ctx(|| format!("removing {}", path.display()))?;
        remove_any(&path)?;
    }
    Ok(())
}

/// Whether the command that made `dir` may still be using it: this process's own, one whose
/// `.live` is locked, and one without `.live` yet that is too young to tell.
fn is_live(dir: &Path) -> bool {
    if OWN.lock().unwrap_or_else(|e| e.into_inner()).contains(dir) {
        return true;
    }
    match File::open(dir.join(LIVE)) {
        // When this process can take the lock, its command is gone.
        Ok(file) => matches!(file.try_lock(), Err(TryLockError::WouldBlock)),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_staging_of_commands_that_are_gone_is_swept() {
        let root = tempfile::tempdir().unwrap();
        let live = Staging::create(root.path()).unwrap();
        // A command killed once its lock was named: swept.
        let dead = Staging::create(root.path()).unwrap().abandon();
        // One being made (no `.live` yet) is left alone while it is young.
        let making = root.path().join("stage-making");
        fs::create_dir(&making).unwrap();
        sweep(root.path()).unwrap();
        assert!(live.path().is_dir());
        assert!(!dead.exists());
        assert!(making.is_dir());
    }
}
