//! Recovery, run whenever the store is locked: finish or undo the change an interrupted
//! command journaled (see `txn.rs` for which), record that in the history, then remove what
//! no running command owns: staging and trash contents, temporary files of interrupted
//! writes, and kept versions that lost their record (or records that lost their directory).

use std::fs;
use std::path::Path;

use super::journal::{self, Found, Plan, Step};
use super::LockedStore;
use crate::error::{Error, IoContext, Result};
use crate::fs::fsutil::remove_any;
use crate::model::history::{Action, Outcome, Record, Recovered, Recovery};
use crate::model::pack_ref::PackRef;
use crate::model::receipt::Receipt;

impl LockedStore {
    /// Finishes or undoes what the journal says, then sweeps; returns what was recovered and
    /// warnings about tidying that failed (it is retried by the next command, and never
    /// stops this one: the store is consistent once the journal is resolved).
    pub(super) fn recover(&self) -> Result<(Vec<Recovered>, Vec<String>)> {
        let path = self.layout.journal();
        let mut recovered = Vec::new();
        let mut tidied = Vec::new();
        match journal::read(&path)? {
            None => {}
            // Nothing was done: no step is taken before the plan is complete on disk.
            Some(Found::Torn) => journal::remove(&path, self.durability)?,
            Some(Found::Plan { plan, steps }) => {
                let undo = steps.contains(&Step::Undo);
                // A change whose lines are in the history is reported only when recovery
                // had to change something; one whose lines are not, always (it landed, or
                // was undone, without a record of it).
                let recorded = steps.contains(&Step::Recorded);
                let done = match &plan {
                    Plan::Install(p) => self
                        .recover_install(p, undo, recorded)?
                        .map(|d| (d, Some(&p.receipt)))
                        .into_iter()
                        .collect(),
                    Plan::Uninstall(p) => self
                        .recover_uninstall(p, &steps, undo, recorded)?
                        .map(|d| (d, None))
                        .into_iter()
                        .collect(),
                    Plan::Rollback(p) => self
                        .recover_rollback(p, undo, recorded)?
                        .map(|d| (d, Some(&p.receipt)))
                        .into_iter()
                        .collect(),
                    Plan::Set(p) => self.recover_set(p, &steps, undo, recorded)?,
                };
                // Recorded, and said so in the journal, before the journal goes: if this
                // process dies in between, the next recovery records nothing twice.
                let any = !done.is_empty();
                for (done, receipt) in done {
                    let mut record =
                        Record::now(done.action, done.pack_ref.clone(), Outcome::Recovered);
                    record.from = done.from.clone();
                    record.to = done.to.clone();
                    record.source = receipt.map(|r| r.source.clone());
                    record.checksum = receipt.map(|r| r.checksum.clone());
                    record.recovery = Some(done.recovery);
                    let _ = self.record(&record);
                    recovered.push(done);
                }
                if any {
                    journal::append(&path, Step::Recorded, self.durability)?;
                }
                journal::remove(&path, self.durability)?;
                let pruned: Vec<(&PackRef, usize)> = match &plan {
                    Plan::Install(p) => vec![(&p.pack_ref, p.keep_versions)],
                    Plan::Rollback(p) => vec![(&p.pack_ref, p.keep_versions)],
                    Plan::Set(p) => p
                        .installs
                        .iter()
                        .map(|i| (&i.pack_ref, i.keep_versions))
                        .collect(),
                    Plan::Uninstall(_) => Vec::new(),
                };
                for (pack_ref, keep) in pruned {
                    tidied.push(self.prune(pack_ref, keep));
                }
            }
        }
        tidied.push(self.sweep());
        let warnings = tidied
            .into_iter()
            .filter_map(|r| r.err())
            .map(|e| format!("could not tidy the pack store ({e}); the next command tries again"))
            .collect();
        Ok((recovered, warnings))
    }

    fn recover_install(
        &self,
        plan: &super::journal::InstallPlan,
        undo: bool,
        recorded: bool,
    ) -> Result<Option<Recovered>> {
        let in_place = self.id_of(&self.layout.active(&plan.pack_ref))? == Some(plan.new);
        let (changed, recovery) = if in_place && !undo {
            (self.finish_install(plan)?, Recovery::Completed)
        } else {
            (self.undo_install(plan)?, Recovery::Undone)
        };
        Ok((changed || !recorded).then(|| Recovered {
            to: Some(plan.receipt.version.to_string()),
            ..recovered(
                plan.action,
                recovery,
                &plan.pack_ref,
                &plan.previous_receipt,
            )
        }))
    }

    fn recover_rollback(
        &self,
        plan: &super::journal::RollbackPlan,
        undo: bool,
        recorded: bool,
    ) -> Result<Option<Recovered>> {
        let in_place = self.id_of(&self.layout.active(&plan.pack_ref))? == Some(plan.restored_id);
        let (changed, recovery) = if in_place && !undo {
            (self.finish_rollback(plan)?, Recovery::Completed)
        } else {
            (self.undo_rollback(plan)?, Recovery::Undone)
        };
        Ok((changed || !recorded).then(|| Recovered {
            from: Some(plan.displaced.record.receipt.version.to_string()),
            to: Some(plan.receipt.version.to_string()),
            ..recovered(Action::Rollback, recovery, &plan.pack_ref, &None)
        }))
    }

    /// A set is finished once its commit step is written, and undone otherwise.
    fn recover_set<'p>(
        &self,
        plan: &'p super::journal::SetPlan,
        steps: &[Step],
        undo: bool,
        recorded: bool,
    ) -> Result<Vec<(Recovered, Option<&'p Receipt>)>> {
        let (changed, recovery) = if steps.contains(&Step::Commit) && !undo {
            (self.finish_set(plan)?, Recovery::Completed)
        } else {
            (self.undo_set(plan)?, Recovery::Undone)
        };
        if !changed && recorded {
            return Ok(Vec::new());
        }
        let installs = plan.installs.iter().map(|p| {
            let done = Recovered {
                to: Some(p.receipt.version.to_string()),
                ..recovered(Action::Install, recovery, &p.pack_ref, &p.previous_receipt)
            };
            (done, Some(&p.receipt))
        });
        let removals = plan.removals.iter().map(|p| {
            let done = recovered(
                Action::Uninstall,
                recovery,
                &p.pack_ref,
                &p.previous_receipt,
            );
            (done, None)
        });
        Ok(installs.chain(removals).collect())
    }

    fn recover_uninstall(
        &self,
        plan: &super::journal::UninstallPlan,
        steps: &[Step],
        undo: bool,
        recorded: bool,
    ) -> Result<Option<Recovered>> {
        // The uninstall took effect once the pack left its place (or, for a receipt without
        // a pack, once its forgetting was announced).
        let detached = match plan.id {
            Some(id) => self.id_of(&self.layout.active(&plan.pack_ref))? != Some(id),
            None => steps.contains(&Step::Forget),
        };
        let (changed, recovery) = if detached && !undo {
            (self.finish_uninstall(plan)?, Recovery::Completed)
        } else {
            (self.undo_uninstall(plan)?, Recovery::Undone)
        };
        Ok((changed || !recorded).then(|| {
            recovered(
                Action::Uninstall,
                recovery,
                &plan.pack_ref,
                &plan.previous_receipt,
            )
        }))
    }

    /// Removes what no command owns once no change is under way.
    fn sweep(&self) -> Result<()> {
        super::staging::sweep(&self.layout.staging())?;
        self.purge_trash()?;
        remove_temporaries(&self.layout.meta)?;
        remove_temporaries(&self.layout.receipts())?;
        let private = self.layout.meta.join("private");
        if private.is_dir() {
            // They may hold credentials.
            remove_temporaries(&private)?;
        }
        let versions = self.layout.meta.join("versions");
        for entry in fs::read_dir(&versions).ctx(|| format!("reading {}", versions.display()))? {
            let dir = entry
                .ctx(|| format!("reading {}", versions.display()))?
                .path();
            if dir.is_dir() {
                remove_orphans(&dir)?;
                let _ = fs::remove_dir(&dir); // only succeeds when empty
            }
        }
        Ok(())
    }
}

/// Temporary files of atomic writes that were interrupted (`.tmp-*`).
fn remove_temporaries(dir: &Path) -> Result<()> {
    for entry in fs::read_dir(dir).ctx(|| format!("reading {}", dir.display()))? {
        let entry = entry.ctx(|| format!("reading {}", dir.display()))?;
        if entry.file_name().to_string_lossy().starts_with(".tmp-") {
            sweep_one(&entry.path())?;
        }
    }
    Ok(())
}

/// In `versions/REF/`: directories without their record, records without their directory,
/// and temporary files.
fn remove_orphans(dir: &Path) -> Result<()> {
    for entry in fs::read_dir(dir).ctx(|| format!("reading {}", dir.display()))? {
        let path = entry.ctx(|| format!("reading {}", dir.display()))?.path();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let orphan = if name.starts_with(".tmp-") {
            true
        } else if let Some(stem) = name.strip_suffix(".json") {
            !dir.join(stem).is_dir()
        } else {
            !dir.join(format!("{name}.json")).exists()
        };
        if orphan {
            sweep_one(&path)?;
        }
    }
    Ok(())
}

fn sweep_one(path: &Path) -> Result<()> {
    crate::util::failpoint::hit("sweep.remove")
        .map_err(|e| Error::io(format!("removing {}", path.display()), e))?;
    remove_any(path)
}

/// What recovery did to `pack_ref`, which was at `previous` before the change (`to`: none).
fn recovered(
    action: Action,
    recovery: Recovery,
    pack_ref: &PackRef,
    previous: &Option<Receipt>,
) -> Recovered {
    Recovered {
        action,
        pack_ref: pack_ref.clone(),
        recovery,
        from: previous.as_ref().map(|r| r.version.to_string()),
        to: None,
    }
}
