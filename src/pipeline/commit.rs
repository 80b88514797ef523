//! Stages 7–8: the receipt, the embedding program's hooks, and the atomic commit into the
//! store (which journals it; see `store`).

use std::sync::Arc;

use crate::context::{blocking, Context};
use crate::error::{Error, Result};
use crate::hooks::{InstallHooks, PendingChange};
use crate::model::events::{Event, Phase};
use crate::model::receipt::{now, Receipt, ReceiptChecksums, ReceiptEnv, TestSummary};
use crate::source::Remembered;
use crate::store::{LockedStore, StoreView};

use super::validate::Validated;

/// The receipt `v` gets once installed, with its tests' outcome and its environment.
pub(crate) fn receipt(
    store: &StoreView,
    v: &Validated,
    tests: TestSummary,
    env: ReceiptEnv,
) -> Receipt {
    let manifest = &v.manifest;
    Receipt {
        pack_ref: manifest.pack_ref.clone(),
        version: manifest.version.clone(),
        label: manifest.label.clone(),
        path: store.active_dir(&manifest.pack_ref),
        installed_at: now(),
        requirement: v.staged.requirement.clone(),
        source: v.staged.fetched.record.clone(),
        checksum: ReceiptChecksums {
            archive: v.archive_sha256(),
            content: v.content.clone(),
        },
        tests,
        dependencies: manifest
            .dependencies
            .iter()
            .map(ToString::to_string)
            .chain(manifest.git_dependencies.iter().map(ToString::to_string))
            .collect(),
        stackstorm_version: manifest.stackstorm_version.clone(),
        env,
    }
}

/// Commits `v` as `receipt` (an install or an update, by `operation`), once the hooks accept
/// it: an `Ok` means the new version is active with its receipt (and `after_commit` ran).
pub(crate) async fn commit(
    ctx: &Context,
    store: &Arc<LockedStore>,
    hooks: &dyn InstallHooks,
    v: Validated,
    receipt: &Receipt,
    change: PendingChange,
) -> Result<()> {
    let (store, staged) = (store.clone(), v.located.dir.clone());
    let (receipt, keep) = (receipt.clone(), ctx.config().keep_versions);
    let action = change.operation;
    let (remembered, listing) = (origin(&v)?, v.listing());
    guarded(ctx, hooks, &[change], move || {
        store
            .commit(&staged, &receipt, &listing, keep, action, remembered)
            .map(|done| ((), done.warnings))
    })
    .await?;
    drop(v); // its staging directory, now empty
    Ok(())
}

/// The store's private record of where `v` came from.
pub(crate) fn origin(v: &Validated) -> Result<serde_json::Value> {
    serde_json::to_value(Remembered {
        source: v.staged.source.clone(),
        validators: v.staged.fetched.validators.clone(),
    })
    .map_err(|e| Error::Internal(format!("recording the source: {e}")))
}

/// Runs `apply` (a blocking store change) once every hook accepts `changes`, and tells the
/// hooks how it ended; the store's warnings after its commit point are passed on.
pub(crate) async fn guarded<T: Send + 'static>(
    ctx: &Context,
    hooks: &dyn InstallHooks,
    changes: &[PendingChange],
    apply: impl FnOnce() -> Result<(T, Vec<String>)> + Send + 'static,
) -> Result<T> {
    for (i, change) in changes.iter().enumerate() {
        if let Err(reason) = hooks.before_commit(change).await {
            let e = Error::HookVeto(reason);
            for accepted in &changes[..i] {
                hooks.on_abort(accepted, &e).await;
            }
            return Err(e);
        }
    }
    let applied = match ctx.interrupt().check() {
        Ok(()) => {
            ctx.emit(Event::Phase(Phase::Committing));
            blocking(apply).await
        }
        Err(e) => Err(e),
    };
    match applied {
        Ok((done, warnings)) => {
            warnings.into_iter().for_each(|w| ctx.warn(w));
            for change in changes {
                hooks.after_commit(change).await;
            }
            Ok(done)
        }
        Err(e) => {
            for change in changes {
                hooks.on_abort(change, &e).await;
            }
            Err(e)
        }
    }
}
