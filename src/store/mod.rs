//! The pack store: `PACKS_DIR/REF/` is the active version, everything else lives under
//! `PACKS_DIR/.attune-pack/`:
//!
//! ```text
//! receipts/REF.json            the active version's receipt
//! versions/REF/NAME/, NAME.json  displaced versions kept for rollback, with their records
//! journal.jsonl                only while a change is under way
//! history.jsonl                every change, appended
//! private/REF.json             unredacted sources, for the store's owner only (0600)
//! listings/REF/HEX             the per-file lines of each active or kept build's content
//!                              checksum (HEX: its hex), for `verify`
//! staging/, trash/             work areas, emptied whenever a writing command starts
//! lock                         the store-wide lock
//! ```
//!
//! Packs' Python environments live beside it, in the runtime environments directory
//! (`envs.rs`): `REF/python` links to the environment of the active version, and switches
//! with it in the same journaled change.
//!
//! All access goes through [`LockedStore`], which can only be had by taking the store-wide
//! lock, and which first finishes or undoes whatever an interrupted command left: a change
//! journals each step before taking it, and recovery decides from the journal and from the
//! identity of the directories on disk (see `txn.rs`), never from a missing directory alone.

mod envs;
mod history;
mod journal;
mod kept;
mod listing;
mod lock;
mod private;
mod recover;
mod rollback;
mod set;
mod staging;
mod txn;
mod workspace;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, IoContext, Result};
use crate::fs::fsutil::{exists, remove_any, rename, Durability};
use crate::model::pack_ref::PackRef;
use crate::model::receipt::Receipt;
use crate::util::interrupt::Interrupt;

use crate::model::history::{Record, Recovered};
use lock::Mode;

pub use rollback::RolledBack;
pub use set::SetChange;
pub use staging::Staging;
pub use workspace::Workspace;

pub use txn::Uninstalled;

const META: &str = ".attune-pack";

/// A pack store rooted at a packs directory. Cheap; the directory is created on first lock.
#[derive(Debug, Clone)]
pub struct Store {
    packs_dir: PathBuf,
    durability: Durability,
    runtime_envs: Option<PathBuf>,
}

impl Store {
    pub fn new(packs_dir: impl Into<PathBuf>) -> Self {
        Store {
            packs_dir: packs_dir.into(),
            durability: Durability::Sync,
            runtime_envs: None,
        }
    }

    /// Whether commits wait for the data to reach the disk (config `sync`; default yes).
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Where packs' Python environments live (`REF/python`); without it, none is switched,
    /// pruned or removed.
    pub fn runtime_envs(mut self, dir: impl Into<PathBuf>) -> Self {
        self.runtime_envs = Some(dir.into());
        self
    }

    pub fn packs_dir(&self) -> &Path {
        &self.packs_dir
    }

    fn layout(&self) -> Layout {
        Layout {
            packs: self.packs_dir.clone(),
            meta: self.packs_dir.join(META),
            envs: self.runtime_envs.clone(),
        }
    }

    /// Takes the store-wide lock (waiting up to `timeout`, calling `on_wait` once if another
    /// process holds it), then recovers from any interrupted command. Blocking.
    pub fn lock(
        &self,
        timeout: Duration,
        on_wait: &dyn Fn(&Path),
        interrupt: &Interrupt,
    ) -> Result<LockedStore> {
        let layout = self.layout();
        for dir in [
            layout.receipts(),
            layout.meta.join("versions"),
            layout.meta.join("listings"),
            layout.staging(),
            layout.trash(),
        ] {
            fs::create_dir_all(&dir)
                .ctx(|| format!("creating the pack store in {}", self.packs_dir.display()))?;
        }
        let lock = lock::acquire(&layout.lock(), Mode::Exclusive, timeout, on_wait, interrupt)?;
        let mut store = LockedStore {
            view: StoreView { layout },
            durability: self.durability,
            _lock: lock,
            recovered: Vec::new(),
            warnings: Vec::new(),
        };
        (store.recovered, store.warnings) = store.recover()?;
        Ok(store)
    }

    /// The store for reading, under a shared lock: never created (a missing store reads as
    /// empty). When an interrupted command left a change unfinished, it is recovered first
    /// if this process may write the store; otherwise it is read as it is, with a warning.
    pub fn read(
        &self,
        timeout: Duration,
        on_wait: &dyn Fn(&Path),
        interrupt: &Interrupt,
    ) -> Result<ReadStore> {
        let layout = self.layout();
        if !exists(&layout.lock()) {
            // No writing command ever ran here: nothing to read, nothing to recover.
            return Ok(ReadStore::new(layout, None, Vec::new(), Vec::new()));
        }
        let path = layout.lock();
        let shared = || lock::acquire(&path, Mode::Shared, timeout, on_wait, interrupt);
        let (mut recovered, mut warnings) = (Vec::new(), Vec::new());
        // A writer killed while this one waited leaves its journal: looked for under the
        // shared lock, recovered under the exclusive one, then looked for again.
        for _ in 0..3 {
            let lock = shared()?;
            if !exists(&layout.journal()) {
                return Ok(ReadStore::new(layout, Some(lock), recovered, warnings));
            }
            drop(lock);
            match self.lock(timeout, on_wait, interrupt) {
                Ok(locked) => {
                    recovered.extend(locked.recovered);
                    warnings.extend(locked.warnings);
                }
                Err(e @ (Error::Locked { .. } | Error::Interrupted { .. })) => return Err(e),
                Err(e) => {
                    warnings.push(format!(
                        "an interrupted change could not be recovered ({e}); showing the store as it is"
                    ));
                    break;
                }
            }
        }
        let lock = shared()?;
        Ok(ReadStore::new(layout, Some(lock), recovered, warnings))
    }
}

/// Where everything of a store is.
#[derive(Debug, Clone)]
struct Layout {
    packs: PathBuf,
    meta: PathBuf,
    /// The runtime environments directory, when there is one.
    envs: Option<PathBuf>,
}

impl Layout {
    fn active(&self, pack_ref: &PackRef) -> PathBuf {
        self.packs.join(pack_ref)
    }
    fn receipts(&self) -> PathBuf {
        self.meta.join("receipts")
    }
    fn receipt(&self, pack_ref: &PackRef) -> PathBuf {
        self.receipts().join(format!("{pack_ref}.json"))
    }
    fn versions(&self, pack_ref: &PackRef) -> PathBuf {
        self.meta.join("versions").join(pack_ref)
    }
    fn journal(&self) -> PathBuf {
        self.meta.join("journal.jsonl")
    }
    fn history(&self) -> PathBuf {
        self.meta.join("history.jsonl")
    }
    fn lock(&self) -> PathBuf {
        self.meta.join("lock")
    }
    fn private(&self, pack_ref: &PackRef) -> PathBuf {
        self.meta.join("private").join(format!("{pack_ref}.json"))
    }
    fn listings(&self, pack_ref: &PackRef) -> PathBuf {
        self.meta.join("listings").join(pack_ref)
    }
    fn listing(&self, pack_ref: &PackRef, content: &crate::model::checksum::Checksum) -> PathBuf {
        self.listings(pack_ref).join(content.hex())
    }
    fn staging(&self) -> PathBuf {
        self.meta.join("staging")
    }
    fn trash(&self) -> PathBuf {
        self.meta.join("trash")
    }
    /// `RUNTIME_ENVS_DIR/REF`: a pack's environments.
    fn env_root(&self, pack_ref: &PackRef) -> Option<PathBuf> {
        self.envs.as_ref().map(|dir| dir.join(pack_ref))
    }
}

/// What can be read of a store, whichever lock is held.
#[derive(Debug)]
pub struct StoreView {
    layout: Layout,
}

/// The store while this process holds its exclusive lock: every change goes through it.
#[derive(Debug)]
pub struct LockedStore {
    view: StoreView,
    durability: Durability,
    _lock: lock::LockFile,
    recovered: Vec<Recovered>,
    warnings: Vec<String>,
}

/// The store while this process holds a shared lock (or none, when there is no store yet):
/// read-only commands see no change half made.
#[derive(Debug)]
pub struct ReadStore {
    view: StoreView,
    _lock: Option<lock::LockFile>,
    recovered: Vec<Recovered>,
    warnings: Vec<String>,
}

impl std::ops::Deref for LockedStore {
    type Target = StoreView;
    fn deref(&self) -> &StoreView {
        &self.view
    }
}

impl std::ops::Deref for ReadStore {
    type Target = StoreView;
    fn deref(&self) -> &StoreView {
        &self.view
    }
}

impl ReadStore {
    fn new(
        layout: Layout,
        lock: Option<lock::LockFile>,
        recovered: Vec<Recovered>,
        warnings: Vec<String>,
    ) -> ReadStore {
        ReadStore {
            view: StoreView { layout },
            _lock: lock,
            recovered,
            warnings,
        }
    }
}

/// Where failed attempts are recorded: the locked store, or an install's workspace before
/// it locks the store.
pub trait Ledger: Send + Sync {
    /// What can be read of the store.
    fn view(&self) -> &StoreView;
    /// Appends to the history; a failure is returned as a warning.
    fn record(&self, record: &Record) -> Option<String>;
}

impl Ledger for LockedStore {
    fn view(&self) -> &StoreView {
        self
    }
    fn record(&self, record: &Record) -> Option<String> {
        LockedStore::record(self, record)
    }
}

impl Ledger for Workspace {
    fn view(&self) -> &StoreView {
        self
    }
    fn record(&self, record: &Record) -> Option<String> {
        Workspace::record(self, record)
    }
}

/// What opening a store reports.
pub trait Opened {
    /// What taking the lock finished or undid of interrupted commands.
    fn recovered(&self) -> &[Recovered];
    /// Tidying that could not be finished (it is tried again next time), or why the store
    /// may not be as the last command left it.
    fn warnings(&self) -> &[String];
}

/// [`Opened`] for the stores that keep what opening them reported.
macro_rules! opened {
    ($($store:ty),*) => {$(
        impl Opened for $store {
            fn recovered(&self) -> &[Recovered] {
                &self.recovered
            }
            fn warnings(&self) -> &[String] {
                &self.warnings
            }
        }
    )*};
}

opened!(ReadStore, LockedStore, Workspace);

impl StoreView {
    /// `PACKS_DIR/REF`: where the active version of a pack lives.
    pub fn active_dir(&self, pack_ref: &PackRef) -> PathBuf {
        self.layout.active(pack_ref)
    }

    /// The receipt of the active version of `pack_ref`, if any.
    pub fn receipt(&self, pack_ref: &PackRef) -> Result<Option<Receipt>> {
        read_json(&self.layout.receipt(pack_ref))
    }

    /// Every receipt, sorted by ref.
    pub fn receipts(&self) -> Result<Vec<Receipt>> {
        let dir = self.layout.receipts();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(format!("reading {}", dir.display()), e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let path = entry.ctx(|| format!("reading {}", dir.display()))?.path();
            let Some(pack_ref) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json"))
                .and_then(PackRef::new)
            else {
                continue; // a temporary file, or not a receipt
            };
            if let Some(r) = self.receipt(&pack_ref)? {
                out.push(r);
            }
        }
        out.sort_by(|a, b| a.pack_ref.cmp(&b.pack_ref));
        Ok(out)
    }

    /// Whether a pack of that ref is active (with or without a receipt: a pack placed by hand
    /// counts too).
    pub fn is_installed(&self, pack_ref: &PackRef) -> bool {
        exists(&self.active_dir(pack_ref))
    }

    /// The history of changes, oldest first, and how many lines could not be read.
    pub fn history(&self) -> Result<history::Log> {
        history::read(&self.layout.history())
    }

    /// A fresh staging directory inside the store's `staging/` (the same file system as the
    /// packs, so the final move is a rename), left alone by other commands while this one
    /// runs. Needs no lock: an install stages before it locks the store.
    pub fn staging(&self) -> Result<Staging> {
        Staging::create(&self.layout.staging())
    }
}

impl LockedStore {
    /// Appends to the history; a failure is returned as a warning, never as an error: the
    /// change it records has happened (or not) either way.
    pub fn record(&self, record: &Record) -> Option<String> {
        history::record(&self.layout.history(), record, self.durability)
    }

    /// Moves `path` into `trash/` (one rename), from where it is deleted; returns where.
    fn to_trash(&self, path: &Path, tag: &str) -> Result<PathBuf> {
        let to = self.layout.trash().join(unique_name(tag));
        rename(path, &to, self.durability, "trash.move")?;
        Ok(to)
    }

    /// Deletes what is in `trash/`: nothing there is part of the store any more.
    fn purge_trash(&self) -> Result<()> {
        empty_dir(&self.layout.trash())
    }
}

/// A name no other trash entry has.
fn unique_name(tag: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{tag}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Removes everything inside `dir`.
fn empty_dir(dir: &Path) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(format!("reading {}", dir.display()), e)),
    };
    for entry in entries {
        let entry = entry.ctx(|| format!("reading {}", dir.display()))?;
        crate::util::failpoint::hit("trash.purge")
            .ctx(|| format!("removing {}", entry.path().display()))?;
        remove_any(&entry.path())?;
    }
    Ok(())
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Internal(format!("{} is unreadable: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| Error::Internal(e.to_string()))?;
    bytes.push(b'\n');
    Ok(bytes)
}

#[cfg(test)]
mod tests;
