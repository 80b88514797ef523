//! `private/REF.json`: the unredacted sources a pack's versions were fetched from (URLs with
//! their credentials or signed query strings), keyed by content checksum, so that `update`,
//! `outdated --check-sources` and `install --locked` on this host can fetch them again. The
//! directory is 0700 and the file 0600: only the store's owner reads it. Receipts, the
//! history and every output keep the redacted form.

use std::collections::BTreeMap;
use std::fs;

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::fs::fsutil::write_atomic_mode;
use crate::model::checksum::Checksum;
use crate::model::pack_ref::PackRef;

use super::{read_json, to_json, LockedStore, StoreView};

#[derive(Debug, Default, Serialize, Deserialize)]
struct PrivateSources {
    /// Content checksum → the source record (the pipeline's, opaque here).
    sources: BTreeMap<String, serde_json::Value>,
}

impl StoreView {
    /// The private record of where the build of `pack_ref` with `content` came from.
    pub fn private_source(
        &self,
        pack_ref: &PackRef,
        content: &Checksum,
    ) -> Result<Option<serde_json::Value>> {
        let path = self.layout.private(pack_ref);
        let record: Option<PrivateSources> = match read_json(&path) {
            Ok(record) => record,
            // Not the store's owner: the redacted receipt is all this process may know.
            Err(Error::Io { source, .. })
                if source.kind() == std::io::ErrorKind::PermissionDenied =>
            {
                None
            }
            Err(e) => return Err(e),
        };
        Ok(record.and_then(|mut r| r.sources.remove(&content.to_string())))
    }
}

impl LockedStore {
    /// Remembers where the build of `pack_ref` with `content` came from, and forgets the
    /// builds that are neither active nor kept. Written before the commit that installs it:
    /// an entry for an install that then fails is never read.
    pub(super) fn remember_source(
        &self,
        pack_ref: &PackRef,
        content: &Checksum,
        source: serde_json::Value,
    ) -> Result<()> {
        let path = self.layout.private(pack_ref);
        // A damaged record is rewritten rather than stopping every install of the pack.
        let mut record: PrivateSources = read_json(&path).ok().flatten().unwrap_or_default();
        let mut live: Vec<String> = self
            .live_contents(pack_ref)?
            .iter()
            .map(ToString::to_string)
            .collect();
        live.push(content.to_string());
        record.sources.retain(|k, _| live.contains(k));
        record.sources.insert(content.to_string(), source);
        let dir = self.layout.meta.join("private");
        fs::create_dir_all(&dir).ctx(|| format!("creating {}", dir.display()))?;
        restrict(&dir, 0o700)?;
        write_atomic_mode(
            &path,
            &to_json(&record)?,
            self.durability,
            "private.write",
            0o600,
        )
    }

    /// Forgets a removed pack's sources.
    pub(super) fn forget_sources(&self, pack_ref: &PackRef) -> Result<bool> {
        self.remove_record(&self.layout.private(pack_ref), "private.remove")
    }
}

#[cfg(unix)]
fn restrict(path: &std::path::Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .ctx(|| format!("restricting {}", path.display()))
}

#[cfg(not(unix))]
fn restrict(_path: &std::path::Path, _mode: u32) -> Result<()> {
    Ok(())
}
