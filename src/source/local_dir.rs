//! A local directory: copied entry by entry through the [`TreeWriter`], so the same link rule
//! and limits apply as for archives; `.git/` is skipped and symlinks are never followed.

use std::fs::File;
use std::path::Path;

use walkdir::WalkDir;

use crate::context::{blocking, Context};
use crate::error::{Error, IoContext, Result};
use crate::events::{Event, Phase};
use crate::hashing::mode_of;
use crate::names::is_dotgit;
use crate::receipt::{ReceiptSource, SourceKind};
use crate::safety::TreeWriter;
use crate::source::Fetched;

/// Materializes the directory at `path` through `writer`.
pub(crate) async fn materialize(ctx: &Context, path: &Path, writer: TreeWriter) -> Result<Fetched> {
    ctx.emit(Event::Phase(Phase::Extracting));
    let path = std::path::absolute(path).ctx(|| format!("resolving {}", path.display()))?;
    let record = ReceiptSource {
        kind: Some(SourceKind::LocalDirectory),
        path: Some(path.display().to_string()),
        ..Default::default()
    };
    let tree = blocking(move || {
        let mut writer = writer;
        copy_dir(&path, &mut writer)?;
        writer.finish()
    })
    .await?;
    Ok(Fetched {
        tree,
        archive: Vec::new(),
        record,
    })
}

/// Copies `src` entry by entry through `writer`.
pub fn copy_dir(src: &Path, writer: &mut TreeWriter) -> Result<()> {
    let walker = WalkDir::new(src)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !is_dotgit(&e.file_name().to_string_lossy()));
    for entry in walker {
        let entry = entry.map_err(|e| {
            let at = e
                .path()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| src.display().to_string());
            match e.into_io_error() {
                Some(io) => Error::io(format!("reading {at}"), io),
                None => Error::Internal(format!("file system loop at {at}")),
            }
        })?;
        if entry.depth() == 0 {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(src)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let Some(name) = rel
            .to_str()
            .map(|s| s.replace(std::path::MAIN_SEPARATOR, "/"))
        else {
            return Err(writer.not_utf8(&rel.to_string_lossy()));
        };
        let ft = entry.file_type();
        if ft.is_dir() {
            writer.dir(&name)?;
        } else if ft.is_symlink() {
            let target = std::fs::read_link(entry.path())
                .ctx(|| format!("reading link {}", entry.path().display()))?;
            let target = target.to_str().ok_or_else(|| writer.not_utf8(&name))?;
            writer.symlink(&name, target)?;
        } else if ft.is_file() {
            // Never follow a link: the file may have been replaced by one since the walk saw it.
            let mut file = open_no_follow(entry.path())
                .ctx(|| format!("opening {}", entry.path().display()))?;
            let meta = file
                .metadata()
                .ctx(|| format!("reading {}", entry.path().display()))?;
            if !meta.is_file() {
                return writer.special(&name, special_kind(&meta.file_type()));
            }
            writer.file(&name, mode_of(&meta), &mut file)?;
        } else {
            writer.special(&name, special_kind(&ft))?;
        }
    }
    Ok(())
}

/// Opens without following a link, and without blocking: a FIFO swapped in since the walk
/// saw a file would otherwise wait for a writer forever (the caller then refuses it).
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
