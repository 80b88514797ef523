//! The store as an install sees it before its commit: created and recovered, but not locked.
//! Fetching, extracting and testing happen in its staging directories, so neither readers
//! nor other writers wait behind a slow download; the exclusive lock is taken for the final
//! re-check and the commit only.

use std::path::Path;
use std::time::Duration;

use crate::error::Result;
use crate::model::history::{Record, Recovered};
use crate::util::interrupt::Interrupt;

use super::{LockedStore, Store, StoreView};

/// A store this process will write, not locked (see [`Workspace::lock`]).
#[derive(Debug)]
pub struct Workspace {
    view: StoreView,
    store: Store,
    pub(super) recovered: Vec<Recovered>,
    pub(super) warnings: Vec<String>,
}

impl Store {
    /// The store for an install: created, and recovered under the exclusive lock, which is
    /// then released until the install commits. Blocking.
    pub fn workspace(
        &self,
        timeout: Duration,
        on_wait: &dyn Fn(&Path),
        interrupt: &Interrupt,
    ) -> Result<Workspace> {
        let mut locked = self.lock(timeout, on_wait, interrupt)?;
        Ok(Workspace {
            view: StoreView {
                layout: self.layout(),
            },
            store: self.clone(),
            recovered: std::mem::take(&mut locked.recovered),
            warnings: std::mem::take(&mut locked.warnings),
        })
    }
}

impl Workspace {
    /// Takes the exclusive lock for a commit (recovering what another command left
    /// unfinished meanwhile). Blocking.
    pub fn lock(
        &self,
        timeout: Duration,
        on_wait: &dyn Fn(&Path),
        interrupt: &Interrupt,
    ) -> Result<LockedStore> {
        self.store.lock(timeout, on_wait, interrupt)
    }

    /// Appends a failed attempt to the history without the lock: one `O_APPEND` write per
    /// line, which concurrent writers cannot interleave. A failure is returned as a warning.
    pub fn record(&self, record: &Record) -> Option<String> {
        super::history::record(&self.view.layout.history(), record, self.store.durability)
    }
}

impl std::ops::Deref for Workspace {
    type Target = StoreView;
    fn deref(&self) -> &StoreView {
        &self.view
    }
}
