//! The history's record of attempts that failed before the store was asked to change: an
//! attempt counts once it has identified its pack (a registry reference names it; any other
//! source once its pack.yaml is read). The store records the failures of its own changes.

use std::sync::Arc;

use semver::Version;

use crate::context::blocking;
use crate::error::{Error, Result};
use crate::model::history::{Action, Outcome, Record};
use crate::model::pack_ref::PackRef;
use crate::store::Ledger;

/// One attempt at changing a pack.
pub(crate) struct Attempt {
    pub store: Arc<dyn Ledger>,
    pub action: Action,
    /// The pack, once known.
    pub pack_ref: Option<PackRef>,
    /// The version it was to install, once known.
    pub to: Option<Version>,
}

impl Attempt {
    pub fn new<L: Ledger + 'static>(
        store: &Arc<L>,
        action: Action,
        pack_ref: Option<&PackRef>,
    ) -> Self {
        Attempt {
            store: store.clone(),
            action,
            pack_ref: pack_ref.cloned(),
            to: None,
        }
    }

    /// The same attempt, now known to be about `pack_ref` at `version`.
    pub fn of(&self, pack_ref: &PackRef, version: &Version) -> Self {
        Attempt {
            store: self.store.clone(),
            action: self.action,
            pack_ref: Some(pack_ref.clone()),
            to: Some(version.clone()),
        }
    }

    /// `result`, its failure recorded.
    pub async fn check<T>(&self, result: Result<T>) -> Result<T> {
        match result {
            Ok(v) => Ok(v),
            Err(e) => Err(self.failed(e).await),
        }
    }

    /// `result` of a change guarded by the hooks: its failure recorded when it came before
    /// the store was asked (a veto, an interrupt).
    pub async fn check_guarded<T>(&self, result: Result<T>) -> Result<T> {
        match result {
            Err(e @ (Error::HookVeto(_) | Error::Interrupted { .. })) => Err(self.failed(e).await),
            other => other,
        }
    }

    /// Records the failure `e` (when the pack is known), and passes it on.
    pub async fn failed(&self, e: Error) -> Error {
        let Some(pack_ref) = self.pack_ref.clone() else {
            return e;
        };
        let mut record = Record::now(self.action, pack_ref.clone(), Outcome::Failed);
        record.to = self.to.as_ref().map(ToString::to_string);
        record.error = Some(e.code().to_owned());
        let store = self.store.clone();
        let _ = blocking(move || {
            record.from = store
                .view()
                .receipt(&pack_ref)?
                .map(|r| r.version.to_string());
            Ok(store.record(&record))
        })
        .await;
        e
    }
}
