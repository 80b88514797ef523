//! A set of changes committed as one (`install --locked`): installs and removals of several
//! packs under one journal entry. Each install takes the steps it takes alone (see `txn.rs`),
//! each removal only what an undo can take back (the pack out of place, its receipt); the
//! set's commit point is a `commit` step written once every change is in place, after which
//! the removals drop their kept versions and sources.
//! Before it, a failure (or recovery after a crash) undoes every change, last first; after
//! it, recovery finishes every one. Undoing a change that was never started changes nothing,
//! so the set needs no record of how far it got.

use std::path::PathBuf;

use crate::error::Result;
use crate::model::history::{Action, Outcome, Record};
use crate::model::pack_ref::PackRef;
use crate::model::receipt::Receipt;

use super::journal::{Journal, Plan, SetPlan, Step, UninstallPlan};
use super::{unique_name, LockedStore};

/// One change of a set.
#[derive(Debug, Clone)]
pub enum SetChange {
    /// Makes a staged tree (a pack root inside a staging dir) active with its receipt.
    Install {
        /// The staged tree.
        staged: PathBuf,
        /// Its receipt.
        receipt: Box<Receipt>,
        /// Where it came from, unredacted (for the private record of sources).
        origin: serde_json::Value,
        /// The text of its content checksum (see `listing.rs`).
        listing: Vec<u8>,
    },
    /// Removes an installed pack.
    Remove(PackRef),
}

impl LockedStore {
    /// Commits `changes` as one: `Ok` means every one is in place; `Err` means none is (or
    /// the journal makes the next command undo them all).
    pub fn commit_set(&self, changes: &[SetChange], keep_versions: usize) -> Result<Vec<String>> {
        let mut records = Vec::new();
        let plan = self
            .set_plan(changes, keep_versions, &mut records)
            .map_err(|e| self.failed(&mut records, e))?;
        let mut journal = Journal::create(
            &self.layout.journal(),
            &Plan::Set(Box::new(plan.clone())),
            self.durability,
        )
        .map_err(|e| self.failed(&mut records, e))?;
        if let Err(e) = self.apply_set(&mut journal, &plan, changes) {
            let undo = |s: &Self| s.undo_set(&plan).map(drop);
            return Err(self.abandon(journal, &mut records, e, undo));
        }
        // Past the commit point: the removals forget their packs. If that fails, the set
        // stands and the journal stays, so the next command's recovery finishes them.
        let forgotten: Result<Vec<bool>> =
            plan.removals.iter().map(|r| self.forget_kept(r)).collect();
        if let Err(e) = forgotten {
            let mut warnings: Vec<String> = records.iter().filter_map(|r| self.record(r)).collect();
            let _ = journal.step(Step::Recorded);
            warnings.push(format!("the packs are removed, but their kept versions could not be ({e}); the next command removes them"));
            return Ok(warnings);
        }
        let prune: Vec<(&PackRef, usize)> = plan
            .installs
            .iter()
            .map(|i| (&i.pack_ref, keep_versions))
            .collect();
        Ok(self.conclude(journal, &records, &prune))
    }

    fn set_plan(
        &self,
        changes: &[SetChange],
        keep_versions: usize,
        records: &mut Vec<Record>,
    ) -> Result<SetPlan> {
        let mut refs: Vec<&PackRef> = changes
            .iter()
            .map(|c| match c {
                SetChange::Install { receipt, .. } => &receipt.pack_ref,
                SetChange::Remove(pack_ref) => pack_ref,
            })
            .collect();
        refs.sort();
        if let Some(twice) = refs.windows(2).find(|w| w[0] == w[1]) {
            return Err(crate::error::Error::Internal(format!(
                "a set changes `{}` twice",
                twice[0]
            )));
        }
        let mut plan = SetPlan {
            installs: Vec::new(),
            removals: Vec::new(),
        };
        for change in changes {
            match change {
                SetChange::Install {
                    staged,
                    receipt,
                    origin,
                    listing,
                } => {
                    let from = self.receipt(&receipt.pack_ref).ok().flatten();
                    let from = from.map(|r| r.version.to_string());
                    records.push(Record::of_install(Action::Install, receipt, from));
                    let install =
                        self.install_plan(Action::Install, staged, receipt, keep_versions)?;
                    let content = &receipt.checksum.content;
                    self.remember_source(&receipt.pack_ref, content, origin.clone())?;
                    self.record_listing(&receipt.pack_ref, content, listing)?;
                    plan.installs.push(install);
                }
                SetChange::Remove(pack_ref) => {
                    let previous_receipt = self.receipt(pack_ref)?;
                    let mut record = Record::now(Action::Uninstall, pack_ref.clone(), Outcome::Ok);
                    record.from = previous_receipt.as_ref().map(|r| r.version.to_string());
                    records.push(record);
                    plan.removals.push(UninstallPlan {
                        pack_ref: pack_ref.clone(),
                        id: self.id_of(&self.layout.active(pack_ref))?,
                        detached: unique_name("uninstalled"),
                        previous_receipt,
                    });
                }
            }
        }
        Ok(plan)
    }

    fn apply_set(
        &self,
        journal: &mut Journal,
        plan: &SetPlan,
        changes: &[SetChange],
    ) -> Result<()> {
        let staged = changes.iter().filter_map(|c| match c {
            SetChange::Install { staged, .. } => Some(staged),
            SetChange::Remove(_) => None,
        });
        for (install, staged) in plan.installs.iter().zip(staged) {
            self.apply_install(journal, install, staged)?;
        }
        // Before the commit point a removal only takes the steps an undo can take back: the
        // pack out of place, its receipt removed. Its kept versions and sources go after it.
        for removal in &plan.removals {
            self.detach(journal, removal)?;
            self.restore_receipt(&removal.pack_ref, None)?;
        }
        journal.step(Step::Commit)
    }

    /// Finishes every change of a committed set. Returns whether anything had to change.
    pub(super) fn finish_set(&self, plan: &SetPlan) -> Result<bool> {
        let mut changed = false;
        for install in &plan.installs {
            changed |= self.finish_install(install)?;
        }
        for removal in &plan.removals {
            changed |= self.finish_uninstall(removal)?;
        }
        Ok(changed)
    }

    /// Undoes every change of a set, last first. Returns whether anything had to change.
    pub(super) fn undo_set(&self, plan: &SetPlan) -> Result<bool> {
        let mut changed = false;
        for removal in plan.removals.iter().rev() {
            changed |= self.undo_uninstall(removal)?;
        }
        for install in plan.installs.iter().rev() {
            changed |= self.undo_install(install)?;
        }
        Ok(changed)
    }
}
