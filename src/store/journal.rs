//! The journal of the one multi-step change in progress: an append-only file whose first line
//! is the plan (what the change will do, with the identity of every directory it moves) and
//! whose next lines announce each step before it is taken. Every line is synced before the
//! step it announces, so after a crash the journal says at least as much as happened; a torn
//! last line announced a step that was never taken and is ignored.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{IoContext, Result};
use crate::fs::fsutil::{sync_dir, Durability};
use crate::model::history::Action;
use crate::model::pack_ref::PackRef;
use crate::model::receipt::Receipt;
use crate::util::failpoint;

use super::envs::EnvLink;
use super::kept::KeptRecord;

/// Which directory a path holds, whatever it is called now: renames keep it, so recovery can
/// tell the old and the new version apart without trusting where they are expected to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct TreeId {
    dev: u64,
    ino: u64,
}

impl TreeId {
    /// The identity of what is at `path` (never following a link), if anything is.
    pub fn of(path: &Path) -> io::Result<Option<TreeId>> {
        match fs::symlink_metadata(path) {
            Ok(meta) => Ok(Some(TreeId::from_meta(&meta))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    #[cfg(unix)]
    fn from_meta(meta: &fs::Metadata) -> TreeId {
        use std::os::unix::fs::MetadataExt;
        TreeId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }

    #[cfg(not(unix))]
    fn from_meta(meta: &fs::Metadata) -> TreeId {
        let nanos = meta
            .created()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as u64);
        TreeId { dev: 0, ino: nanos }
    }
}

/// What a change will do. Written before its first step.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(super) enum Plan {
    Install(Box<InstallPlan>),
    Uninstall(Box<UninstallPlan>),
    Rollback(Box<RollbackPlan>),
    Set(Box<SetPlan>),
}

/// Several changes committed as one (see `set.rs`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SetPlan {
    pub installs: Vec<InstallPlan>,
    pub removals: Vec<UninstallPlan>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct InstallPlan {
    pub pack_ref: PackRef,
    /// An install or an update, as the history records it.
    #[serde(default = "install")]
    pub action: Action,
    /// The staged tree that becomes `PACKS_DIR/REF`.
    pub new: TreeId,
    pub receipt: Receipt,
    /// The active version it replaces, and where it is kept.
    pub old: Option<OldTree>,
    /// `receipts/REF.json` before the change (restored as it was by an undo).
    pub previous_receipt: Option<Receipt>,
    pub keep_versions: usize,
    /// The switch of its Python environment's link, if any.
    #[serde(default)]
    pub env: Option<EnvLink>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct OldTree {
    pub id: TreeId,
    /// Its name under `versions/REF/`.
    pub kept: String,
    /// What `versions/REF/KEPT.json` will say.
    pub record: KeptRecord,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct UninstallPlan {
    pub pack_ref: PackRef,
    /// The active directory, if there is one (a receipt may be all that is left).
    pub id: Option<TreeId>,
    /// Its name under `trash/` once it is moved out of place.
    pub detached: String,
    pub previous_receipt: Option<Receipt>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct RollbackPlan {
    pub pack_ref: PackRef,
    /// The active version, and where it is kept once displaced.
    pub displaced: OldTree,
    /// The name under `versions/REF/` of the kept version that comes back.
    pub restored: String,
    pub restored_id: TreeId,
    /// Its record (written back by an undo).
    pub restored_record: KeptRecord,
    /// Its receipt once active.
    pub receipt: Receipt,
    /// `receipts/REF.json` before the change.
    pub previous_receipt: Option<Receipt>,
    pub keep_versions: usize,
    /// The switch of its Python environment's link, if any.
    #[serde(default)]
    pub env: Option<EnvLink>,
}

fn install() -> Action {
    Action::Install
}

/// A step, announced before it is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Step {
    /// The active version moves to `versions/`.
    Displace,
    /// The staged tree becomes the active version.
    Activate,
    /// The Python environment's link follows it (see `envs.rs`).
    Environment,
    /// The receipts are written: the commit point of an install.
    Receipts,
    /// The active version moves to `trash/` (uninstall).
    Detach,
    /// The receipt and kept versions go (uninstall): its commit point.
    Forget,
    /// Every change of a set is in place: the set's commit point.
    Commit,
    /// The change failed before its commit point and is being undone.
    Undo,
    /// The history has the change's lines (its outcome): recovery must not write them again.
    Recorded,
}

#[derive(Serialize, Deserialize)]
struct StepLine {
    step: Step,
}

/// A journal being written by this process.
pub(super) struct Journal {
    file: File,
    path: PathBuf,
    durability: Durability,
}

impl Journal {
    /// Creates the journal with its plan. Fails if one exists: recovery removes it first.
    pub fn create(path: &Path, plan: &Plan, durability: Durability) -> Result<Journal> {
        let mut line = serde_json::to_vec(plan)
            .map_err(|e| crate::error::Error::Internal(format!("serializing the journal: {e}")))?;
        line.push(b'\n');
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(path)
            .ctx(|| format!("creating the journal {}", path.display()))?;
        let mut journal = Journal {
            file,
            path: path.to_owned(),
            durability,
        };
        let written = failpoint::hit("journal.create")
            .and_then(|_| journal.file.write_all(&line))
            .and_then(|_| journal.flush())
            .ctx(|| format!("writing the journal {}", path.display()));
        if let Err(e) = written {
            // No step was announced: the partial journal means nothing.
            let _ = fs::remove_file(path);
            return Err(e);
        }
        if let Some(dir) = path.parent() {
            sync_dir(dir, durability)?;
        }
        Ok(journal)
    }

    /// Announces `step`; it may be taken once this returns.
    pub fn step(&mut self, step: Step) -> Result<()> {
        write_step(&mut self.file, &self.path, step, self.durability)
    }

    fn flush(&self) -> io::Result<()> {
        match self.durability {
            Durability::Sync => self.file.sync_data(),
            Durability::NoSync => Ok(()),
        }
    }

    /// The change is over (done or undone).
    pub fn remove(self) -> Result<()> {
        remove(&self.path, self.durability)
    }
}

/// Appends `step` to the journal an earlier command left (recovery's own steps).
pub(super) fn append(path: &Path, step: Step, durability: Durability) -> Result<()> {
    let mut file = OpenOptions::new()
        .append(true)
        .open(path)
        .ctx(|| format!("opening the journal {}", path.display()))?;
    write_step(&mut file, path, step, durability)
}

/// One step line, written whole and synced before the step is taken.
fn write_step(file: &mut File, path: &Path, step: Step, durability: Durability) -> Result<()> {
    let mut line = serde_json::to_vec(&StepLine { step })
        .map_err(|e| crate::error::Error::Internal(e.to_string()))?;
    line.push(b'\n');
    failpoint::hit("journal.append")
        .and_then(|_| file.write_all(&line))
        .and_then(|_| match durability {
            Durability::Sync => file.sync_data(),
            Durability::NoSync => Ok(()),
        })
        .ctx(|| format!("writing the journal {}", path.display()))
}

/// Removes a finished journal.
pub(super) fn remove(path: &Path, durability: Durability) -> Result<()> {
    failpoint::hit("journal.remove")
        .and_then(|_| match fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        })
        .ctx(|| format!("removing the journal {}", path.display()))?;
    match path.parent() {
        Some(dir) => sync_dir(dir, durability),
        None => Ok(()),
    }
}

/// A journal left by an earlier command.
pub(super) enum Found {
    /// Its plan line is incomplete: the change never took a step.
    Torn,
    Plan {
        plan: Plan,
        steps: Vec<Step>,
    },
}

/// Reads the journal at `path`, if there is one.
pub(super) fn read(path: &Path) -> Result<Option<Found>> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(crate::error::Error::io(
                format!("reading {}", path.display()),
                e,
            ))
        }
    };
    // Only complete lines count: a line is written (and synced) whole before its step.
    let mut lines = bytes
        .split_inclusive(|b| *b == b'\n')
        .filter(|l| l.ends_with(b"\n"));
    let Some(plan) = lines
        .next()
        .and_then(|l| serde_json::from_slice::<Plan>(l).ok())
    else {
        return Ok(Some(Found::Torn));
    };
    let steps = lines
        .filter_map(|l| serde_json::from_slice::<StepLine>(l).ok())
        .map(|l| l.step)
        .collect();
    Ok(Some(Found::Plan { plan, steps }))
}
