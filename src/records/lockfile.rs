//! Lockfiles: the installed packs of a store, exactly, so that another host can hold the same
//! ones (`lock -o FILE`, `install --locked FILE`). JSON, `{"version": 1, "packs": [...]}`,
//! one entry per pack with its version, requirement, source (credentials and query strings
//! redacted: another host brings its own) and both checksums. The format is documented in
//! `docs/lockfile.md`.

use std::path::Path;

use semver::Version;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::pack_ref::PackRef;
use crate::model::receipt::{Receipt, ReceiptChecksums, ReceiptSource};

/// The lockfile format this version writes and reads.
pub const LOCKFILE_VERSION: u32 = 1;

/// A set of packs, each at one build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lockfile {
    /// The format's version (1).
    pub version: u32,
    /// One entry per pack, sorted by ref.
    pub packs: Vec<LockedPack>,
}

/// One pack of a lockfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedPack {
    /// The pack's ref.
    #[serde(rename = "ref")]
    pub pack_ref: PackRef,
    /// Its version.
    pub version: Version,
    /// The requirement it was installed with, if any.
    #[serde(default)]
    pub requirement: Option<String>,
    /// Where it came from (redacted), with the commit of a git source.
    pub source: ReceiptSource,
    /// The archive's checksum (archive sources) and the content checksum.
    pub checksum: ReceiptChecksums,
}

impl LockedPack {
    /// The entry of an installed pack.
    pub fn of(receipt: &Receipt) -> LockedPack {
        LockedPack {
            pack_ref: receipt.pack_ref.clone(),
            version: receipt.version.clone(),
            requirement: receipt.requirement.clone(),
            source: receipt.source.clone(),
            checksum: receipt.checksum.clone(),
        }
    }

    /// Whether `receipt` is this very build.
    pub fn is_installed_as(&self, receipt: &Receipt) -> bool {
        receipt.version == self.version && receipt.checksum.content == self.checksum.content
    }
}

impl Lockfile {
    /// The lockfile of `receipts`.
    pub fn of(receipts: &[Receipt]) -> Lockfile {
        let mut packs: Vec<LockedPack> = receipts.iter().map(LockedPack::of).collect();
        packs.sort_by(|a, b| a.pack_ref.cmp(&b.pack_ref));
        Lockfile {
            version: LOCKFILE_VERSION,
            packs,
        }
    }

    /// Reads a lockfile (`origin` names it in errors). A format version this build does not
    /// know, or a pack listed twice, is refused.
    pub fn parse(bytes: &[u8], origin: &str) -> Result<Lockfile> {
        let lock: Lockfile = serde_json::from_slice(bytes)
            .map_err(|e| Error::Usage(format!("{origin} is not a valid lockfile: {e}")))?;
        if lock.version != LOCKFILE_VERSION {
            return Err(Error::Usage(format!(
                "{origin} is a version {} lockfile; this attune-pack reads version {LOCKFILE_VERSION}",
                lock.version
            )));
        }
        let mut refs: Vec<&PackRef> = lock.packs.iter().map(|p| &p.pack_ref).collect();
        refs.sort();
        if let Some(w) = refs.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::Usage(format!(
                "{origin} lists pack `{}` twice",
                w[0]
            )));
        }
        if let Some(p) = lock.packs.iter().find(|p| p.source.kind.is_none()) {
            return Err(Error::Usage(format!(
                "{origin}: pack `{}` has no source kind",
                p.pack_ref
            )));
        }
        Ok(lock)
    }

    /// Reads the lockfile at `path`.
    pub fn read(path: &Path) -> Result<Lockfile> {
        let bytes = std::fs::read(path)
            .map_err(|e| Error::NotFound(format!("lockfile {}: {e}", path.display())))?;
        Lockfile::parse(&bytes, &path.display().to_string())
    }

    /// The JSON text, with a final newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}
