//! Packs' Python environments, in Attune's layout: `RUNTIME_ENVS_DIR/REF/python` is where
//! Attune's workers look. A venv cannot be moved once built (its scripts name its path), so
//! each is built where it stays, `REF/.versions/KEY/`, and `REF/python` is a relative link to
//! the active version's: the one thing a change switches, by renaming a new link over it.
//!
//! The link is a journaled step of every change that makes another version active (install,
//! rollback, and each install of a set), taken after the pack's own rename and before its
//! receipt. It always follows the pack: finishing a change points it at the new version's
//! environment, undoing one points it back, so recovery after a kill at any step leaves the
//! active pack and its environment in agreement. Environments of kept versions stay until
//! their versions are pruned; `uninstall` removes `REF/` whole once past its commit point.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::fs::dirlock::DirLock;
use crate::fs::fsutil::{remove_any, rename, sync_dir};
use crate::model::pack_ref::PackRef;
use crate::model::receipt::{EnvStatus, Receipt};

use super::{unique_name, LockedStore};

/// The link `python` in an environments directory, and the directory versions are built in.
const LINK: &str = "python";
const VERSIONS: &str = ".versions";

/// The switch of `REF/python` a change makes, in its journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct EnvLink {
    /// `RUNTIME_ENVS_DIR/REF`.
    pub root: PathBuf,
    /// What the link says once the change is done (`.versions/KEY`); none: no link.
    pub new: Option<String>,
    /// What it said before.
    pub old: Option<String>,
}

/// What the link of `receipt`'s version says: its environment's directory, relative to the
/// link, when one was built.
fn target_of(receipt: &Receipt) -> Option<String> {
    if receipt.env.status != EnvStatus::Ready {
        return None;
    }
    let name = receipt.env.dir.as_ref()?.file_name()?.to_str()?;
    Some(format!("{VERSIONS}/{name}"))
}

/// What the link at `path` says, if it is a link.
fn read_target(path: &Path) -> Result<Option<String>> {
    match fs::read_link(path) {
        Ok(target) => Ok(Some(target.to_string_lossy().into_owned())),
        // Nothing there, or a directory (a venv Attune built itself): no link of ours.
        Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::EINVAL) => {
            Ok(None)
        }
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
    }
}

impl LockedStore {
    /// The switch that making `receipt` active takes; none when there is nothing to switch
    /// (no environments directory, no environment before or after). An environment that
    /// vanished since it was built (removed by another command) fails the change now, before
    /// any step.
    pub(super) fn env_link(&self, receipt: &Receipt) -> Result<Option<EnvLink>> {
        let Some(root) = self.layout.env_root(&receipt.pack_ref) else {
            return Ok(None);
        };
        let new = target_of(receipt);
        let old = read_target(&root.join(LINK))?;
        if let Some(target) = &new {
            let marker = root.join(target).join(crate::model::receipt::ENV_MARKER);
            if !marker.is_file() {
                return Err(Error::EnvFailed {
                    pack_ref: receipt.pack_ref.clone(),
                    why: format!(
                        "{} was removed before the commit (by another command?); install again",
                        root.join(target).display()
                    ),
                });
            }
        }
        if new.is_none() && old.is_none() {
            return Ok(None);
        }
        Ok(Some(EnvLink { root, new, old }))
    }

    /// Makes `link.root/python` say `target` (none: removes the link): a new link renamed
    /// over the old one, so Attune's workers see one or the other. Returns whether anything
    /// changed.
    pub(super) fn set_env_link(&self, link: &EnvLink, target: Option<&str>) -> Result<bool> {
        let path = link.root.join(LINK);
        if read_target(&path)?.as_deref() == target {
            return Ok(false);
        }
        match target {
            Some(target) => {
                if fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                    // A venv Attune's worker built itself: this pack's own replaces it.
                    remove_any(&path)?;
                }
                let tmp = link.root.join(format!(".tmp-{}", unique_name(LINK)));
                std::os::unix::fs::symlink(target, &tmp)
                    .ctx(|| format!("creating the link {}", tmp.display()))?;
                rename(&tmp, &path, self.durability, "env.switch")
                    .inspect_err(|_| drop(fs::remove_file(&tmp)))?;
            }
            None => {
                crate::util::failpoint::hit("env.switch")
                    .and_then(|_| fs::remove_file(&path))
                    .ctx(|| format!("removing the link {}", path.display()))?;
                sync_dir(&link.root, self.durability)?;
            }
        }
        Ok(true)
    }

    /// Removes the environments of `pack_ref`'s versions that are neither active nor kept,
    /// except one an install is building or holds for its commit (its lock is taken).
    pub(super) fn prune_envs(&self, pack_ref: &PackRef) -> Result<()> {
        let Some(root) = self.layout.env_root(pack_ref) else {
            return Ok(());
        };
        let versions = root.join(VERSIONS);
        let entries = match fs::read_dir(&versions) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(format!("reading {}", versions.display()), e)),
        };
        let mut live: Vec<PathBuf> = self
            .kept_versions(pack_ref)?
            .into_iter()
            .filter_map(|k| k.record.receipt.env.dir)
            .collect();
        live.extend(self.receipt(pack_ref)?.and_then(|r| r.env.dir));
        for entry in entries {
            let path = entry
                .ctx(|| format!("reading {}", versions.display()))?
                .path();
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if name.ends_with(".lock") {
                // Left by a killed install: taken and let go, it is removed.
                if let Some(stale) = DirLock::try_take(&path)? {
                    stale.release();
                }
                continue;
            }
            if live.contains(&path) {
                continue;
            }
            let Some(lock) = DirLock::try_take(&versions.join(format!("{name}.lock")))? else {
                continue; // an install's, until it commits or gives up
            };
            crate::util::failpoint::hit("env.prune")
                .ctx(|| format!("removing {}", path.display()))?;
            remove_any(&path)?;
            lock.release();
        }
        Ok(())
    }

    /// Removes `RUNTIME_ENVS_DIR/REF` whole (uninstall, past its commit point). Returns
    /// whether it was there.
    pub(super) fn forget_envs(&self, pack_ref: &PackRef) -> Result<bool> {
        let Some(root) = self.layout.env_root(pack_ref) else {
            return Ok(false);
        };
        if !crate::fs::fsutil::exists(&root) {
            return Ok(false);
        }
        crate::util::failpoint::hit("uninstall.envs")
            .ctx(|| format!("removing {}", root.display()))?;
        remove_any(&root)?;
        Ok(true)
    }
}
