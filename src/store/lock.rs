//! The store-wide lock: an advisory lock on `.attune-pack/lock`, held for the whole command:
//! exclusive for a command that changes the store, shared for one that only reads it, so
//! readers never see a change half made and never wait for each other.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, IoContext, Result};
use crate::util::interrupt::Interrupt;

/// Holds the lock until dropped (the OS releases it with the file descriptor, also on crash).
#[derive(Debug)]
pub struct LockFile {
    _file: File,
}

/// Which lock to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Exclusive,
    /// Read-only: the lock file is opened, never created.
    Shared,
}

const POLL: Duration = Duration::from_millis(100);

/// Takes the lock at `path`; when another process holds it, calls `on_wait` once (so the user
/// hears why nothing happens) and retries until `timeout`.
pub fn acquire(
    path: &Path,
    mode: Mode,
    timeout: Duration,
    on_wait: &dyn Fn(&Path),
    interrupt: &Interrupt,
) -> Result<LockFile> {
    let file = match mode {
        Mode::Exclusive => OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path),
        Mode::Shared => OpenOptions::new().read(true).open(path),
    }
    .ctx(|| format!("opening lock file {}", path.display()))?;
    let start = Instant::now();
    let mut told = false;
    loop {
        let tried = match mode {
            Mode::Exclusive => file.try_lock(),
            Mode::Shared => file.try_lock_shared(),
        };
        match tried {
            Ok(()) => return Ok(LockFile { _file: file }),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => {
                return Err(Error::io(format!("locking {}", path.display()), e))
            }
        }
        interrupt.check()?;
        if !told {
            on_wait(path);
            told = true;
        }
        if start.elapsed() >= timeout {
            return Err(Error::Locked {
                path: PathBuf::from(path),
                secs: timeout.as_secs(),
            });
        }
        std::thread::sleep(
            POLL.min(timeout.saturating_sub(start.elapsed()))
                .max(Duration::from_millis(1)),
        );
    }
}
