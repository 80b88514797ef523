//! Stages 7–8: the receipt, the embedding program's hooks, and the atomic commit into the
//! store (which journals it; see `store`).

use std::sync::Arc;

use crate::context::{blocking, Context};
use crate::error::{Error, Result};
use crate::events::{Event, Phase};
use crate::hooks::{InstallHooks, PendingInstall};
use crate::receipt::{now, Receipt, ReceiptChecksums, TestSummary};
use crate::store::LockedStore;

use super::validate::Validated;

/// The receipt `v` gets once installed.
pub(crate) fn receipt(store: &LockedStore, v: &Validated, tests: TestSummary) -> Receipt {
    let manifest = &v.manifest;
    Receipt {
        pack_ref: manifest.pack_ref.clone(),
        version: manifest.version.clone(),
        label: manifest.label.clone(),
        path: store.active_dir(&manifest.pack_ref),
        installed_at: now(),
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
            .collect(),
    }
}

/// Commits `v` as `receipt`, once the hooks accept it, and tells them how it ended: an `Ok`
/// means the new version is active with its receipt (and `after_commit` ran).
pub(crate) async fn commit(
    ctx: &Context,
    store: &Arc<LockedStore>,
    hooks: &dyn InstallHooks,
    v: Validated,
    receipt: &Receipt,
    replaces: Option<String>,
) -> Result<()> {
    let pending = PendingInstall {
        manifest: v.manifest.clone(),
        receipt: receipt.clone(),
        replaces,
    };
    hooks
        .before_commit(&pending)
        .await
        .map_err(Error::HookVeto)?;
    let committed = match ctx.interrupt().check() {
        Ok(()) => {
            ctx.emit(Event::Phase(Phase::Committing));
            let (store, staged) = (store.clone(), v.located.dir.clone());
            let (receipt, keep) = (receipt.clone(), ctx.config().keep_versions);
            blocking(move || store.commit(&staged, &receipt, keep)).await
        }
        Err(e) => Err(e),
    };
    match committed {
        Ok(done) => {
            done.warnings.into_iter().for_each(|w| ctx.warn(w));
            drop(v); // its staging directory, now empty
            hooks.after_commit(receipt).await;
            Ok(())
        }
        Err(e) => {
            hooks.on_abort(&pending, &e).await;
            Err(e)
        }
    }
}
