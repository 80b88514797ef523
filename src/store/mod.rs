//! The pack store (SPEC.md "The store"): `PACKS_DIR/REF/` is the active version, everything
//! else lives under `PACKS_DIR/.attune-pack/`. All access goes through [`LockedStore`], which
//! can only be had by taking the store-wide lock, and which first finishes or undoes whatever
//! an interrupted command left (a journal records each multi-step change before it starts).

mod lock;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::fsutil::{exists, remove_any, write_atomic};
use crate::interrupt::Interrupt;
use crate::receipt::Receipt;

const META: &str = ".attune-pack";

/// A pack store rooted at a packs directory. Cheap; the directory is created on first lock.
#[derive(Debug, Clone)]
pub struct Store {
    packs_dir: PathBuf,
}

impl Store {
    pub fn new(packs_dir: impl Into<PathBuf>) -> Self {
        Store {
            packs_dir: packs_dir.into(),
        }
    }

    pub fn packs_dir(&self) -> &Path {
        &self.packs_dir
    }

    /// Takes the store-wide lock (waiting up to `timeout`, calling `on_wait` once if another
    /// process holds it), then recovers from any interrupted command. Blocking.
    pub fn lock(
        &self,
        timeout: Duration,
        on_wait: &dyn Fn(&Path),
        interrupt: &Interrupt,
    ) -> Result<LockedStore> {
        let meta = self.packs_dir.join(META);
        for dir in ["receipts", "versions", "staging"] {
            fs::create_dir_all(meta.join(dir))
                .ctx(|| format!("creating the pack store in {}", self.packs_dir.display()))?;
        }
        let lock = lock::acquire(&meta.join("lock"), timeout, on_wait, interrupt)?;
        let store = LockedStore {
            packs_dir: self.packs_dir.clone(),
            meta,
            _lock: lock,
        };
        store.recover()?;
        Ok(store)
    }
}

/// What the journal says a multi-step change was doing.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Journal {
    Install {
        pack_ref: String,
        /// The staged pack root; it still exists exactly when the new version is not in place.
        staged: PathBuf,
        previous: Option<Kept>,
        receipt: Box<Receipt>,
        keep_versions: usize,
    },
    Uninstall {
        pack_ref: String,
    },
}

/// A displaced version kept for rollback.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Kept {
    pub version: String,
    pub dir: PathBuf,
    pub receipt: PathBuf,
}

/// A temporary directory inside the store's `staging/` (same file system as the packs, so the
/// final move is a rename). Removed when dropped.
pub type Staging = tempfile::TempDir;

/// The store while this process holds its lock.
#[derive(Debug)]
pub struct LockedStore {
    packs_dir: PathBuf,
    meta: PathBuf,
    _lock: lock::LockFile,
}

impl LockedStore {
    pub fn packs_dir(&self) -> &Path {
        &self.packs_dir
    }

    /// `PACKS_DIR/REF`: where the active version of a pack lives.
    pub fn active_dir(&self, pack_ref: &str) -> PathBuf {
        self.packs_dir.join(pack_ref)
    }

    fn receipt_path(&self, pack_ref: &str) -> PathBuf {
        self.meta.join("receipts").join(format!("{pack_ref}.json"))
    }

    fn versions_dir(&self, pack_ref: &str) -> PathBuf {
        self.meta.join("versions").join(pack_ref)
    }

    fn journal_path(&self) -> PathBuf {
        self.meta.join("journal.json")
    }

    /// A fresh staging directory.
    pub fn staging(&self) -> Result<Staging> {
        tempfile::Builder::new()
            .prefix("stage-")
            .tempdir_in(self.meta.join("staging"))
            .ctx(|| format!("creating a staging directory in {}", self.meta.display()))
    }

    /// The receipt of the active version of `pack_ref`, if any.
    pub fn receipt(&self, pack_ref: &str) -> Result<Option<Receipt>> {
        read_receipt(&self.receipt_path(pack_ref))
    }

    /// Every receipt, sorted by ref.
    pub fn receipts(&self) -> Result<Vec<Receipt>> {
        let dir = self.meta.join("receipts");
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).ctx(|| format!("reading {}", dir.display()))? {
            let path = entry.ctx(|| format!("reading {}", dir.display()))?.path();
            if path.extension().is_some_and(|e| e == "json") {
                if let Some(r) = read_receipt(&path)? {
                    out.push(r);
                }
            }
        }
        out.sort_by(|a, b| a.pack_ref.cmp(&b.pack_ref));
        Ok(out)
    }

    /// Whether a pack of that ref is active (with or without a receipt: a pack placed by hand
    /// counts too).
    pub fn is_installed(&self, pack_ref: &str) -> bool {
        exists(&self.active_dir(pack_ref))
    }

    /// The kept (displaced) versions of a pack, newest first.
    pub fn kept_versions(&self, pack_ref: &str) -> Result<Vec<Kept>> {
        let dir = self.versions_dir(pack_ref);
        let mut kept = Vec::new();
        let Ok(entries) = fs::read_dir(&dir) else {
            return Ok(Vec::new());
        };
        for entry in entries {
            let entry = entry.ctx(|| format!("reading {}", dir.display()))?;
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "json") {
                let version = path
                    .file_stem()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                let mtime = entry.metadata().and_then(|m| m.modified()).ok();
                kept.push((
                    mtime,
                    Kept {
                        dir: dir.join(&version),
                        receipt: path,
                        version,
                    },
                ));
            }
        }
        kept.sort_by_key(|k| std::cmp::Reverse(k.0));
        Ok(kept
            .into_iter()
            .map(|(_, k)| k)
            .filter(|k| k.dir.is_dir())
            .collect())
    }

    /// Makes `staged` (a pack root inside a staging dir) the active version of the receipt's
    /// pack: the previous active version is kept for rollback, the receipt is written last.
    /// Either everything happens or, after a crash, the next lock-taker finishes or undoes it.
    /// Returns the displaced version, if any.
    pub fn commit(
        &self,
        staged: &Path,
        receipt: &Receipt,
        keep_versions: usize,
    ) -> Result<Option<Kept>> {
        let pack_ref = &receipt.pack_ref;
        let active = self.active_dir(pack_ref);
        let previous = if exists(&active) {
            let version = self.active_version(pack_ref);
            let dir = self.versions_dir(pack_ref);
            Some(Kept {
                dir: dir.join(&version),
                receipt: dir.join(format!("{version}.json")),
                version,
            })
        } else {
            None
        };
        let journal = Journal::Install {
            pack_ref: pack_ref.clone(),
            staged: staged.to_owned(),
            previous: previous.clone(),
            receipt: Box::new(receipt.clone()),
            keep_versions,
        };
        self.write_journal(&journal)?;
        if let Err(e) =
            self.apply_install(staged, &active, previous.as_ref(), receipt, keep_versions)
        {
            // Put the store back as it was; the journal makes this the same path as crash
            // recovery.
            let _ = self.recover();
            return Err(e);
        }
        Ok(previous)
    }

    fn apply_install(
        &self,
        staged: &Path,
        active: &Path,
        previous: Option<&Kept>,
        receipt: &Receipt,
        keep_versions: usize,
    ) -> Result<()> {
        if let Some(kept) = previous {
            let old_receipt = self.receipt(&receipt.pack_ref)?;
            remove_any(&kept.dir)?;
            fs::create_dir_all(self.versions_dir(&receipt.pack_ref)).ctx(|| {
                format!(
                    "creating {}",
                    self.versions_dir(&receipt.pack_ref).display()
                )
            })?;
            if let Some(mut old) = old_receipt {
                old.path = kept.dir.clone();
                write_atomic(&kept.receipt, &to_json(&old)?)?;
            } else {
                write_atomic(&kept.receipt, b"{}")?;
            }
            fs::rename(active, &kept.dir)
                .ctx(|| format!("moving {} to {}", active.display(), kept.dir.display()))?;
        }
        fs::rename(staged, active)
            .ctx(|| format!("moving the staged pack into {}", active.display()))?;
        self.finish_install(receipt, keep_versions)
    }

    /// The last steps of an install, also used to roll a crashed one forward.
    fn finish_install(&self, receipt: &Receipt, keep_versions: usize) -> Result<()> {
        write_atomic(&self.receipt_path(&receipt.pack_ref), &to_json(receipt)?)?;
        self.remove_journal()?;
        self.prune(&receipt.pack_ref, keep_versions)
    }

    /// The version of the active pack: from its receipt, else from its pack.yaml.
    fn active_version(&self, pack_ref: &str) -> String {
        if let Ok(Some(r)) = self.receipt(pack_ref) {
            return r.version;
        }
        crate::manifest::Manifest::load(&self.active_dir(pack_ref).join("pack.yaml"))
            .map(|m| m.version.to_string())
            .unwrap_or_else(|_| "unknown".to_owned())
    }

    /// Drops kept versions beyond the newest `keep`, and kept receipts without a directory.
    fn prune(&self, pack_ref: &str, keep: usize) -> Result<()> {
        let dir = self.versions_dir(pack_ref);
        if let Ok(entries) = fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "json")
                    && !path.with_extension("").is_dir()
                {
                    remove_any(&path)?;
                }
            }
        }
        for old in self.kept_versions(pack_ref)?.into_iter().skip(keep) {
            remove_any(&old.receipt)?;
            remove_any(&old.dir)?;
        }
        let _ = fs::remove_dir(&dir); // only succeeds when empty
        Ok(())
    }

    /// Removes a pack: its active version, kept versions and receipt.
    pub fn uninstall(&self, pack_ref: &str) -> Result<()> {
        self.write_journal(&Journal::Uninstall {
            pack_ref: pack_ref.to_owned(),
        })?;
        self.apply_uninstall(pack_ref)
    }

    fn apply_uninstall(&self, pack_ref: &str) -> Result<()> {
        remove_any(&self.receipt_path(pack_ref))?;
        remove_any(&self.active_dir(pack_ref))?;
        remove_any(&self.versions_dir(pack_ref))?;
        self.remove_journal()
    }

    fn write_journal(&self, journal: &Journal) -> Result<()> {
        write_atomic(&self.journal_path(), &to_json(journal)?)
    }

    fn remove_journal(&self) -> Result<()> {
        remove_any(&self.journal_path())
    }

    /// Finishes or undoes an interrupted command, then empties `staging/`.
    fn recover(&self) -> Result<()> {
        let path = self.journal_path();
        if exists(&path) {
            let text = fs::read(&path).ctx(|| format!("reading {}", path.display()))?;
            match serde_json::from_slice::<Journal>(&text) {
                Ok(Journal::Install {
                    pack_ref,
                    staged,
                    previous,
                    receipt,
                    keep_versions,
                }) => {
                    if exists(&staged) {
                        // The new version never became active: put the old one back.
                        let active = self.active_dir(&pack_ref);
                        if let Some(kept) = previous {
                            if !exists(&active) && exists(&kept.dir) {
                                fs::rename(&kept.dir, &active).ctx(|| {
                                    format!(
                                        "restoring {} from {}",
                                        active.display(),
                                        kept.dir.display()
                                    )
                                })?;
                            }
                        }
                        self.remove_journal()?;
                        self.prune(&pack_ref, usize::MAX)?;
                    } else {
                        self.finish_install(&receipt, keep_versions)?;
                    }
                }
                Ok(Journal::Uninstall { pack_ref }) => self.apply_uninstall(&pack_ref)?,
                // A journal we cannot read was never acted on (it is written atomically
                // before any step), so dropping it is safe.
                Err(_) => self.remove_journal()?,
            }
        }
        let staging = self.meta.join("staging");
        for entry in fs::read_dir(&staging).ctx(|| format!("reading {}", staging.display()))? {
            let entry = entry.ctx(|| format!("reading {}", staging.display()))?;
            remove_any(&entry.path())?;
        }
        Ok(())
    }
}

fn read_receipt(path: &Path) -> Result<Option<Receipt>> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Internal(format!("receipt {} is unreadable: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| Error::Internal(e.to_string()))?;
    bytes.push(b'\n');
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receipt::{ReceiptChecksums, ReceiptSource, TestSummary};

    fn receipt(store: &LockedStore, version: &str) -> Receipt {
        Receipt {
            pack_ref: "p".into(),
            version: version.into(),
            label: "P".into(),
            path: store.active_dir("p"),
            installed_at: crate::receipt::now_rfc3339(),
            source: ReceiptSource::default(),
            checksum: ReceiptChecksums::default(),
            tests: TestSummary::default(),
            dependencies: Vec::new(),
        }
    }

    fn stage(store: &LockedStore, staging: &Staging, version: &str) -> PathBuf {
        let dir = staging.path().join("tree");
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join("pack.yaml"),
            format!("ref: p\nversion: {version}\n"),
        )
        .unwrap();
        let _ = store;
        dir
    }

    fn lock(root: &Path) -> LockedStore {
        Store::new(root)
            .lock(Duration::from_secs(1), &|_| {}, &Interrupt::new())
            .unwrap()
    }

    fn active_version(root: &Path) -> String {
        fs::read_to_string(root.join("p/pack.yaml")).unwrap()
    }

    fn staging_is_empty(root: &Path) -> bool {
        fs::read_dir(root.join(".attune-pack/staging"))
            .unwrap()
            .next()
            .is_none()
    }

    #[test]
    fn commit_keeps_previous_version_and_prunes() {
        let tmp = tempfile::tempdir().unwrap();
        let store = lock(tmp.path());
        for v in ["1.0.0", "2.0.0", "3.0.0"] {
            let s = store.staging().unwrap();
            let dir = stage(&store, &s, v);
            store.commit(&dir, &receipt(&store, v), 1).unwrap();
        }
        assert!(active_version(tmp.path()).contains("3.0.0"));
        let kept = store.kept_versions("p").unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].version, "2.0.0");
        assert_eq!(store.receipt("p").unwrap().unwrap().version, "3.0.0");
        assert!(!tmp.path().join(".attune-pack/journal.json").exists());
    }

    /// A crash after the old version was moved away but before the new one was in place:
    /// the next lock-taker puts the old version back.
    #[test]
    fn recovery_undoes_an_install_that_did_not_reach_the_store() {
        let tmp = tempfile::tempdir().unwrap();
        let store = lock(tmp.path());
        let s = store.staging().unwrap();
        let dir = stage(&store, &s, "1.0.0");
        store.commit(&dir, &receipt(&store, "1.0.0"), 1).unwrap();

        let s = store.staging().unwrap();
        let staged = stage(&store, &s, "2.0.0");
        let kept = Kept {
            version: "1.0.0".into(),
            dir: store.versions_dir("p").join("1.0.0"),
            receipt: store.versions_dir("p").join("1.0.0.json"),
        };
        store
            .write_journal(&Journal::Install {
                pack_ref: "p".into(),
                staged: staged.clone(),
                previous: Some(kept.clone()),
                receipt: Box::new(receipt(&store, "2.0.0")),
                keep_versions: 1,
            })
            .unwrap();
        fs::create_dir_all(store.versions_dir("p")).unwrap();
        fs::rename(store.active_dir("p"), &kept.dir).unwrap();
        std::mem::forget(s); // the crashed process never cleaned up
        drop(store);

        let store = lock(tmp.path());
        assert!(active_version(tmp.path()).contains("1.0.0"));
        assert_eq!(store.receipt("p").unwrap().unwrap().version, "1.0.0");
        assert!(store.kept_versions("p").unwrap().is_empty());
        assert!(staging_is_empty(tmp.path()));
        assert!(!tmp.path().join(".attune-pack/journal.json").exists());
    }

    /// A crash after the new version became active but before its receipt was written: the
    /// next lock-taker finishes the install.
    #[test]
    fn recovery_finishes_an_install_that_reached_the_store() {
        let tmp = tempfile::tempdir().unwrap();
        let store = lock(tmp.path());
        let s = store.staging().unwrap();
        let staged = stage(&store, &s, "1.0.0");
        store
            .write_journal(&Journal::Install {
                pack_ref: "p".into(),
                staged: staged.clone(),
                previous: None,
                receipt: Box::new(receipt(&store, "1.0.0")),
                keep_versions: 1,
            })
            .unwrap();
        fs::rename(&staged, store.active_dir("p")).unwrap();
        drop(store);

        let store = lock(tmp.path());
        assert_eq!(store.receipt("p").unwrap().unwrap().version, "1.0.0");
        assert!(active_version(tmp.path()).contains("1.0.0"));
        assert!(!tmp.path().join(".attune-pack/journal.json").exists());
    }

    #[test]
    fn recovery_finishes_an_interrupted_uninstall() {
        let tmp = tempfile::tempdir().unwrap();
        let store = lock(tmp.path());
        let s = store.staging().unwrap();
        let dir = stage(&store, &s, "1.0.0");
        store.commit(&dir, &receipt(&store, "1.0.0"), 1).unwrap();
        store
            .write_journal(&Journal::Uninstall {
                pack_ref: "p".into(),
            })
            .unwrap();
        fs::remove_file(store.receipt_path("p")).unwrap();
        drop(store);

        let store = lock(tmp.path());
        assert!(!store.is_installed("p"));
        assert!(store.receipts().unwrap().is_empty());
    }

    #[test]
    fn a_second_locker_waits_then_gives_up() {
        let tmp = tempfile::tempdir().unwrap();
        let _held = lock(tmp.path());
        let waited = std::sync::atomic::AtomicBool::new(false);
        let err = Store::new(tmp.path())
            .lock(
                Duration::from_millis(300),
                &|_| waited.store(true, std::sync::atomic::Ordering::SeqCst),
                &Interrupt::new(),
            )
            .unwrap_err();
        assert!(waited.load(std::sync::atomic::Ordering::SeqCst));
        assert_eq!(err.code(), "locked");
        assert_eq!(err.exit_code(), 5);
    }
}
