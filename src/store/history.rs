//! `history.jsonl`: the append-only record of every change to the store, one JSON object per
//! line ([`Record`]). Appending never makes a command fail once its change has landed; a line torn by a
//! crash is skipped by readers and never glued to the next record.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::error::{IoContext, Result};
use crate::fs::fsutil::Durability;
use crate::model::history::Record;
use crate::util::failpoint;

/// Appends `record`; a failure is returned as a warning, never as an error: the change it
/// records has happened (or not) either way.
pub(super) fn record(path: &Path, record: &Record, durability: Durability) -> Option<String> {
    append(path, record, durability)
        .err()
        .map(|e| format!("could not record the change in the history: {e}"))
}

/// Appends `record` as one line (after a newline, when a crash left the last line torn).
pub(super) fn append(path: &Path, record: &Record, durability: Durability) -> Result<()> {
    let mut line = serde_json::to_vec(record)
        .map_err(|e| crate::error::Error::Internal(format!("serializing history: {e}")))?;
    line.push(b'\n');
    let mut file = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)
        .ctx(|| format!("opening {}", path.display()))?;
    let len = file
        .metadata()
        .ctx(|| format!("reading {}", path.display()))?
        .len();
    if len > 0 {
        let mut last = [0u8];
        file.seek(SeekFrom::Start(len - 1))
            .and_then(|_| file.read_exact(&mut last))
            .ctx(|| format!("reading {}", path.display()))?;
        if last[0] != b'\n' {
            line.insert(0, b'\n');
        }
    }
    failpoint::hit("history.append")
        .and_then(|_| file.write_all(&line))
        .and_then(|_| match durability {
            Durability::Sync => file.sync_data(),
            Durability::NoSync => Ok(()),
        })
        .ctx(|| format!("appending to {}", path.display()))
}

/// What `history.jsonl` holds.
#[derive(Debug, Clone, Default)]
pub struct Log {
    /// Every readable record, oldest first.
    pub records: Vec<Record>,
    /// Lines that could not be read: a line torn by a crash mid-append, or damaged.
    pub unreadable: usize,
}

/// Reads the history (none yet: an empty log).
pub fn read(path: &Path) -> Result<Log> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Log::default()),
        Err(e) => {
            return Err(crate::error::Error::io(
                format!("reading {}", path.display()),
                e,
            ))
        }
    };
    let mut log = Log::default();
    for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        match serde_json::from_slice(line) {
            Ok(r) => log.records.push(r),
            Err(_) => log.unreadable += 1,
        }
    }
    Ok(log)
}
