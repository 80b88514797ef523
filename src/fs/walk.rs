//! The one walk of a directory on disk, for installing it (through the path-safety writer)
//! and for its content checksum: entries in file-name order, `.git` in every spelling left
//! out, links never followed, and each file opened without following a link and without
//! blocking, so that a FIFO swapped in for a file since the walk saw it is seen as what it is.

use std::fs::File;
use std::path::Path;

use walkdir::WalkDir;

use crate::error::{Error, IoContext, Result};
use crate::util::names::is_dotgit;

/// What the walk finds, in order; `name` is relative to the root and `/`-separated.
pub(crate) trait Visit {
    /// A directory (before what is in it).
    fn dir(&mut self, name: &str) -> Result<()>;
    /// A regular file, opened, with its mode bits.
    fn file(&mut self, name: &str, mode: u32, file: &mut File) -> Result<()>;
    /// A symbolic link and its target text.
    fn symlink(&mut self, name: &str, target: &str) -> Result<()>;
    /// A FIFO, socket or device file (`kind` names which).
    fn special(&mut self, name: &str, kind: &'static str) -> Result<()>;
    /// The error for a name or link target that is not UTF-8 (shown lossily).
    fn not_utf8(&self, name: &str) -> Error;
}

/// Walks `root`, telling `visit` what is under it.
pub(crate) fn walk(root: &Path, visit: &mut dyn Visit) -> Result<()> {
    let walker = WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| !is_dotgit(&e.file_name().to_string_lossy()));
    for entry in walker {
        let entry = entry.map_err(|e| {
            let at = e
                .path()
                .map_or_else(|| root.display().to_string(), |p| p.display().to_string());
            match e.into_io_error() {
                Some(io) => Error::io(format!("reading {at}"), io),
                None => Error::Internal(format!("file system loop at {at}")),
            }
        })?;
        let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
        let Some(name) = rel
            .to_str()
            .map(|s| s.replace(std::path::MAIN_SEPARATOR, "/"))
        else {
            return Err(visit.not_utf8(&rel.to_string_lossy()));
        };
        let kind = entry.file_type();
        if kind.is_dir() {
            visit.dir(&name)?;
        } else if kind.is_symlink() {
            let target = std::fs::read_link(entry.path())
                .ctx(|| format!("reading link {}", entry.path().display()))?;
            let target = target.to_str().ok_or_else(|| visit.not_utf8(&name))?;
            visit.symlink(&name, target)?;
        } else if kind.is_file() {
            let mut file = open_no_follow(entry.path())
                .ctx(|| format!("opening {}", entry.path().display()))?;
            let meta = file
                .metadata()
                .ctx(|| format!("reading {}", entry.path().display()))?;
            if !meta.is_file() {
                visit.special(&name, special_kind(&meta.file_type()))?;
                continue;
            }
            visit.file(&name, mode_of(&meta), &mut file)?;
        } else {
            visit.special(&name, special_kind(&kind))?;
        }
    }
    Ok(())
}

/// Opens without following a link, and without blocking: a FIFO swapped in since the walk
/// saw a file would otherwise wait for a writer for ever (the caller then refuses it).
#[cfg(unix)]
fn open_no_follow(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_no_follow(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

#[cfg(unix)]
fn special_kind(ft: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_fifo() {
        "FIFO"
    } else if ft.is_socket() {
        "socket"
    } else {
        "device file"
    }
}

#[cfg(not(unix))]
fn special_kind(_ft: &std::fs::FileType) -> &'static str {
    "special file"
}

/// A file's mode bits.
#[cfg(unix)]
pub(crate) fn mode_of(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode()
}

#[cfg(not(unix))]
pub(crate) fn mode_of(_meta: &std::fs::Metadata) -> u32 {
    0o644
}

#[cfg(all(test, unix))]
mod tests {
    use std::time::Duration;

    #[test]
    fn opening_a_fifo_does_not_wait_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let opened = super::open_no_follow(&fifo).map(|f| f.metadata().unwrap().is_file());
            let _ = tx.send(opened);
        });
        // Not a timing assertion: without O_NONBLOCK the open never returns.
        let is_file = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("open blocked on a FIFO");
        assert!(!is_file.unwrap());
    }
}
