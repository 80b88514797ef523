//! `history.jsonl`: the append-only record of every change to the store, one JSON object per
//! line. Appending never makes a command fail once its change has landed; a line torn by a
//! crash is skipped by readers and never glued to the next record.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{IoContext, Result};
use crate::failpoint;
use crate::fsutil::Durability;
use crate::pack_ref::PackRef;
use crate::receipt::{ReceiptChecksums, ReceiptSource};

/// What a change did to a pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Install,
    Update,
    Rollback,
    Uninstall,
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Failed,
    /// Finished or undone by a later command's recovery (see [`Record::recovery`]).
    Recovered,
}

/// What recovery did with a change an earlier command left unfinished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recovery {
    /// The change was finished: `to` is active.
    Completed,
    /// The change was undone: `from` is active again (or, for an install, nothing).
    Undone,
}

/// One line of `history.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// RFC 3339, UTC.
    pub time: String,
    pub user: Option<String>,
    pub uid: Option<u32>,
    pub action: Action,
    #[serde(rename = "ref")]
    pub pack_ref: PackRef,
    /// The version active before, if any.
    pub from: Option<String>,
    /// The version the change installs, if any.
    pub to: Option<String>,
    pub source: Option<ReceiptSource>,
    pub checksum: Option<ReceiptChecksums>,
    pub outcome: Outcome,
    /// The `error.code` of a failure.
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<Recovery>,
}

impl Record {
    /// A record of now, by the user running this process.
    pub fn now(action: Action, pack_ref: PackRef, outcome: Outcome) -> Record {
        Record {
            time: crate::receipt::now_rfc3339(),
            user: current_user(),
            uid: current_uid(),
            action,
            pack_ref,
            from: None,
            to: None,
            source: None,
            checksum: None,
            outcome,
            error: None,
            recovery: None,
        }
    }
}

#[cfg(unix)]
fn current_uid() -> Option<u32> {
    // SAFETY: getuid has no preconditions and cannot fail.
    Some(unsafe { libc::getuid() })
}

#[cfg(not(unix))]
fn current_uid() -> Option<u32> {
    None
}

fn current_user() -> Option<String> {
    ["USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
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

/// Every readable record, oldest first, and the number of lines that could not be read (a
/// line torn by a crash, or damaged).
pub fn read(path: &Path) -> Result<(Vec<Record>, usize)> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => {
            return Err(crate::error::Error::io(
                format!("reading {}", path.display()),
                e,
            ))
        }
    };
    let mut records = Vec::new();
    let mut bad = 0;
    for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        match serde_json::from_slice(line) {
            Ok(r) => records.push(r),
            Err(_) => bad += 1,
        }
    }
    Ok((records, bad))
}
