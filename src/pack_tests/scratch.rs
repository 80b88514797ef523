//! The scratch copy a pack's tests run in: files (with their modes), directories and symlinks
//! of the staged pack, copied as they are (the staged tree was checked when it was written).

use std::fs;
use std::path::Path;

use crate::error::{IoContext, Result};

/// Copies the tree at `from` to `to` (which must not exist).
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir(to).ctx(|| format!("creating {}", to.display()))?;
    for entry in walkdir::WalkDir::new(from).min_depth(1).follow_links(false) {
        let entry = entry.map_err(|e| {
            let at = e
                .path()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            crate::error::Error::io(
                format!("reading {at}"),
                e.into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("file system loop")),
            )
        })?;
        let rel = entry.path().strip_prefix(from).unwrap_or(entry.path());
        let dest = to.join(rel);
        let kind = entry.file_type();
        if kind.is_dir() {
            fs::create_dir(&dest)
        } else if kind.is_symlink() {
            fs::read_link(entry.path()).and_then(|target| symlink(&target, &dest))
        } else {
            fs::copy(entry.path(), &dest).map(drop)
        }
        .ctx(|| format!("copying {} for the pack's tests", rel.display()))?;
    }
    Ok(())
}

#[cfg(unix)]
fn symlink(target: &Path, at: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, at)
}

#[cfg(not(unix))]
fn symlink(_target: &Path, _at: &Path) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "symlinks in packs are only supported on Unix",
    ))
}
