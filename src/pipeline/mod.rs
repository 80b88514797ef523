//! The install pipeline, the same for every source, as stages with typed inputs and outputs:
//!
//! - 1, [`fetch`]: the source materialized into staging (a registry reference first resolved
//!   into its sources) → `Staged`;
//! - 2–4, [`validate`]: the pack root located, the checksums verified, pack.yaml read and
//!   matched against what was promised → `Validated`;
//! - 5: the dependencies checked;
//! - 6, [`tests`]: the pack's own tests, in a throwaway copy;
//! - 7–8, [`commit`]: the receipt, the hooks, the atomic and durable commit into the store and
//!   its history line.
//!
//! [`plan`] prepares (stages 1–4) the pack and, when asked, its missing dependencies; then
//! each is finished (stages 5–8) in order, dependencies first, each its own atomic commit.

mod attempt;
mod change;
mod commit;
mod fetch;
mod locked;
mod options;
mod origin;
mod outdated;
mod plan;
mod tests;
mod update;
mod validate;

use std::sync::Arc;

use crate::context::{blocking, Context};
use crate::deps;
use crate::error::Result;
use crate::events::{Event, Phase};
use crate::hooks::{InstallHooks, PendingChange};
use crate::pack_ref::PackRef;
use crate::python;
use crate::receipt::Receipt;
use crate::registry::Registry;
use crate::source::PackSource;
use crate::store::LockedStore;

pub(crate) use change::{rollback, uninstall};
pub(crate) use locked::install_locked;
pub use locked::{LockedAction, LockedOptions, LockedOutcome};
pub use options::{InstallOptions, InstallReport};
pub(crate) use outdated::outdated;
pub use outdated::Outdated;
pub(crate) use update::update;
pub use update::{UpdateOptions, UpdateReport};

use attempt::Attempt;
use plan::{upsert, Step};

/// Installs `source` (and, when asked, its missing dependencies first) into the locked
/// store. A failure after the pack was identified is recorded in the history.
pub(crate) async fn install(
    ctx: &Context,
    store: &Arc<LockedStore>,
    hooks: &dyn InstallHooks,
    source: PackSource,
    opts: InstallOptions,
) -> Result<InstallReport> {
    let (ctx, recorded) = ctx.recording();
    let registry = Registry::new(&ctx);
    let installed = {
        let store = store.clone();
        blocking(move || store.receipts()).await?
    };
    let attempt = Attempt::new(store, opts.action, source.pack_ref());
    let steps = match plan::prepare(&ctx, store, &registry, source, &opts, installed.clone()).await
    {
        Ok(steps) => steps,
        Err(u) => {
            let attempt = match &u.pack {
                Some((pack_ref, version)) => attempt.of(pack_ref, version),
                None => attempt,
            };
            return Err(attempt.failed(u.error).await);
        }
    };
    let mut receipts = installed;
    let mut reports = Vec::new();
    let count = steps.len();
    for (i, step) in steps.into_iter().enumerate() {
        let manifest = step.validated.manifest.clone();
        let report = finish(&ctx, store, hooks, step, &receipts, &opts).await;
        let report = match report {
            Err(e) if i + 1 < count => {
                ctx.warn(format!(
                    "could not install {} {}, a dependency: {}",
                    manifest.pack_ref,
                    manifest.version,
                    e.code()
                ));
                return Err(e);
            }
            report => report?,
        };
        // A dry run installs nothing: the plan counts as installed from here on.
        upsert(&mut receipts, &report.receipt);
        reports.push(report);
    }
    let mut root = reports.pop().expect("the plan holds the pack itself");
    root.dependencies = reports;
    root.warnings = recorded.take();
    Ok(root)
}

/// Stages 5–6 of one prepared pack, against `receipts` (the installed packs as the plan
/// leaves them): its dependencies checked and its tests run. Returns its receipt and the
/// test runners that ran.
async fn ready(
    ctx: &Context,
    store: &LockedStore,
    step: &Step,
    receipts: &[Receipt],
    opts: &InstallOptions,
) -> Result<(Receipt, Vec<String>)> {
    let Step {
        validated,
        pending,
        resolved,
    } = step;
    let manifest = &validated.manifest;
    ctx.emit(Event::Phase(Phase::CheckingDependencies));
    let attune = ctx.config().attune_version.as_deref();
    let mut problems = deps::unmet(manifest, receipts, pending, resolved, attune);
    if !manifest.python.is_empty() {
        problems.extend(python::unmet(&manifest.python, ctx.python().await));
    }
    if !problems.is_empty() {
        if !opts.skip_deps {
            return Err(deps::unmet_error(manifest, &problems));
        }
        ctx.warn(format!(
            "installing with unmet dependencies, as asked: {}",
            problems.join("; ")
        ));
    }
    let tested = tests::run(ctx, validated, opts.skip_tests).await?;
    let receipt = commit::receipt(store, validated, tested.summary);
    Ok((receipt, tested.runners))
}

/// The version of `pack_ref` active now, if any ("unknown" for a pack placed by hand with an
/// unreadable pack.yaml).
async fn active_version(store: &Arc<LockedStore>, pack_ref: &PackRef) -> Result<Option<String>> {
    let (store, pack_ref) = (store.clone(), pack_ref.clone());
    blocking(move || {
        Ok(store
            .is_installed(&pack_ref)
            .then(|| store.receipt(&pack_ref))
            .transpose()?
            .map(|r| r.map_or_else(|| "unknown".to_owned(), |r| r.version.to_string())))
    })
    .await
}

/// Stages 5–8 of one prepared pack: ready, then committed (unless a dry run).
async fn finish(
    ctx: &Context,
    store: &Arc<LockedStore>,
    hooks: &dyn InstallHooks,
    step: Step,
    receipts: &[Receipt],
    opts: &InstallOptions,
) -> Result<InstallReport> {
    let manifest = step.validated.manifest.clone();
    let attempt = Attempt::new(store, opts.action, None).of(&manifest.pack_ref, &manifest.version);
    let (receipt, test_runners) = attempt
        .check(ready(ctx, store, &step, receipts, opts).await)
        .await?;
    let replaced = active_version(store, &manifest.pack_ref).await?;
    if !opts.dry_run {
        let change = PendingChange::of_install(opts.action, &manifest, &receipt, replaced.clone());
        let committed = commit::commit(ctx, store, hooks, step.validated, &receipt, change).await;
        attempt.check_guarded(committed).await?;
    }
    Ok(InstallReport {
        receipt,
        replaced,
        dry_run: opts.dry_run,
        warnings: Vec::new(),
        dependencies: Vec::new(),
        test_runners,
    })
}
