//! A lock on one directory that is built in place and may be removed by another process: an
//! advisory lock on a `NAME.lock` file beside it. The holder removes the lock file when it
//! lets go, so none is left behind; a process that locked a file just removed (it opened it
//! before the removal) sees that its file is no longer the one at the path, and tries again.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, IoContext, Result};
use crate::util::interrupt::Interrupt;

/// Held until [`release`](Self::release)d or dropped (the OS releases it with the file
/// descriptor, also when the process dies; the file then stays until the next holder).
#[derive(Debug)]
pub struct DirLock {
    file: Option<File>,
    path: PathBuf,
}

const POLL: Duration = Duration::from_millis(100);

impl DirLock {
    /// Takes the lock at `path` if no other process holds it.
    pub fn try_take(path: &Path) -> Result<Option<DirLock>> {
        loop {
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(path)
                .ctx(|| format!("opening lock file {}", path.display()))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => return Ok(None),
                Err(TryLockError::Error(e)) => {
                    return Err(Error::io(format!("locking {}", path.display()), e))
                }
            }
            if still_there(&file, path)? {
                return Ok(Some(DirLock {
                    file: Some(file),
                    path: path.to_owned(),
                }));
            }
            // Its last holder removed it after this process opened it: lock the new one.
        }
    }

    /// Takes the lock at `path`, waiting up to `timeout` for another process to let go.
    pub fn take(path: &Path, timeout: Duration, interrupt: &Interrupt) -> Result<DirLock> {
        let start = Instant::now();
        loop {
            if let Some(lock) = Self::try_take(path)? {
                return Ok(lock);
            }
            interrupt.check()?;
            if start.elapsed() >= timeout {
                return Err(Error::Locked {
                    path: path.to_owned(),
                    secs: timeout.as_secs(),
                });
            }
            std::thread::sleep(POLL);
        }
    }

    /// Lets go, removing the lock file (while still holding it, so no other process holds
    /// the file removed).
    pub fn release(mut self) {
        self.remove();
    }

    fn remove(&mut self) {
        if let Some(file) = self.file.take() {
            let _ = std::fs::remove_file(&self.path);
            drop(file);
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        self.remove();
    }
}

/// Whether the file locked is still the one at `path`.
fn still_there(file: &File, path: &Path) -> Result<bool> {
    let held = file
        .metadata()
        .ctx(|| format!("reading lock file {}", path.display()))?;
    match std::fs::metadata(path) {
        Ok(now) => Ok(now.ino() == held.ino() && now.dev() == held.dev()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(
            format!("reading lock file {}", path.display()),
            e,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_no_file_left() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("k.lock");
        let held = DirLock::try_take(&path).unwrap().expect("free");
        assert!(DirLock::try_take(&path).unwrap().is_none());
        held.release();
        assert!(!path.exists());
        let again = DirLock::try_take(&path).unwrap();
        assert!(again.is_some());
    }
}
