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

mod commit;
mod fetch;
mod options;
mod plan;
mod tests;
mod validate;

use std::sync::Arc;

use crate::context::{blocking, Context};
use crate::deps;
use crate::error::Result;
use crate::events::{Event, Phase};
use crate::hooks::InstallHooks;
use crate::receipt::Receipt;
use crate::registry::Registry;
use crate::source::PackSource;
use crate::store::LockedStore;

pub use options::{InstallOptions, InstallReport};

use plan::{upsert, Step};

/// Installs `source` (and, when asked, its missing dependencies first) into the locked
/// store.
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
    let steps = plan::prepare(&ctx, store, &registry, source, &opts, installed.clone()).await?;
    let mut receipts = installed;
    let mut reports = Vec::new();
    let count = steps.len();
    for (i, step) in steps.into_iter().enumerate() {
        let shown = format!(
            "{} {}",
            step.validated.manifest.pack_ref, step.validated.manifest.version
        );
        let report = finish(&ctx, store, hooks, step, &receipts, &opts).await;
        let report = match report {
            Err(e) if i + 1 < count => {
                ctx.warn(format!(
                    "could not install {shown}, a dependency: {}",
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

/// Stages 3–5 of one prepared pack, against `receipts` (the installed packs as the plan
/// leaves them).
async fn finish(
    ctx: &Context,
    store: &Arc<LockedStore>,
    hooks: &dyn InstallHooks,
    step: Step,
    receipts: &[Receipt],
    opts: &InstallOptions,
) -> Result<InstallReport> {
    let Step { validated, pending } = step;
    let manifest = &validated.manifest;
    ctx.emit(Event::Phase(Phase::CheckingDependencies));
    let attune = ctx.config().attune_version.as_deref();
    let problems = deps::unmet(manifest, receipts, &pending, attune);
    if !problems.is_empty() {
        if !opts.skip_deps {
            return Err(deps::unmet_error(manifest, &problems));
        }
        ctx.warn(format!(
            "installing with unmet dependencies, as asked: {}",
            problems.join("; ")
        ));
    }
    let tests = tests::run(ctx, &validated, opts.skip_tests).await?;
    let receipt = commit::receipt(store, &validated, tests);
    let replaced = {
        let (store, pack_ref) = (store.clone(), manifest.pack_ref.clone());
        blocking(move || {
            Ok(store
                .is_installed(&pack_ref)
                .then(|| store.receipt(&pack_ref))
                .transpose()?
                .map(|r| r.map_or_else(|| "unknown".to_owned(), |r| r.version.to_string())))
        })
        .await?
    };
    if !opts.dry_run {
        commit::commit(ctx, store, hooks, validated, &receipt, replaced.clone()).await?;
    }
    Ok(InstallReport {
        receipt,
        replaced,
        dry_run: opts.dry_run,
        warnings: Vec::new(),
        dependencies: Vec::new(),
    })
}
