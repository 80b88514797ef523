//! Kept versions: the versions an install displaced, kept for rollback under
//! `versions/REF/NAME/`, each with `versions/REF/NAME.json` (the receipt it had, and its place
//! in the order of replacement). NAME is the version and a short content checksum
//! (`2.1.0+3f9a1c2e`), so two builds of one version (a moved branch, a re-published archive)
//! never share a name; `~N` is appended when the same build is kept twice.

use std::fs;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{IoContext, Result};
use crate::fs::fsutil::{remove_any, sync_dir};
use crate::model::checksum::Checksum;
use crate::model::pack_ref::PackRef;
use crate::model::receipt::Receipt;

use super::{LockedStore, StoreView};

/// What `versions/REF/NAME.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptRecord {
    #[serde(flatten)]
    pub receipt: Receipt,
    /// The order of replacement: the highest is the most recently replaced. Recorded, never
    /// inferred from file times.
    #[serde(default)]
    pub kept_seq: u64,
    #[serde(default)]
    pub replaced_at: String,
}

/// A displaced version kept for rollback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    pub version: String,
    /// What `versions/REF/NAME.json` holds.
    pub record: KeptRecord,
    /// Its directory (`versions/REF/NAME/`).
    pub dir: PathBuf,
    /// Its record (`versions/REF/NAME.json`).
    pub receipt: PathBuf,
    pub seq: u64,
}

impl Kept {
    /// Its name under `versions/REF/`.
    pub fn name(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

impl StoreView {
    /// The kept versions of a pack, most recently replaced first. A record without its
    /// directory, or a directory without its record, is not a kept version (recovery removes
    /// both).
    pub fn kept_versions(&self, pack_ref: &PackRef) -> Result<Vec<Kept>> {
        let dir = self.layout.versions(pack_ref);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(crate::error::Error::io(
                    format!("reading {}", dir.display()),
                    e,
                ))
            }
        };
        let mut kept = Vec::new();
        for entry in entries {
            let path = entry.ctx(|| format!("reading {}", dir.display()))?.path();
            let Some(name) = record_name(&path) else {
                continue;
            };
            let Ok(record) = fs::read(&path)
                .map_err(drop)
                .and_then(|b| serde_json::from_slice::<KeptRecord>(&b).map_err(drop))
            else {
                continue;
            };
            let tree = dir.join(name);
            if tree.is_dir() {
                kept.push(Kept {
                    version: record.receipt.version.to_string(),
                    dir: tree,
                    receipt: path,
                    seq: record.kept_seq,
                    record,
                });
            }
        }
        kept.sort_by(|a, b| b.seq.cmp(&a.seq).then_with(|| b.dir.cmp(&a.dir)));
        Ok(kept)
    }

    /// The content checksums of the builds of a pack that are active or kept: those whose
    /// records (private sources, listings) are kept.
    pub(super) fn live_contents(&self, pack_ref: &PackRef) -> Result<Vec<Checksum>> {
        let mut live: Vec<Checksum> = self
            .kept_versions(pack_ref)?
            .into_iter()
            .map(|k| k.record.receipt.checksum.content)
            .collect();
        live.extend(self.receipt(pack_ref)?.map(|r| r.checksum.content));
        Ok(live)
    }
}

impl LockedStore {
    /// A free name under `versions/REF/` for the displaced version `receipt`, and its place
    /// in the order.
    pub(super) fn next_kept(&self, receipt: &Receipt) -> Result<(String, u64)> {
        let pack_ref = &receipt.pack_ref;
        let dir = self.layout.versions(pack_ref);
        let taken = |name: &str| {
            crate::fs::fsutil::exists(&dir.join(name))
                || crate::fs::fsutil::exists(&dir.join(format!("{name}.json")))
        };
        let hex = receipt.checksum.content.hex();
        let base = format!("{}+{}", receipt.version, &hex[..hex.len().min(8)]);
        let mut name = base.clone();
        let mut n = 1;
        while taken(&name) {
            n += 1;
            name = format!("{base}~{n}");
        }
        let seq = self
            .kept_versions(pack_ref)?
            .first()
            .map_or(1, |k| k.seq + 1);
        Ok((name, seq))
    }

    /// Drops kept versions beyond the newest `keep`: each directory is moved to `trash/`
    /// first (one rename), then its record removed, so an interruption leaves at worst an
    /// orphan that recovery removes.
    pub(super) fn prune(&self, pack_ref: &PackRef, keep: usize) -> Result<()> {
        let versions = self.layout.versions(pack_ref);
        for old in self.kept_versions(pack_ref)?.into_iter().skip(keep) {
            crate::util::failpoint::hit("prune.remove")
                .ctx(|| format!("removing {}", old.dir.display()))?;
            self.to_trash(&old.dir, "pruned")?;
            remove_any(&old.receipt)?;
            sync_dir(&versions, self.durability)?;
        }
        let _ = fs::remove_dir(&versions); // only succeeds when empty
        self.purge_trash()?;
        self.prune_envs(pack_ref)
    }
}

/// `NAME` of a kept record `versions/REF/NAME.json` (not of a temporary file).
fn record_name(path: &std::path::Path) -> Option<&str> {
    let file = path.file_name()?.to_str()?;
    if file.starts_with(".tmp-") {
        return None;
    }
    file.strip_suffix(".json").filter(|n| !n.is_empty())
}
