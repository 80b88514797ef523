//! Hooks for embedding programs that keep their own record of installed packs (an automation
//! server's database): they see each install before and after it is committed.

use async_trait::async_trait;

use crate::error::Error;
use crate::manifest::Manifest;
use crate::receipt::Receipt;

/// An install that passed validation, tests and dependency checks, about to be committed.
#[derive(Debug, Clone)]
pub struct PendingInstall {
    /// The pack's pack.yaml.
    pub manifest: Manifest,
    /// The receipt that will be written if the commit succeeds.
    pub receipt: Receipt,
    /// The version being replaced, if any.
    pub replaces: Option<String>,
}

/// Implemented by a program that registers packs in its own database.
///
/// ```
/// use attune_pack::{InstallHooks, PendingInstall, Receipt, Error};
/// struct Db;
/// #[async_trait::async_trait]
/// impl InstallHooks for Db {
///     async fn before_commit(&self, p: &PendingInstall) -> Result<(), String> {
///         if p.manifest.pack_ref == "forbidden" { return Err("not on this server".into()) }
///         Ok(()) // e.g. INSERT the pack row inside a transaction here
///     }
///     async fn after_commit(&self, _r: &Receipt) { /* COMMIT */ }
///     async fn on_abort(&self, _p: &PendingInstall, _e: &Error) { /* ROLLBACK */ }
/// }
/// ```
#[async_trait]
pub trait InstallHooks: Send + Sync {
    /// Called with the store locked, before anything in it changes. `Err(reason)` vetoes the
    /// install: the store stays unchanged and the install fails with `hook_veto` (exit 5).
    async fn before_commit(&self, pending: &PendingInstall) -> Result<(), String> {
        let _ = pending;
        Ok(())
    }

    /// Called once the new version is active and its receipt written.
    async fn after_commit(&self, receipt: &Receipt) {
        let _ = receipt;
    }

    /// Called when the install fails after `before_commit` accepted it, so the program can
    /// undo its own record. The store is unchanged when this runs.
    async fn on_abort(&self, pending: &PendingInstall, error: &Error) {
        let _ = (pending, error);
    }
}

/// The hooks used when the embedding program sets none.
pub(crate) struct NoHooks;

#[async_trait]
impl InstallHooks for NoHooks {}
