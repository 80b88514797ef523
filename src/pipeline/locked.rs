//! `install --locked`: the store made to hold exactly the packs of a lockfile. Every pack
//! that differs is fetched, verified against the lockfile (version, commit, both checksums)
//! and tested in staging before any is committed; then all of them (and, with `exact`, the
//! removal of packs the lockfile does not list) are committed as one journaled set.

use std::sync::Arc;

use crate::context::{blocking, Context};
use crate::error::{Error, Result};
use crate::hooks::{InstallHooks, PendingChange};
use crate::model::checksum::Checksum;
use crate::model::history::Action;
use crate::model::receipt::{Receipt, SourceKind, TestSummary};
use crate::pack::deps;
use crate::records::lockfile::{LockedPack, Lockfile};
use crate::registry::Registry;
use crate::runtime_env::PreparedEnv;
use crate::source::{PackSource, VersionSpec};
use crate::store::{LockedStore, SetChange};

use super::attempt::Attempt;
use super::commit::{guarded, origin, receipt as planned_receipt};
use super::options::InstallOptions;
use super::origin::subdir_of;
use super::plan::{upsert, Step};
use super::{plan, ready};

/// What `install --locked` is asked to do, set with builder methods.
///
/// ```
/// use attune_pack::LockedOptions;
/// let opts = LockedOptions::new().exact().dry_run();
/// # let _ = opts;
/// ```
#[derive(Debug, Clone, Default)]
pub struct LockedOptions {
    exact: bool,
    dry_run: bool,
    skip_tests: bool,
}

impl LockedOptions {
    /// Install the lockfile's packs; leave other installed packs alone.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also remove the installed packs the lockfile does not list.
    pub fn exact(mut self) -> Self {
        self.exact = true;
        self
    }

    /// Fetch, verify and test; change nothing.
    pub fn dry_run(mut self) -> Self {
        self.dry_run = true;
        self
    }

    /// Do not run the packs' tests.
    pub fn skip_tests(mut self) -> Self {
        self.skip_tests = true;
        self
    }
}

/// What happened to one pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockedAction {
    /// Installed already as locked.
    Unchanged,
    /// Installed (no version was active).
    Installed,
    /// Replaced the version given (kept for rollback).
    Replaced(String),
    /// Removed (`exact`): not in the lockfile.
    Removed,
}

/// One pack of an `install --locked`.
#[derive(Debug, Clone)]
pub struct LockedOutcome {
    /// What happened to it.
    pub action: LockedAction,
    /// Its receipt (for a removal: the one it had).
    pub receipt: Receipt,
}

/// Makes the store hold the packs of `lock`.
pub(crate) async fn install_locked(
    ctx: &Context,
    store: &Arc<LockedStore>,
    hooks: &dyn InstallHooks,
    lock: &Lockfile,
    opts: &LockedOptions,
) -> Result<Vec<LockedOutcome>> {
    let installed = {
        let store = store.clone();
        blocking(move || store.receipts()).await?
    };
    let registry = Registry::new(ctx);
    let mut set = Set::default();
    let mut prepared = Vec::new();
    for pack in &lock.packs {
        match installed.iter().find(|r| pack.is_installed_as(r)) {
            Some(r) => set.outcomes.push(LockedOutcome {
                action: LockedAction::Unchanged,
                receipt: r.clone(),
            }),
            None => prepared.push((
                pack,
                prepare(ctx, store, &registry, pack, &installed).await?,
            )),
        }
    }
    let removed: Vec<Receipt> = installed
        .iter()
        .filter(|r| opts.exact && !lock.packs.iter().any(|p| p.pack_ref == r.pack_ref))
        .cloned()
        .collect();
    let after = leaves(store, &installed, &removed, &prepared);
    refuse_broken(store, &installed, &prepared, &after).await?;
    let install = InstallOptions {
        skip_tests: opts.skip_tests,
        ..InstallOptions::default()
    };
    // Held until the set is committed (dropped before, those built for it are removed).
    let mut envs = Vec::new();
    for (pack, step) in &prepared {
        let manifest = &step.validated.manifest;
        let attempt = Attempt::new(store, Action::Install, None);
        let attempt = attempt.of(&manifest.pack_ref, &manifest.version);
        let (mut receipt, _, env) = attempt
            .check(ready(ctx, store, step, &after, &install).await)
            .await?;
        envs.extend(env);
        // The requirement it was locked with, not the exact version it was fetched at.
        receipt.requirement = pack.requirement.clone();
        let from = installed.iter().find(|r| r.pack_ref == receipt.pack_ref);
        set.install(step, receipt, from.map(|r| r.version.to_string()))?;
    }
    removed.into_iter().for_each(|r| set.remove(r));
    let Set {
        mut outcomes,
        changes,
        store: changed,
    } = set;
    // In the lockfile's order, removals last.
    outcomes.sort_by_key(|o| {
        lock.packs
            .iter()
            .position(|p| p.pack_ref == o.receipt.pack_ref)
            .unwrap_or(usize::MAX)
    });
    if opts.dry_run || changed.is_empty() {
        return Ok(outcomes);
    }
    commit(ctx, store, hooks, &changes, changed).await?;
    envs.into_iter().for_each(PreparedEnv::keep);
    // Their staging directories, now empty.
    let steps: Vec<Step> = prepared.into_iter().map(|(_, step)| step).collect();
    blocking(move || {
        drop(steps);
        Ok(())
    })
    .await?;
    Ok(outcomes)
}

/// Refuses a set that leaves an installed pack (one the lockfile does not change) with a
/// dependency on a changed pack that it does not accept.
async fn refuse_broken(
    store: &Arc<LockedStore>,
    installed: &[Receipt],
    prepared: &[(&LockedPack, Step)],
    after: &[Receipt],
) -> Result<()> {
    for (_, step) in prepared {
        let m = &step.validated.manifest;
        let broken = deps::broken_by(&m.pack_ref, &m.version, after);
        if broken.is_empty() {
            continue;
        }
        let from = installed.iter().find(|r| r.pack_ref == m.pack_ref);
        let e = Error::BreaksDependents {
            pack_ref: m.pack_ref.clone(),
            from: from.map_or_else(|| "(none)".to_owned(), |r| r.version.to_string()),
            to: m.version.to_string(),
            dependents: broken,
        };
        let attempt = Attempt::new(store, Action::Install, None);
        return Err(attempt.of(&m.pack_ref, &m.version).failed(e).await);
    }
    Ok(())
}

/// Commits the set once the hooks accept every change of it.
async fn commit(
    ctx: &Context,
    store: &Arc<LockedStore>,
    hooks: &dyn InstallHooks,
    changes: &[PendingChange],
    set: Vec<SetChange>,
) -> Result<()> {
    let (locked, keep) = (store.clone(), ctx.config().keep_versions);
    let committed = guarded(ctx, hooks, changes, move || {
        locked.commit_set(&set, keep).map(|warnings| ((), warnings))
    })
    .await;
    let Err(mut e) = committed else {
        return Ok(());
    };
    // Refused before the store was asked (it records its own failures): each pack's attempt
    // is recorded here.
    if matches!(e, Error::HookVeto(_) | Error::Interrupted { .. }) {
        for c in changes {
            e = Attempt::new(store, c.operation, Some(&c.pack_ref))
                .failed(e)
                .await;
        }
    }
    Err(e)
}

/// The installed packs as the set leaves them: dependencies are checked against that.
fn leaves(
    store: &LockedStore,
    installed: &[Receipt],
    removed: &[Receipt],
    prepared: &[(&LockedPack, Step)],
) -> Vec<Receipt> {
    let mut after: Vec<Receipt> = installed
        .iter()
        .filter(|r| !removed.iter().any(|x| x.pack_ref == r.pack_ref))
        .cloned()
        .collect();
    for (_, step) in prepared {
        let planned = planned_receipt(
            store,
            &step.validated,
            TestSummary::default(),
            Default::default(),
        );
        upsert(&mut after, &planned);
    }
    after
}

/// A set being built: what happens to each pack, what the hooks are shown, and what the
/// store is asked to change.
#[derive(Default)]
struct Set {
    outcomes: Vec<LockedOutcome>,
    changes: Vec<PendingChange>,
    store: Vec<SetChange>,
}

impl Set {
    fn install(&mut self, step: &Step, receipt: Receipt, from: Option<String>) -> Result<()> {
        let manifest = &step.validated.manifest;
        self.changes.push(PendingChange::of_install(
            Action::Install,
            manifest,
            &receipt,
            from.clone(),
        ));
        self.store.push(SetChange::Install {
            staged: step.validated.located.dir.clone(),
            receipt: Box::new(receipt.clone()),
            origin: origin(&step.validated)?,
            listing: step.validated.listing(),
        });
        self.outcomes.push(LockedOutcome {
            action: from.map_or(LockedAction::Installed, LockedAction::Replaced),
            receipt,
        });
        Ok(())
    }

    fn remove(&mut self, r: Receipt) {
        self.changes
            .push(PendingChange::of_removal(&r.pack_ref, Some(r.clone())));
        self.store.push(SetChange::Remove(r.pack_ref.clone()));
        self.outcomes.push(LockedOutcome {
            action: LockedAction::Removed,
            receipt: r,
        });
    }
}

/// Fetches and verifies one locked pack that is not installed as locked.
async fn prepare(
    ctx: &Context,
    store: &Arc<LockedStore>,
    registry: &Registry<'_>,
    pack: &LockedPack,
    installed: &[Receipt],
) -> Result<Step> {
    let attempt = Attempt::new(store, Action::Install, None).of(&pack.pack_ref, &pack.version);
    let source = attempt.check(locked_source(ctx, store, pack).await).await?;
    let mut opts = InstallOptions {
        force: true,
        // A bundle's index says where each pack is inside its file.
        subdir: subdir_of(&pack.source).filter(|_| !ctx.trust().bundle_only),
        ..InstallOptions::default()
    };
    // An archive's checksum is checked while it streams in.
    if matches!(
        pack.source.kind,
        Some(SourceKind::Archive | SourceKind::LocalArchive)
    ) {
        opts.checksum = pack.checksum.archive.clone();
    }
    let prepared = plan::prepare(ctx, store, registry, source, &opts, installed.to_vec())
        .await
        .map_err(Error::from);
    let step = attempt
        .check(prepared)
        .await?
        .pop()
        .expect("the plan holds the pack itself");
    attempt.check(compare(pack, &step)).await?;
    Ok(step)
}

/// Where a locked pack is fetched from: a registry pack at its exact version (in its index,
/// when this host has one of that name), any other at the locked commit.
pub(super) async fn locked_source<S>(
    ctx: &Context,
    store: &Arc<S>,
    pack: &LockedPack,
) -> Result<PackSource>
where
    S: std::ops::Deref<Target = crate::store::StoreView> + Send + Sync + 'static,
{
    if pack.source.kind == Some(SourceKind::Registry) || ctx.trust().bundle_only {
        let names = &ctx.config().pack_registry.indices;
        let index = pack.source.index.clone().filter(|i| {
            names
                .iter()
                .any(|c| crate::registry::resolve::index_name(c) == *i)
        });
        return Ok(PackSource::Registry {
            pack_ref: pack.pack_ref.clone(),
            version: VersionSpec::Exact(pack.version.clone()),
            index,
        });
    }
    let (store, pack) = (store.clone(), pack.clone());
    blocking(move || {
        let remembered = super::origin::remembered(&store, &pack.pack_ref, &pack.checksum.content)?;
        super::origin::source_of(&pack.pack_ref, &pack.source, remembered, true)
    })
    .await
}

/// What was fetched must be what was locked.
pub(super) fn compare(pack: &LockedPack, step: &Step) -> Result<()> {
    let v = &step.validated;
    let mismatch = |what, locked: String, found: String| Error::LockMismatch {
        pack_ref: pack.pack_ref.clone(),
        what,
        locked,
        found,
    };
    if v.manifest.pack_ref != pack.pack_ref {
        return Err(mismatch(
            "pack",
            pack.pack_ref.to_string(),
            v.manifest.pack_ref.to_string(),
        ));
    }
    if v.manifest.version != pack.version {
        return Err(mismatch(
            "version",
            pack.version.to_string(),
            v.manifest.version.to_string(),
        ));
    }
    let fetched = &v.staged.fetched.record;
    if let (Some(locked), Some(found)) = (&pack.source.commit, &fetched.commit) {
        if locked != found {
            return Err(mismatch("commit", locked.clone(), found.clone()));
        }
    }
    if v.content != pack.checksum.content {
        return Err(mismatch(
            "content checksum",
            pack.checksum.content.to_string(),
            v.content.to_string(),
        ));
    }
    let archive: Option<Checksum> = v.archive_sha256();
    if let (Some(locked), Some(found)) = (&pack.checksum.archive, archive) {
        if *locked != found {
            return Err(mismatch(
                "archive checksum",
                locked.to_string(),
                found.to_string(),
            ));
        }
    }
    Ok(())
}
