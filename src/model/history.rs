//! The record of changes to the store, as values: what `history.jsonl` holds, and what a
//! command's recovery finished or undid of an earlier one (reported as an event too).

use serde::{Deserialize, Serialize};

use crate::model::pack_ref::PackRef;
use crate::model::receipt::{Receipt, ReceiptChecksums, ReceiptSource};

/// What a change did to a pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A pack installed (or replaced).
    Install,
    /// A pack updated to a newer version.
    Update,
    /// A pack rolled back to the version it replaced.
    Rollback,
    /// A pack removed.
    Uninstall,
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The change landed.
    Ok,
    /// The attempt failed; the store is as it was.
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
    /// The user who ran the command (`USER`, else `LOGNAME`).
    pub user: Option<String>,
    /// Their uid.
    pub uid: Option<u32>,
    /// What the change did.
    pub action: Action,
    /// The pack it concerned.
    #[serde(rename = "ref")]
    pub pack_ref: PackRef,
    /// The version active before, if any.
    pub from: Option<String>,
    /// The version the change installs, if any.
    pub to: Option<String>,
    /// Where the version installed came from (the receipt's source object).
    pub source: Option<ReceiptSource>,
    /// Its checksums.
    pub checksum: Option<ReceiptChecksums>,
    /// How it ended.
    pub outcome: Outcome,
    /// The `error.code` of a failure.
    pub error: Option<String>,
    /// For [`Outcome::Recovered`]: whether recovery finished or undid it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<Recovery>,
}

impl Record {
    /// A record of now, by the user running this process.
    pub fn now(action: Action, pack_ref: PackRef, outcome: Outcome) -> Record {
        Record {
            time: crate::model::receipt::now_rfc3339(),
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

impl Record {
    /// A record of now of `receipt` becoming the active version (from `from`).
    pub(crate) fn of_install(action: Action, receipt: &Receipt, from: Option<String>) -> Record {
        Record {
            from,
            to: Some(receipt.version.to_string()),
            source: Some(receipt.source.clone()),
            checksum: Some(receipt.checksum.clone()),
            ..Record::now(action, receipt.pack_ref.clone(), Outcome::Ok)
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

/// A change of an earlier command that recovery finished or undid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// What the change was.
    pub action: Action,
    /// The pack it concerned.
    pub pack_ref: PackRef,
    /// Finished or undone.
    pub recovery: Recovery,
    /// The version active before the change, if any.
    pub from: Option<String>,
    /// The version the change was installing, if any.
    pub to: Option<String>,
}
