//! Hooks for embedding programs that keep their own record of installed packs (an automation
//! server's database): they see every change to the store (install, update, rollback,
//! uninstall) before and after it is committed.

use async_trait::async_trait;

use crate::error::Error;
use crate::model::history::Action;
use crate::model::pack_ref::PackRef;
use crate::model::receipt::Receipt;
use crate::pack::manifest::Manifest;

/// A change that passed every check, about to be committed.
#[derive(Debug, Clone)]
pub struct PendingChange {
    /// What it does.
    pub operation: Action,
    /// The pack it concerns.
    pub pack_ref: PackRef,
    /// The version active before, if any.
    pub from: Option<String>,
    /// The version active after, if any (none for an uninstall).
    pub to: Option<String>,
    /// The receipt of the version that becomes active (none for an uninstall; for a rollback,
    /// the kept version's).
    pub receipt: Option<Receipt>,
    /// The pack.yaml of a version being installed or updated to.
    pub manifest: Option<Manifest>,
}

impl PendingChange {
    /// An install or update of `receipt` (described by `manifest`), replacing `from`.
    pub(crate) fn of_install(
        operation: Action,
        manifest: &Manifest,
        receipt: &Receipt,
        from: Option<String>,
    ) -> Self {
        PendingChange {
            operation,
            pack_ref: receipt.pack_ref.clone(),
            from,
            to: Some(receipt.version.to_string()),
            receipt: Some(receipt.clone()),
            manifest: Some(manifest.clone()),
        }
    }

    /// The uninstall of `pack_ref`, whose active version has `receipt` (none for a pack
    /// placed by hand).
    pub(crate) fn of_removal(pack_ref: &PackRef, receipt: Option<Receipt>) -> Self {
        PendingChange {
            operation: Action::Uninstall,
            pack_ref: pack_ref.clone(),
            from: receipt.as_ref().map(|r| r.version.to_string()),
            to: None,
            receipt,
            manifest: None,
        }
    }
}

/// Implemented by a program that registers packs in its own database.
///
/// ```
/// use attune_pack::{Action, Error, InstallHooks, PendingChange};
/// struct Db;
/// #[async_trait::async_trait]
/// impl InstallHooks for Db {
///     async fn before_commit(&self, c: &PendingChange) -> Result<(), String> {
///         if c.operation == Action::Uninstall && c.pack_ref == "core" {
///             return Err("the core pack stays on this server".into());
///         }
///         Ok(()) // e.g. UPDATE the pack row inside a transaction here
///     }
///     async fn after_commit(&self, _c: &PendingChange) { /* COMMIT */ }
///     async fn on_abort(&self, _c: &PendingChange, _e: &Error) { /* ROLLBACK */ }
/// }
/// ```
#[async_trait]
pub trait InstallHooks: Send + Sync {
    /// Called with the store locked, before anything in it changes. `Err(reason)` vetoes the
    /// change: the store stays unchanged and the command fails with `hook_veto` (exit 5).
    async fn before_commit(&self, change: &PendingChange) -> Result<(), String> {
        let _ = change;
        Ok(())
    }

    /// Called once the change is in the store (the new version active with its receipt, or
    /// the pack removed).
    async fn after_commit(&self, change: &PendingChange) {
        let _ = change;
    }

    /// Called when the change fails after `before_commit` accepted it, so the program can
    /// undo its own record. The store is unchanged when this runs.
    async fn on_abort(&self, change: &PendingChange, error: &Error) {
        let _ = (change, error);
    }
}

/// The hooks used when the embedding program sets none.
pub(crate) struct NoHooks;

#[async_trait]
impl InstallHooks for NoHooks {}
