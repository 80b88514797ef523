//! The two changes the store makes, each journaled step by step:
//!
//! - **install**: the active version moves to `versions/` (displace), the staged tree takes
//!   its place (activate), the Python environment's link follows it (environment, see
//!   `envs.rs`), then the kept record and the new receipt are written (receipts): the commit
//!   point. Before it, a failure undoes everything (the link included); after it, a failure
//!   (removing the journal, pruning old versions) is a warning, because the new version is in
//!   place.
//! - **uninstall**: the active version moves to `trash/` in one rename (detach), then the
//!   receipt and the kept versions go (forget): the commit point; its environments go after.
//!
//! Recovery (a later command, after a crash) runs the same code: it finishes a change whose
//! new state is in place on disk (identified by directory identity, see [`TreeId`]) unless
//! the journal says an undo had begun, and undoes it otherwise. Both directions are
//! idempotent and safe to interrupt.

use std::fs;
use std::path::Path;
use std::slice;

use crate::error::{Error, Result};
use crate::fs::fsutil::{remove_any, rename, sync_dir, write_atomic};
use crate::model::pack_ref::PackRef;
use crate::model::receipt::Receipt;

use super::journal::{InstallPlan, Journal, OldTree, Plan, Step, TreeId, UninstallPlan};
use super::kept::KeptRecord;
use super::{to_json, unique_name, LockedStore};
use crate::model::history::{Action, Outcome, Record};

/// What a committed install did.
#[derive(Debug, Clone)]
pub struct Committed {
    /// Tidying that failed after the commit point; the install stands.
    pub warnings: Vec<String>,
}

/// What an uninstall did.
#[derive(Debug, Clone)]
pub struct Uninstalled {
    /// The version that was active, if a pack directory was there.
    pub version: Option<String>,
    /// Tidying that failed after the pack was removed; the removal stands.
    pub warnings: Vec<String>,
}

impl LockedStore {
    /// Makes `staged` (a pack root inside a staging dir) the active version of the receipt's
    /// pack (recorded in the history as `action`: an install or an update; `origin` goes to
    /// the private record of sources, see `private.rs`, and `listing`, the text of the
    /// receipt's content checksum, to `listing.rs`); the previous active version is kept for
    /// rollback, the receipt written last.
    /// `Ok` means the new version is active with its receipt; `Err` means the previous state
    /// is back (or, if even that failed, the journal makes the next command restore it).
    pub fn commit(
        &self,
        staged: &Path,
        receipt: &Receipt,
        listing: &[u8],
        keep_versions: usize,
        action: Action,
        origin: serde_json::Value,
    ) -> Result<Committed> {
        // Unreadable, it fails the plan just below, which records that.
        let from = self.receipt(&receipt.pack_ref).ok().flatten();
        let mut record = Record::of_install(action, receipt, from.map(|r| r.version.to_string()));
        let plan = self
            .install_plan(action, staged, receipt, keep_versions)
            .and_then(|plan| {
                self.remember_source(&receipt.pack_ref, &receipt.checksum.content, origin)?;
                self.record_listing(&receipt.pack_ref, &receipt.checksum.content, listing)?;
                Ok(plan)
            })
            .map_err(|e| self.failed(slice::from_mut(&mut record), e))?;
        let mut journal = Journal::create(
            &self.layout.journal(),
            &Plan::Install(Box::new(plan.clone())),
            self.durability,
        )
        .map_err(|e| self.failed(slice::from_mut(&mut record), e))?;
        if let Err(e) = self.apply_install(&mut journal, &plan, staged) {
            let undo = |s: &Self| s.undo_install(&plan).map(drop);
            return Err(self.abandon(journal, slice::from_mut(&mut record), e, undo));
        }
        let warnings = self.conclude(journal, &[record], &[(&plan.pack_ref, keep_versions)]);
        Ok(Committed { warnings })
    }

    pub(super) fn install_plan(
        &self,
        action: Action,
        staged: &Path,
        receipt: &Receipt,
        keep_versions: usize,
    ) -> Result<InstallPlan> {
        let pack_ref = &receipt.pack_ref;
        let active = self.layout.active(pack_ref);
        let new = TreeId::of(staged)
            .map_err(|e| Error::io(format!("reading {}", staged.display()), e))?
            .ok_or_else(|| {
                Error::Internal(format!("{} vanished before the commit", staged.display()))
            })?;
        let previous_receipt = self.receipt(pack_ref)?;
        let old = match TreeId::of(&active)
            .map_err(|e| Error::io(format!("reading {}", active.display()), e))?
        {
            None => None,
            Some(id) => {
                let mut kept_receipt = match &previous_receipt {
                    Some(r) => r.clone(),
                    None => self.placed_by_hand(pack_ref)?,
                };
                let (kept, kept_seq) = self.next_kept(&kept_receipt)?;
                kept_receipt.path = self.layout.versions(pack_ref).join(&kept);
                Some(OldTree {
                    id,
                    kept,
                    record: KeptRecord {
                        receipt: kept_receipt,
                        kept_seq,
                        replaced_at: crate::model::receipt::now_rfc3339(),
                    },
                })
            }
        };
        Ok(InstallPlan {
            pack_ref: pack_ref.clone(),
            action,
            new,
            receipt: receipt.clone(),
            old,
            previous_receipt,
            keep_versions,
            env: self.env_link(receipt)?,
        })
    }

    /// A receipt for an active pack that has none (placed there by hand), so that its kept
    /// version can be listed and rolled back to like any other.
    pub(super) fn placed_by_hand(&self, pack_ref: &PackRef) -> Result<Receipt> {
        let dir = self.layout.active(pack_ref);
        let manifest = crate::pack::manifest::Manifest::load(&dir.join("pack.yaml")).ok();
        Ok(Receipt {
            pack_ref: pack_ref.clone(),
            // A pack.yaml that cannot be read has no version: a pre-release that says so.
            version: manifest.as_ref().map_or_else(
                || semver::Version::parse("0.0.0-unknown").expect("a valid version"),
                |m| m.version.clone(),
            ),
            stackstorm_version: manifest.as_ref().and_then(|m| m.stackstorm_version.clone()),
            label: manifest.map_or_else(|| pack_ref.to_string(), |m| m.label),
            path: dir.clone(),
            installed_at: crate::model::receipt::now(),
            requirement: None,
            source: Default::default(),
            checksum: crate::model::receipt::ReceiptChecksums {
                archive: None,
                content: crate::integrity::hashing::directory_checksum(&dir)?,
            },
            tests: Default::default(),
            dependencies: Vec::new(),
            env: Default::default(),
        })
    }

    pub(super) fn apply_install(
        &self,
        journal: &mut Journal,
        plan: &InstallPlan,
        staged: &Path,
    ) -> Result<()> {
        let active = self.layout.active(&plan.pack_ref);
        if let Some(old) = &plan.old {
            let versions = self.layout.versions(&plan.pack_ref);
            fs::create_dir_all(&versions)
                .map_err(|e| Error::io(format!("creating {}", versions.display()), e))?;
            sync_dir(&self.layout.meta.join("versions"), self.durability)?;
            journal.step(Step::Displace)?;
            rename(
                &active,
                &versions.join(&old.kept),
                self.durability,
                "commit.displace",
            )?;
        }
        journal.step(Step::Activate)?;
        rename(staged, &active, self.durability, "commit.activate")?;
        if let Some(env) = &plan.env {
            journal.step(Step::Environment)?;
            self.set_env_link(env, env.new.as_deref())?;
        }
        journal.step(Step::Receipts)?;
        self.finish_install(plan).map(drop)
    }

    /// Rolls an install forward once its new version is active: its environment's link, the
    /// kept record and the new receipt. Returns whether anything had to be written.
    pub(super) fn finish_install(&self, plan: &InstallPlan) -> Result<bool> {
        let mut changed = match &plan.env {
            Some(env) => self.set_env_link(env, env.new.as_deref())?,
            None => false,
        };
        if let Some(old) = &plan.old {
            let versions = self.layout.versions(&plan.pack_ref);
            if TreeId::of(&versions.join(&old.kept)).ok().flatten() == Some(old.id) {
                let record = versions.join(format!("{}.json", old.kept));
                changed |=
                    self.write_if_changed(&record, &to_json(&old.record)?, "commit.kept_receipt")?;
            }
        }
        let receipt = self.layout.receipt(&plan.pack_ref);
        changed |= self.write_if_changed(&receipt, &to_json(&plan.receipt)?, "commit.receipt")?;
        Ok(changed)
    }

    /// Puts the store back as it was before an install: the new version out of place, the
    /// old one back, the receipt and the environment's link as they were. Returns whether anything had to change.
    pub(super) fn undo_install(&self, plan: &InstallPlan) -> Result<bool> {
        let active = self.layout.active(&plan.pack_ref);
        let mut changed = false;
        if self.id_of(&active)? == Some(plan.new) {
            self.to_trash(&active, "undone")?;
            changed = true;
        }
        let mut previous = plan.previous_receipt.as_ref();
        if let Some(old) = &plan.old {
            match self.restore_old(plan, old)? {
                Some(restored) => changed |= restored,
                // Gone from both places (removed by hand?): nothing to restore, and its
                // receipt must not describe a pack that is not there.
                None => previous = None,
            }
        }
        changed |= self.restore_receipt(&plan.pack_ref, previous)?;
        if let Some(env) = &plan.env {
            changed |= self.set_env_link(env, env.old.as_deref())?;
        }
        Ok(changed)
    }

    /// The displaced version back in place, its kept record gone; whether anything changed,
    /// or `None` when it is neither in place nor where it was kept.
    fn restore_old(&self, plan: &InstallPlan, old: &OldTree) -> Result<Option<bool>> {
        let active = self.layout.active(&plan.pack_ref);
        let versions = self.layout.versions(&plan.pack_ref);
        let kept = versions.join(&old.kept);
        let mut changed = false;
        if self.id_of(&active)? != Some(old.id) {
            if self.id_of(&kept)? != Some(old.id) {
                return Ok(None);
            }
            rename(&kept, &active, self.durability, "undo.rename")?;
            changed = true;
        }
        let record = versions.join(format!("{}.json", old.kept));
        changed |= self.remove_record(&record, "undo.receipt")?;
        Ok(Some(changed))
    }

    /// Removes the record (a receipt, a kept version's record) at `path` if it is there, and
    /// makes that durable; returns whether it was there.
    pub(super) fn remove_record(&self, path: &Path, point: &'static str) -> Result<bool> {
        if !path.exists() {
            return Ok(false);
        }
        crate::util::failpoint::hit(point)
            .map_err(|e| Error::io(format!("removing {}", path.display()), e))?;
        remove_any(path)?;
        if let Some(dir) = path.parent() {
            sync_dir(dir, self.durability)?;
        }
        Ok(true)
    }

    /// `receipts/REF.json` as it was before a change: `previous`, or none.
    pub(super) fn restore_receipt(
        &self,
        pack_ref: &PackRef,
        previous: Option<&Receipt>,
    ) -> Result<bool> {
        let path = self.layout.receipt(pack_ref);
        match previous {
            Some(r) => self.write_if_changed(&path, &to_json(r)?, "undo.receipt"),
            None => self.remove_record(&path, "undo.receipt"),
        }
    }

    /// Removes a pack: its active version (moved out of place with one rename first), kept
    /// versions and receipt. The caller checks that it is installed.
    pub fn uninstall(&self, pack_ref: &PackRef) -> Result<Uninstalled> {
        let active = self.layout.active(pack_ref);
        let previous_receipt = self.receipt(pack_ref)?;
        let id = self.id_of(&active)?;
        let version = id.map(|_| {
            previous_receipt
                .as_ref()
                .map_or_else(|| "unknown".to_owned(), |r| r.version.to_string())
        });
        let plan = UninstallPlan {
            pack_ref: pack_ref.clone(),
            id,
            detached: unique_name("uninstalled"),
            previous_receipt,
        };
        let mut record = Record::now(Action::Uninstall, pack_ref.clone(), Outcome::Ok);
        record.from = version.clone();
        let mut journal = Journal::create(
            &self.layout.journal(),
            &Plan::Uninstall(Box::new(plan.clone())),
            self.durability,
        )
        .map_err(|e| self.failed(slice::from_mut(&mut record), e))?;
        if let Err(e) = self.apply_uninstall(&mut journal, &plan) {
            let undo = |s: &Self| s.undo_uninstall(&plan).map(drop);
            return Err(self.abandon(journal, slice::from_mut(&mut record), e, undo));
        }
        let warnings = self.conclude(journal, &[record], &[]);
        Ok(Uninstalled { version, warnings })
    }

    pub(super) fn apply_uninstall(
        &self,
        journal: &mut Journal,
        plan: &UninstallPlan,
    ) -> Result<()> {
        self.detach(journal, plan)?;
        journal.step(Step::Forget)?;
        self.finish_uninstall(plan).map(drop)
    }

    /// Moves the pack out of place, into `trash/` (one rename): the step of an uninstall
    /// that can be undone.
    pub(super) fn detach(&self, journal: &mut Journal, plan: &UninstallPlan) -> Result<()> {
        if plan.id.is_none() {
            return Ok(());
        }
        journal.step(Step::Detach)?;
        let to = self.layout.trash().join(&plan.detached);
        rename(
            &self.layout.active(&plan.pack_ref),
            &to,
            self.durability,
            "uninstall.detach",
        )
    }

    /// Rolls an uninstall forward once the pack is out of place: its receipt and kept
    /// versions go. Returns whether anything had to change.
    pub(super) fn finish_uninstall(&self, plan: &UninstallPlan) -> Result<bool> {
        let changed = self.restore_receipt(&plan.pack_ref, None)?;
        Ok(self.forget_kept(plan)? || changed)
    }

    /// The part of an uninstall no undo can take back: the kept versions and the listings
    /// (to `trash/`) and the private record of sources.
    pub(super) fn forget_kept(&self, plan: &UninstallPlan) -> Result<bool> {
        let mut changed = self.forget_sources(&plan.pack_ref)?;
        changed |= self.forget_envs(&plan.pack_ref)?;
        let versions = self.layout.versions(&plan.pack_ref);
        if versions.exists() {
            crate::util::failpoint::hit("uninstall.versions")
                .map_err(|e| Error::io(format!("removing {}", versions.display()), e))?;
            self.to_trash(&versions, "uninstalled-versions")?;
            changed = true;
        }
        // Last: a failure before it is undone, and the receipt it puts back needs its listing.
        Ok(self.forget_listings(&plan.pack_ref)? || changed)
    }

    /// Puts an uninstalled pack back: its directory in place, its receipt as it was.
    pub(super) fn undo_uninstall(&self, plan: &UninstallPlan) -> Result<bool> {
        let active = self.layout.active(&plan.pack_ref);
        let detached = self.layout.trash().join(&plan.detached);
        let mut changed = false;
        if let Some(id) = plan.id {
            if self.id_of(&active)? != Some(id) && self.id_of(&detached)? == Some(id) {
                rename(&detached, &active, self.durability, "undo.rename")?;
                changed = true;
            }
        }
        changed |= self.restore_receipt(&plan.pack_ref, plan.previous_receipt.as_ref())?;
        Ok(changed)
    }

    /// Records the changes of `records` as failed with `e`, and passes `e` on.
    pub(super) fn failed(&self, records: &mut [Record], e: Error) -> Error {
        for record in records.iter_mut() {
            record.outcome = Outcome::Failed;
            record.error = Some(e.code().to_owned());
            let _ = self.record(record);
        }
        e
    }

    /// A change failed before its commit point: record the failure, announce the undo (so
    /// that a later recovery continues it rather than finishing the change) and that the
    /// history has it, undo, and end the journal. If the undo fails too, the journal stays
    /// for the next command's recovery.
    pub(super) fn abandon(
        &self,
        mut journal: Journal,
        records: &mut [Record],
        e: Error,
        undo: impl FnOnce(&Self) -> Result<()>,
    ) -> Error {
        let e = self.failed(records, e);
        let _ = journal
            .step(Step::Undo)
            .and_then(|_| journal.step(Step::Recorded));
        if undo(self).is_ok() {
            let _ = journal.remove();
        }
        e
    }

    /// After the commit point: the history lines (then a journal step saying they are
    /// written, so a recovery after a crash here writes them once), the journal ended, the
    /// trash emptied and the packs' old versions beyond a number dropped (`prune`). Their
    /// failures leave the change in place and are reported as warnings; the next command's
    /// recovery finishes the tidying.
    pub(super) fn conclude(
        &self,
        mut journal: Journal,
        records: &[Record],
        prune: &[(&PackRef, usize)],
    ) -> Vec<String> {
        let mut warnings: Vec<String> = records.iter().filter_map(|r| self.record(r)).collect();
        let _ = journal.step(Step::Recorded);
        if let Err(e) = journal.remove() {
            warnings.push(format!("the change is complete, but the journal could not be removed ({e}); the next command removes it"));
        }
        let mut tidied = vec![self.purge_trash()];
        tidied.extend(
            prune
                .iter()
                .map(|(pack_ref, keep)| self.prune(pack_ref, *keep)),
        );
        if let Some(e) = tidied.into_iter().find_map(|r| r.err()) {
            warnings.push(format!("the change is complete, but old versions could not be removed ({e}); the next command removes them"));
        }
        warnings
    }

    pub(super) fn id_of(&self, path: &Path) -> Result<Option<TreeId>> {
        TreeId::of(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))
    }

    /// Records a new version requirement in the receipt of the active version (an update to
    /// the version installed already, with a requirement given anew). One atomic write.
    pub fn set_requirement(
        &self,
        pack_ref: &PackRef,
        requirement: Option<String>,
    ) -> Result<Receipt> {
        let mut receipt = self
            .receipt(pack_ref)?
            .ok_or_else(|| Error::NotInstalled(pack_ref.clone()))?;
        receipt.requirement = requirement;
        let path = self.layout.receipt(pack_ref);
        self.write_if_changed(&path, &to_json(&receipt)?, "commit.receipt")?;
        Ok(receipt)
    }

    /// Writes `bytes` to `path` (atomically) unless it already holds them.
    pub(super) fn write_if_changed(
        &self,
        path: &Path,
        bytes: &[u8],
        point: &'static str,
    ) -> Result<bool> {
        if fs::read(path).is_ok_and(|have| have == bytes) {
            return Ok(false);
        }
        write_atomic(path, bytes, self.durability, point)?;
        Ok(true)
    }
}
