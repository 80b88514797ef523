//! The changes that fetch nothing: a rollback and an uninstall, each planned under the lock,
//! shown to the embedding program's hooks, then committed by the store (which journals it).

use std::sync::Arc;

use crate::context::{blocking, Context};
use crate::error::{Error, Result};
use crate::hooks::{InstallHooks, PendingChange};
use crate::model::history::Action;
use crate::model::pack_ref::PackRef;
use crate::pack::deps;
use crate::store::{LockedStore, RolledBack, Uninstalled};

use super::attempt::Attempt;
use super::commit::guarded;

/// Swaps the active version of `pack_ref` with its most recently replaced kept version
/// (refused when installed packs that depend on it do not accept that version, unless
/// `force`).
pub(crate) async fn rollback(
    ctx: &Context,
    store: &Arc<LockedStore>,
    hooks: &dyn InstallHooks,
    pack_ref: &PackRef,
    force: bool,
) -> Result<RolledBack> {
    let keep = ctx.config().keep_versions;
    let attempt = Attempt::new(store, Action::Rollback, Some(pack_ref));
    let (prepared, installed) = {
        let (store, pack_ref) = (store.clone(), pack_ref.clone());
        blocking(move || {
            if !store.is_installed(&pack_ref) {
                return Err(Error::NotInstalled(pack_ref));
            }
            Ok((store.prepare_rollback(&pack_ref, keep)?, store.receipts()?))
        })
        .await?
    };
    let (current, restored) = (prepared.current(), prepared.restored());
    let broken = deps::broken_by(pack_ref, &restored.version, &installed);
    let unmet = deps::unmet_by(restored, &installed);
    let refused = match (broken.is_empty(), unmet.is_empty()) {
        _ if force => None,
        (false, _) => Some(Error::BreaksDependents {
            pack_ref: pack_ref.clone(),
            from: current.version.to_string(),
            to: restored.version.to_string(),
            dependents: broken,
        }),
        (true, false) => Some(Error::DependencyUnmet {
            pack: pack_ref.clone(),
            version: restored.version.to_string(),
            problems: unmet,
        }),
        (true, true) => None,
    };
    if let Some(e) = refused {
        return Err(attempt.of(pack_ref, &restored.version).failed(e).await);
    }
    let change = PendingChange {
        operation: Action::Rollback,
        pack_ref: pack_ref.clone(),
        from: Some(prepared.current().version.to_string()),
        to: Some(prepared.restored().version.to_string()),
        receipt: Some(prepared.restored().clone()),
        manifest: None,
    };
    let locked = store.clone();
    let done = guarded(ctx, hooks, &[change], move || {
        let done = locked.rollback(&prepared)?;
        let warnings = done.warnings.clone();
        Ok((done, warnings))
    })
    .await;
    attempt.check_guarded(done).await
}

/// Removes `pack_ref` (refused while installed packs depend on it, unless `force`).
pub(crate) async fn uninstall(
    ctx: &Context,
    store: &Arc<LockedStore>,
    hooks: &dyn InstallHooks,
    pack_ref: &PackRef,
    force: bool,
) -> Result<Uninstalled> {
    let attempt = Attempt::new(store, Action::Uninstall, Some(pack_ref));
    let current = {
        let (store, pack_ref) = (store.clone(), pack_ref.clone());
        blocking(move || {
            let current = store.receipt(&pack_ref)?;
            if current.is_none() && !store.is_installed(&pack_ref) {
                return Err(Error::NotInstalled(pack_ref));
            }
            Ok((current, store.receipts()?))
        })
        .await?
    };
    let (current, installed) = current;
    attempt
        .check(deps::check_removable(pack_ref, &installed, force))
        .await?;
    let change = PendingChange::of_removal(pack_ref, current);
    let (locked, removed) = (store.clone(), pack_ref.clone());
    let done = guarded(ctx, hooks, &[change], move || {
        let done = locked.uninstall(&removed)?;
        let warnings = done.warnings.clone();
        Ok((done, warnings))
    })
    .await;
    attempt.check_guarded(done).await
}
