//! Small file-system helpers shared by the store, the cache and the tree writer: atomic and
//! durable writes, directory syncs, renames, and removal that never follows a link.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use crate::error::{IoContext, Result};
use crate::util::failpoint;

/// Whether data must reach the disk before the step that depends on it (config `sync`).
/// `NoSync` keeps every ordering but skips the flushes: for throwaway containers, where a
/// power loss takes the whole store anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    #[default]
    Sync,
    NoSync,
}

impl Durability {
    pub fn from_config(sync: bool) -> Self {
        if sync {
            Durability::Sync
        } else {
            Durability::NoSync
        }
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, synced, then
/// renamed over the target (and the directory synced), so readers see the old or the new
/// content, never a torn file. `point` names the step for fault injection; it is passed
/// once before the data is written and once before the rename.
pub fn write_atomic(
    path: &Path,
    bytes: &[u8],
    durability: Durability,
    point: &'static str,
) -> Result<()> {
    write_atomic_mode(path, bytes, durability, point, 0o644)
}

/// [`write_atomic`] of what `write` writes, which is never whole in memory (a large document
/// behind a small header, a form encoded as it is written).
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    durability: Durability,
    point: &'static str,
) -> Result<()> {
    write_with(path, write, durability, point, 0o644)
}

/// [`write_atomic`] of a file with permissions `mode` from the start (0600 for secrets: no
/// moment where others could read it).
pub fn write_atomic_mode(
    path: &Path,
    bytes: &[u8],
    durability: Durability,
    point: &'static str,
    mode: u32,
) -> Result<()> {
    write_with(path, |w| w.write_all(bytes), durability, point, mode)
}

fn write_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    durability: Durability,
    point: &'static str,
    mode: u32,
) -> Result<()> {
    // `index.json` has the parent "", which is the current directory.
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).ctx(|| format!("creating {}", dir.display()))?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".tmp-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut tmp = builder
        .tempfile_in(dir)
        .ctx(|| format!("creating a temporary file in {}", dir.display()))?;
    failpoint::hit(point)
        .and_then(|_| {
            let mut out = io::BufWriter::new(tmp.as_file_mut());
            write(&mut out)?;
            out.flush()
        })
        .and_then(|_| match durability {
            Durability::Sync => tmp.as_file().sync_all(),
            Durability::NoSync => Ok(()),
        })
        .ctx(|| format!("writing {}", path.display()))?;
    failpoint::hit(point).ctx(|| format!("renaming into {}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .ctx(|| format!("renaming into {}", path.display()))?;
    sync_dir(dir, durability)
}

/// `rename(from, to)`, then the directories of both synced (a rename is not durable until
/// its directories are).
pub fn rename(from: &Path, to: &Path, durability: Durability, point: &'static str) -> Result<()> {
    failpoint::hit(point)
        .and_then(|_| fs::rename(from, to))
        .ctx(|| format!("moving {} to {}", from.display(), to.display()))?;
    let (a, b) = (from.parent(), to.parent());
    if let Some(a) = a {
        sync_dir(a, durability)?;
    }
    match b {
        Some(b) if Some(b) != a => sync_dir(b, durability),
        _ => Ok(()),
    }
}

/// Makes a directory's entries (files created, renamed or removed in it) durable.
pub fn sync_dir(dir: &Path, durability: Durability) -> Result<()> {
    if durability == Durability::NoSync {
        return Ok(());
    }
    failpoint::hit("fs.sync_dir")
        .and_then(|_| fs::File::open(dir)?.sync_all())
        .ctx(|| format!("syncing directory {}", dir.display()))
}

/// Removes a file or directory tree if it exists (never following a symlink).
pub fn remove_any(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            fs::remove_dir_all(path).ctx(|| format!("removing {}", path.display()))
        }
        Ok(_) => fs::remove_file(path).ctx(|| format!("removing {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(crate::error::Error::io(
            format!("inspecting {}", path.display()),
            e,
        )),
    }
}

/// Whether something (even a dangling symlink) exists at `path`.
pub fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}
