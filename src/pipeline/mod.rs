//! The install pipeline, the same for every source, as stages with typed inputs and outputs:
//!
//! - 1, [`fetch`]: the source materialized into staging (a registry reference first resolved
//!   into its sources) → `Staged`;
//! - 2–4, [`validate`]: the pack root located, the checksums verified, pack.yaml read and
//!   matched against what was promised → `Validated`;
//! - 5: the dependencies checked;
//! - 5b, [`environment`]: the pack's Python environment built (or reused);
//! - 6, [`tests`]: the pack's own tests, in a throwaway copy, under that environment's Python;
//! - 7–8, [`commit`]: the receipt, the hooks, the atomic and durable commit into the store and
//!   its history line.
//!
//! [`plan`] prepares (stages 1–4) the pack and, when asked, its missing dependencies; then
//! each is finished (stages 5–8) in order, dependencies first, each its own atomic commit.

mod attempt;
mod bundle;
mod change;
mod commit;
mod environment;
mod fetch;
mod locked;
mod open;
mod options;
mod origin;
mod outdated;
mod plan;
mod tests;
mod update;
mod validate;
mod verify;

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use crate::context::{blocking, Context};
use crate::error::Result;
use crate::hooks::{InstallHooks, PendingChange};
use crate::model::events::{Event, Phase};
use crate::model::pack_ref::PackRef;
use crate::model::receipt::Receipt;
use crate::pack::deps;
use crate::pack::manifest::Manifest;
use crate::pack::python;
use crate::registry::Registry;
use crate::runtime_env::PreparedEnv;
use crate::source::PackSource;
use crate::store::{Ledger, LockedStore, StoreView, Workspace};

pub(crate) use bundle::{create as bundle_create, list as bundle_list, verify as bundle_verify};
pub use bundle::{BundleFormat, BundleOptions, BundleReport, BundleVerified, PasswordFn};
pub(crate) use change::{rollback, uninstall};
pub(crate) use locked::install_locked;
pub use locked::{LockedAction, LockedOptions, LockedOutcome};
pub(crate) use open::opened;
pub use options::{InstallOptions, InstallReport};
pub(crate) use outdated::outdated;
pub use outdated::Outdated;
pub(crate) use update::update;
pub use update::{UpdateOptions, UpdateReport};
pub(crate) use verify::verify;
pub use verify::Verified;

use attempt::Attempt;
use plan::{upsert, Step};

/// Installs `source` (and, when asked, its missing dependencies first). Fetching,
/// validating and testing run without the store's lock; the exclusive lock is taken for the
/// final re-check against the store as it is then, and the commits. A failure after the pack
/// was identified is recorded in the history.
pub(crate) async fn install(
    ctx: &Context,
    workspace: &Arc<Workspace>,
    lock_timeout: Duration,
    hooks: &dyn InstallHooks,
    source: PackSource,
    opts: InstallOptions,
) -> Result<InstallReport> {
    let (ctx, recorded) = ctx.recording();
    let registry = Registry::new(&ctx);
    let installed = {
        let workspace = workspace.clone();
        blocking(move || workspace.receipts()).await?
    };
    let attempt = Attempt::new(workspace, opts.action, source.pack_ref());
    let prepared = plan::prepare(&ctx, workspace, &registry, source, &opts, installed.clone());
    let steps = match prepared.await {
        Ok(steps) => steps,
        Err(u) => {
            let attempt = match &u.pack {
                Some((pack_ref, version)) => attempt.of(pack_ref, version),
                None => attempt,
            };
            return Err(attempt.failed(u.error).await);
        }
    };
    let readied = ready_all(&ctx, workspace, steps, installed, &opts).await?;
    let mut reports = match opts.dry_run {
        true => dry_reports(workspace, readied).await?,
        false => {
            let ws = workspace.clone();
            let store = opened(&ctx, move |on_wait, interrupt| {
                ws.lock(lock_timeout, on_wait, interrupt)
            })
            .await?;
            commit_all(&ctx, &store, hooks, readied, &opts).await?
        }
    };
    let mut root = reports.pop().expect("the plan holds the pack itself");
    root.dependencies = reports;
    root.warnings = recorded.take();
    Ok(root)
}

/// A prepared pack, checked and tested: its receipt, the test runners that ran and its
/// Python environment (held until its commit).
type Readied = (Step, Receipt, Vec<String>, Option<PreparedEnv>);

/// Stages 5–6 of every step, each against the installed packs as the plan leaves them.
async fn ready_all(
    ctx: &Context,
    workspace: &Arc<Workspace>,
    steps: Vec<Step>,
    installed: Vec<Receipt>,
    opts: &InstallOptions,
) -> Result<Vec<Readied>> {
    let mut receipts = installed;
    let mut readied = Vec::new();
    let count = steps.len();
    for (i, step) in steps.into_iter().enumerate() {
        let attempt = attempt_of(workspace, &step, opts);
        let ready = attempt.check(ready(ctx, workspace, &step, &receipts, opts).await);
        let manifest = &step.validated.manifest;
        let (receipt, runners, env) = dependency(ctx, manifest, ready.await, i + 1 < count)?;
        upsert(&mut receipts, &receipt);
        readied.push((step, receipt, runners, env));
    }
    Ok(readied)
}

/// Stages 7–8 of every step, under the lock: each re-checked against the store as it is by
/// then (another command may have changed it meanwhile), then committed, in order.
async fn commit_all(
    ctx: &Context,
    store: &Arc<LockedStore>,
    hooks: &dyn InstallHooks,
    readied: Vec<Readied>,
    opts: &InstallOptions,
) -> Result<Vec<InstallReport>> {
    let mut receipts = {
        let store = store.clone();
        blocking(move || store.receipts()).await?
    };
    let mut reports = Vec::new();
    let count = readied.len();
    for (i, (step, receipt, runners, env)) in readied.into_iter().enumerate() {
        let manifest = step.validated.manifest.clone();
        let is_dependency = i + 1 < count;
        if is_dependency && !opts.force && store.is_installed(&manifest.pack_ref) {
            // Another command installed it meanwhile (a dependency it shares): that one is
            // kept, and the packs that need it are checked against it.
            ctx.warn(format!(
                "{} was installed by another command meanwhile; it is kept",
                manifest.pack_ref
            ));
            continue;
        }
        let attempt = attempt_of(store, &step, opts);
        let checked = recheck(ctx, store, &step, &receipts, opts).await;
        attempt
            .check(dependency(ctx, &manifest, checked, is_dependency))
            .await?;
        let readied = (step, receipt, runners, env);
        let report = commit_step(ctx, store, hooks, readied, opts).await;
        let report = dependency(ctx, &manifest, report, is_dependency)?;
        upsert(&mut receipts, &report.receipt);
        reports.push(report);
    }
    Ok(reports)
}

/// `result` for the pack of `manifest`; when it is a dependency of the pack asked for, its
/// failure is also said as such.
fn dependency<T>(
    ctx: &Context,
    manifest: &Manifest,
    result: Result<T>,
    is_dependency: bool,
) -> Result<T> {
    if let (Err(e), true) = (&result, is_dependency) {
        ctx.warn(format!(
            "could not install {} {}, a dependency: {}",
            manifest.pack_ref,
            manifest.version,
            e.code()
        ));
    }
    result
}

/// The attempt at installing the pack of `step`, recorded in `store`'s history if it fails.
fn attempt_of<L: Ledger + 'static>(store: &Arc<L>, step: &Step, opts: &InstallOptions) -> Attempt {
    let manifest = &step.validated.manifest;
    Attempt::new(store, opts.action, None).of(&manifest.pack_ref, &manifest.version)
}

/// The dependencies of the pack of `step` (and the Python it asks for), against `receipts`:
/// unmet ones refuse it, unless `--skip-deps` (then a warning).
async fn check_dependencies(
    ctx: &Context,
    step: &Step,
    receipts: &[Receipt],
    opts: &InstallOptions,
) -> Result<()> {
    let Step {
        validated,
        pending,
        resolved,
    } = step;
    let manifest = &validated.manifest;
    let attune = ctx.config().attune_version.as_deref();
    let mut problems = deps::unmet(manifest, receipts, pending, resolved, attune);
    if !manifest.python.is_empty() {
        let found = ctx.python().await;
        // An interrupt stops asking the interpreter: that is not an unmet requirement.
        ctx.interrupt().check()?;
        let unmet = python::unmet(&manifest.python, found);
        if !unmet.is_empty() {
            problems.extend(other_python(ctx, manifest).await?);
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    if !opts.skip_deps {
        return Err(deps::unmet_error(manifest, &problems));
    }
    ctx.warn(format!(
        "installing with unmet dependencies, as asked: {}",
        problems.join("; ")
    ));
    Ok(())
}

/// Whether a `python3.N` on `PATH` meets `manifest`'s Python requirements where the config's
/// `python` does not (its environment is then built with that one): none, or what is unmet
/// and what was found.
async fn other_python(ctx: &Context, manifest: &Manifest) -> Result<Vec<String>> {
    let (wanted, configured) = (manifest.python.clone(), ctx.config().python.clone());
    let interrupt = ctx.interrupt().clone();
    let chosen = blocking(move || Ok(python::choose(&wanted, &configured, &interrupt))).await?;
    ctx.interrupt().check()?;
    Ok(chosen.err().unwrap_or_default())
}

/// Stages 5–6 of one prepared pack, against `receipts` (the installed packs as the plan
/// leaves them): its dependencies checked, its Python environment built and its tests run
/// under it. Returns its receipt, the test runners that ran and the environment (removed
/// again when it is dropped before its commit).
async fn ready(
    ctx: &Context,
    store: &StoreView,
    step: &Step,
    receipts: &[Receipt],
    opts: &InstallOptions,
) -> Result<(Receipt, Vec<String>, Option<PreparedEnv>)> {
    ctx.emit(Event::Phase(Phase::CheckingDependencies));
    check_dependencies(ctx, step, receipts, opts).await?;
    let env = environment::build(ctx, &step.validated, opts).await?;
    let tested = tests::run(ctx, &step.validated, opts.skip_tests, env.python()).await?;
    let receipt = commit::receipt(store, &step.validated, tested.summary, env.receipt);
    Ok((receipt, tested.runners, env.prepared))
}

/// The final re-check of a readied pack under the lock: what another command changed while
/// it was fetched and tested (the pack installed meanwhile, a dependency removed) counts.
async fn recheck(
    ctx: &Context,
    store: &Arc<LockedStore>,
    step: &Step,
    receipts: &[Receipt],
    opts: &InstallOptions,
) -> Result<()> {
    plan::refuse_installed(store, &step.validated, opts)?;
    match opts.skip_deps {
        // Said once already, when the pack was readied.
        true => Ok(()),
        false => check_dependencies(ctx, step, receipts, opts).await,
    }
}

/// The version of `pack_ref` active now, if any ("unknown" for a pack placed by hand with an
/// unreadable pack.yaml).
async fn active_version<S>(store: &Arc<S>, pack_ref: &PackRef) -> Result<Option<String>>
where
    S: Deref<Target = StoreView> + Send + Sync + 'static,
{
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

/// What a dry run reports: each readied pack, and the version it would replace.
async fn dry_reports(
    workspace: &Arc<Workspace>,
    readied: Vec<Readied>,
) -> Result<Vec<InstallReport>> {
    let mut reports = Vec::new();
    for (step, receipt, test_runners, _env) in readied {
        let replaced = active_version(workspace, &step.validated.manifest.pack_ref).await?;
        reports.push(InstallReport {
            receipt,
            replaced,
            dry_run: true,
            warnings: Vec::new(),
            dependencies: Vec::new(),
            test_runners,
        });
    }
    Ok(reports)
}

/// Stages 7–8 of a readied pack: the hooks asked, then the atomic commit (unless a dry run),
/// which its environment, if any, joins.
async fn commit_step(
    ctx: &Context,
    store: &Arc<LockedStore>,
    hooks: &dyn InstallHooks,
    readied: Readied,
    opts: &InstallOptions,
) -> Result<InstallReport> {
    let (step, receipt, test_runners, env) = readied;
    let manifest = step.validated.manifest.clone();
    let attempt = attempt_of(store, &step, opts);
    let replaced = active_version(store, &manifest.pack_ref).await?;
    if !opts.dry_run {
        let change = PendingChange::of_install(opts.action, &manifest, &receipt, replaced.clone());
        let committed = commit::commit(ctx, store, hooks, step.validated, &receipt, change).await;
        attempt.check_guarded(committed).await?;
        env.into_iter().for_each(PreparedEnv::keep);
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

/// Stages 5–8 of one prepared pack, all under the lock the caller holds: ready, then
/// committed (unless a dry run).
async fn finish(
    ctx: &Context,
    store: &Arc<LockedStore>,
    hooks: &dyn InstallHooks,
    step: Step,
    receipts: &[Receipt],
    opts: &InstallOptions,
) -> Result<InstallReport> {
    let attempt = attempt_of(store, &step, opts);
    let (receipt, runners, env) = attempt
        .check(ready(ctx, store, &step, receipts, opts).await)
        .await?;
    commit_step(ctx, store, hooks, (step, receipt, runners, env), opts).await
}
