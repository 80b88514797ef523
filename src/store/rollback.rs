//! Rollback: the active version and the most recently replaced kept version swap places, as
//! one journaled change (like an install, see `txn.rs`): the active version moves to
//! `versions/` under a new name (displace), the kept one takes its place (activate), the
//! Python environment's link follows it (environment), then the records are written
//! (receipts): the displaced version's kept record, first in the order of
//! replacement, and the restored version's receipt. A second rollback swaps them back.

use crate::error::{Error, Result};
use crate::fs::fsutil::rename;
use crate::model::history::{Action, Outcome, Record};
use crate::model::pack_ref::PackRef;
use crate::model::receipt::Receipt;

use super::journal::{Journal, OldTree, Plan, RollbackPlan, Step};
use super::kept::KeptRecord;
use super::{to_json, LockedStore};

/// A rollback planned under the lock: which version is active and which comes back.
#[derive(Debug, Clone)]
pub struct PreparedRollback(RollbackPlan);

impl PreparedRollback {
    /// The receipt of the version active now (it will be kept).
    pub fn current(&self) -> &Receipt {
        &self.0.displaced.record.receipt
    }

    /// The receipt the kept version will have once active.
    pub fn restored(&self) -> &Receipt {
        &self.0.receipt
    }
}

/// What a rollback did.
#[derive(Debug, Clone)]
pub struct RolledBack {
    /// The receipt of the version now active.
    pub receipt: Receipt,
    /// The version that was active, now kept.
    pub from: String,
    /// Tidying that failed after the commit point; the rollback stands.
    pub warnings: Vec<String>,
}

impl LockedStore {
    /// Plans rolling `pack_ref` back (refused when it has no kept version); nothing changes
    /// until [`rollback`](Self::rollback).
    pub fn prepare_rollback(
        &self,
        pack_ref: &PackRef,
        keep_versions: usize,
    ) -> Result<PreparedRollback> {
        self.rollback_plan(pack_ref, keep_versions)
            .map(PreparedRollback)
            .map_err(|e| {
                let mut record = Record::now(Action::Rollback, pack_ref.clone(), Outcome::Ok);
                let current = self.receipt(pack_ref).ok().flatten();
                record.from = current.map(|r| r.version.to_string());
                self.failed(std::slice::from_mut(&mut record), e)
            })
    }

    /// Swaps the active version with the most recently replaced kept version, as prepared.
    /// `Ok` means the kept version is active with its receipt; `Err` means the store is as it
    /// was (or the journal makes the next command put it back).
    pub fn rollback(&self, prepared: &PreparedRollback) -> Result<RolledBack> {
        let plan = &prepared.0;
        let from = Some(prepared.current().version.to_string());
        let mut record = Record::of_install(Action::Rollback, &plan.receipt, from);
        let mut journal = Journal::create(
            &self.layout.journal(),
            &Plan::Rollback(Box::new(plan.clone())),
            self.durability,
        )
        .map_err(|e| self.failed(std::slice::from_mut(&mut record), e))?;
        if let Err(e) = self.apply_rollback(&mut journal, plan) {
            let undo = |s: &Self| s.undo_rollback(plan).map(drop);
            let records = std::slice::from_mut(&mut record);
            return Err(self.abandon(journal, records, e, undo));
        }
        let prune = [(&plan.pack_ref, plan.keep_versions)];
        let warnings = self.conclude(journal, &[record], &prune);
        Ok(RolledBack {
            receipt: plan.receipt.clone(),
            from: prepared.current().version.to_string(),
            warnings,
        })
    }

    fn rollback_plan(&self, pack_ref: &PackRef, keep_versions: usize) -> Result<RollbackPlan> {
        let active = self.layout.active(pack_ref);
        let (Some(active_id), Some(kept)) = (
            self.id_of(&active)?,
            self.kept_versions(pack_ref)?.into_iter().next(),
        ) else {
            return Err(Error::NothingToRollBack {
                pack_ref: pack_ref.clone(),
                keep_versions,
            });
        };
        let restored_id = self
            .id_of(&kept.dir)?
            .ok_or_else(|| Error::Internal(format!("{} vanished", kept.dir.display())))?;
        let previous_receipt = self.receipt(pack_ref)?;
        let mut displaced = match &previous_receipt {
            Some(r) => r.clone(),
            None => self.placed_by_hand(pack_ref)?,
        };
        let (name, seq) = self.next_kept(&displaced)?;
        displaced.path = self.layout.versions(pack_ref).join(&name);
        let mut receipt = kept.record.receipt.clone();
        receipt.path = active;
        let env = self.env_link(&receipt)?;
        Ok(RollbackPlan {
            pack_ref: pack_ref.clone(),
            displaced: OldTree {
                id: active_id,
                kept: name,
                record: KeptRecord {
                    receipt: displaced,
                    kept_seq: seq,
                    replaced_at: crate::model::receipt::now_rfc3339(),
                },
            },
            restored: kept.name(),
            restored_id,
            restored_record: kept.record,
            receipt,
            previous_receipt,
            keep_versions,
            env,
        })
    }

    fn apply_rollback(&self, journal: &mut Journal, plan: &RollbackPlan) -> Result<()> {
        let active = self.layout.active(&plan.pack_ref);
        let versions = self.layout.versions(&plan.pack_ref);
        journal.step(Step::Displace)?;
        rename(
            &active,
            &versions.join(&plan.displaced.kept),
            self.durability,
            "rollback.displace",
        )?;
        journal.step(Step::Activate)?;
        rename(
            &versions.join(&plan.restored),
            &active,
            self.durability,
            "rollback.activate",
        )?;
        if let Some(env) = &plan.env {
            journal.step(Step::Environment)?;
            self.set_env_link(env, env.new.as_deref())?;
        }
        journal.step(Step::Receipts)?;
        self.finish_rollback(plan).map(drop)
    }

    /// Rolls a rollback forward once the kept version is active. Returns whether anything
    /// had to change.
    pub(super) fn finish_rollback(&self, plan: &RollbackPlan) -> Result<bool> {
        let versions = self.layout.versions(&plan.pack_ref);
        let displaced = &plan.displaced;
        let mut changed = match &plan.env {
            Some(env) => self.set_env_link(env, env.new.as_deref())?,
            None => false,
        };
        if self.id_of(&versions.join(&displaced.kept))? == Some(displaced.id) {
            let record = versions.join(format!("{}.json", displaced.kept));
            changed |= self.write_if_changed(
                &record,
                &to_json(&displaced.record)?,
                "rollback.kept_receipt",
            )?;
        }
        let receipt = self.layout.receipt(&plan.pack_ref);
        changed |= self.write_if_changed(&receipt, &to_json(&plan.receipt)?, "rollback.receipt")?;
        let restored = versions.join(format!("{}.json", plan.restored));
        changed |= self.remove_record(&restored, "rollback.forget")?;
        Ok(changed)
    }

    /// Puts both versions back where they were, with their records. Returns whether anything
    /// had to change.
    pub(super) fn undo_rollback(&self, plan: &RollbackPlan) -> Result<bool> {
        let active = self.layout.active(&plan.pack_ref);
        let versions = self.layout.versions(&plan.pack_ref);
        let kept = versions.join(&plan.restored);
        let displaced = versions.join(&plan.displaced.kept);
        let mut changed = false;
        if self.id_of(&active)? == Some(plan.restored_id) && self.id_of(&kept)?.is_none() {
            rename(&active, &kept, self.durability, "undo.rename")?;
            changed = true;
        }
        if self.id_of(&active)?.is_none() && self.id_of(&displaced)? == Some(plan.displaced.id) {
            rename(&displaced, &active, self.durability, "undo.rename")?;
            changed = true;
        }
        let record = versions.join(format!("{}.json", plan.displaced.kept));
        changed |= self.remove_record(&record, "undo.receipt")?;
        if self.id_of(&kept)? == Some(plan.restored_id) {
            let record = versions.join(format!("{}.json", plan.restored));
            changed |=
                self.write_if_changed(&record, &to_json(&plan.restored_record)?, "undo.receipt")?;
        }
        // The displaced version gone from both places (removed by hand?): no receipt may
        // describe a pack that is not there.
        let previous = match self.id_of(&active)? {
            Some(_) => plan.previous_receipt.as_ref(),
            None => None,
        };
        changed |= self.restore_receipt(&plan.pack_ref, previous)?;
        if let Some(env) = &plan.env {
            changed |= self.set_env_link(env, env.old.as_deref())?;
        }
        Ok(changed)
    }
}
