//! `listings/REF/HEX`: the per-file lines of a build's content checksum (the text whose
//! sha256 is the checksum, HEX its hex), so that `verify` can name the files of an installed
//! pack that changed. Keyed by the checksum like the private record of sources: a rollback
//! or a kept version needs no listing moved, a listing can never describe another build than
//! the receipt naming it, and one written for an install that then fails is never read.

use std::fs;

use crate::error::{Error, IoContext, Result};
use crate::fs::fsutil::{exists, remove_any, rename, sync_dir, Durability};
use crate::integrity::hashing::listing_checksum;
use crate::model::checksum::Checksum;
use crate::model::pack_ref::PackRef;

use super::{unique_name, LockedStore, StoreView};

impl StoreView {
    /// The listing recorded for the build of `pack_ref` with `content`; none for a pack
    /// installed before listings were recorded (or placed by hand).
    pub fn listing(&self, pack_ref: &PackRef, content: &Checksum) -> Result<Option<Vec<u8>>> {
        let path = self.layout.listing(pack_ref, content);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
        }
    }
}

impl LockedStore {
    /// Records `listing` for the build of `pack_ref` it is the checksum text of, and forgets
    /// the listings of builds that are neither active nor kept. Written, durably, before the
    /// commit that installs the build.
    pub(super) fn record_listing(
        &self,
        pack_ref: &PackRef,
        content: &Checksum,
        listing: &[u8],
    ) -> Result<()> {
        if listing_checksum(listing) != *content {
            return Err(Error::Internal(format!(
                "the file listing of {pack_ref} does not hash to its content checksum {content}"
            )));
        }
        let dir = self.layout.listings(pack_ref);
        if !exists(&dir) {
            fs::create_dir_all(&dir).ctx(|| format!("creating {}", dir.display()))?;
            sync_dir(&self.layout.meta.join("listings"), self.durability)?;
        }
        let mut live = self.live_contents(pack_ref)?;
        live.push(content.clone());
        let live: Vec<String> = live.iter().map(Checksum::hex).collect();
        for entry in fs::read_dir(&dir).ctx(|| format!("reading {}", dir.display()))? {
            let entry = entry.ctx(|| format!("reading {}", dir.display()))?;
            if !live.contains(&entry.file_name().to_string_lossy().into_owned()) {
                remove_any(&entry.path())?;
            }
        }
        let path = self.layout.listing(pack_ref, content);
        self.write_if_changed(&path, listing, "listing.write")?;
        Ok(())
    }

    /// Forgets a removed pack's listings: one rename into `trash/`, not synced, so that
    /// nothing can fail once it is done (an uninstall that fails is undone, and its receipt
    /// put back). Listings a power cut brings back describe only their own builds, and the
    /// pack's next install removes them.
    pub(super) fn forget_listings(&self, pack_ref: &PackRef) -> Result<bool> {
        let dir = self.layout.listings(pack_ref);
        if !exists(&dir) {
            return Ok(false);
        }
        let to = self
            .layout
            .trash()
            .join(unique_name("uninstalled-listings"));
        rename(&dir, &to, Durability::NoSync, "trash.move")?;
        Ok(true)
    }
}
