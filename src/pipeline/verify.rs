//! `verify`: each installed pack's files hashed again (see `hashing::directory_digest`) and
//! compared with the content checksum its receipt records; where they differ, the listing
//! the install recorded (see the store's `listing.rs`) names the files. Read-only.

use std::sync::Arc;

use semver::Version;

use crate::context::{blocking, Context};
use crate::error::{Error, Result};
use crate::integrity::hashing::{directory_digest, ContentDigest, Differences};
use crate::model::checksum::Checksum;
use crate::model::pack_ref::PackRef;
use crate::model::receipt::{Receipt, ENV_MARKER};
use crate::runtime_env::{self, EnvState};
use crate::store::{ReadStore, StoreView};
use sha2::{Digest, Sha256};

/// What [`Installer::verify`](crate::Installer::verify) found of one installed pack.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// The pack.
    pub pack_ref: PackRef,
    /// The version its receipt records.
    pub version: Version,
    /// The content checksum its receipt records.
    pub expected: Checksum,
    /// The content checksum of `PACKS_DIR/REF` now; none when the directory is gone.
    pub actual: Option<Checksum>,
    /// Files (relative paths, sorted) there now that the install did not write.
    pub added: Vec<String>,
    /// Files the install wrote that are gone (all of them when the directory is).
    pub removed: Vec<String>,
    /// Files whose bytes, or kind (file, executable, symlink), are not as installed.
    pub changed: Vec<String>,
    /// Whether the install recorded the per-file listing that names the files of a
    /// difference; packs installed before attune-pack recorded it (or whose listing is
    /// damaged) are still compared whole, but with `added`, `removed` and `changed` empty.
    pub files_recorded: bool,
    /// What is wrong with its Python environment, when its receipt says one was built: gone,
    /// or its marker `.attune_deps_installed` not the sha256 of the pack's
    /// `requirements.txt` (so Attune's worker would rebuild it).
    pub env_problem: Option<String>,
}

impl Verified {
    /// `PACKS_DIR/REF` is gone while its receipt is there.
    pub fn missing(&self) -> bool {
        self.actual.is_none()
    }

    /// The pack is as installed. The one place every check of `verify` counts, so that a
    /// later one (a stale Python environment marker) joins here and nowhere else.
    pub fn ok(&self) -> bool {
        self.actual.as_ref() == Some(&self.expected) && self.env_problem.is_none()
    }
}

/// Verifies the packs of `refs` (every installed pack when empty), in that order; a ref
/// without a receipt is [`Error::NotInstalled`], before any pack is hashed.
pub(crate) async fn verify(
    ctx: &Context,
    store: Arc<ReadStore>,
    refs: &[PackRef],
) -> Result<Vec<Verified>> {
    let (ctx, refs) = (ctx.clone(), refs.to_vec());
    blocking(move || {
        let receipts = chosen(&store, &refs)?;
        receipts
            .iter()
            .map(|receipt| {
                ctx.interrupt().check()?;
                verify_one(&ctx, &store, receipt)
            })
            .collect()
    })
    .await
}

/// The receipts of `refs` (each once), or every receipt.
fn chosen(store: &StoreView, refs: &[PackRef]) -> Result<Vec<Receipt>> {
    if refs.is_empty() {
        return store.receipts();
    }
    let mut receipts: Vec<Receipt> = Vec::new();
    for pack_ref in refs {
        if receipts.iter().any(|r| r.pack_ref == *pack_ref) {
            continue;
        }
        let receipt = store.receipt(pack_ref)?;
        receipts.push(receipt.ok_or_else(|| Error::NotInstalled(pack_ref.clone()))?);
    }
    Ok(receipts)
}

fn verify_one(ctx: &Context, store: &StoreView, receipt: &Receipt) -> Result<Verified> {
    let expected = &receipt.checksum.content;
    let recorded = recorded_files(ctx, store, receipt)?;
    let dir = store.active_dir(&receipt.pack_ref);
    let now = match crate::fs::fsutil::exists(&dir) {
        true => Some(directory_digest(&dir)?),
        false => None,
    };
    let actual = now.as_ref().map(|d| d.checksum_under(""));
    let differences = match (&recorded, &now) {
        _ if actual.as_ref() == Some(expected) => Differences::default(),
        (Some(recorded), Some(now)) => now.differences_from(recorded),
        (Some(recorded), None) => ContentDigest::default().differences_from(recorded),
        (None, _) => Differences::default(),
    };
    Ok(Verified {
        pack_ref: receipt.pack_ref.clone(),
        version: receipt.version.clone(),
        expected: expected.clone(),
        actual,
        added: differences.added,
        removed: differences.removed,
        changed: differences.changed,
        files_recorded: recorded.is_some(),
        env_problem: env_problem(receipt, &dir),
    })
}

/// What is wrong with the Python environment of `receipt` (its pack active at `dir`).
fn env_problem(receipt: &Receipt, dir: &std::path::Path) -> Option<String> {
    let env = &receipt.env;
    let path = env.path.as_ref()?.display();
    match runtime_env::state(receipt) {
        EnvState::NotBuilt => return None,
        EnvState::Missing => return Some(format!("its Python environment {path} is missing")),
        EnvState::Stale | EnvState::Ready => {}
    }
    let marker = env.dir.as_ref()?.join(ENV_MARKER);
    let marker = std::fs::read_to_string(marker).unwrap_or_default();
    // What Attune's worker compares: the marker against the requirements.txt there now.
    let now = std::fs::read(dir.join("requirements.txt")).unwrap_or_default();
    let now = hex::encode(Sha256::digest(&now));
    (marker != now).then(|| {
        format!(
            "the marker of its Python environment {path} is `{marker}`, but requirements.txt hashes to {now}"
        )
    })
}

/// The files the install of `receipt` recorded; none when it recorded none, or (with a
/// warning) when its listing is damaged.
fn recorded_files(
    ctx: &Context,
    store: &StoreView,
    receipt: &Receipt,
) -> Result<Option<ContentDigest>> {
    let content = &receipt.checksum.content;
    let Some(listing) = store.listing(&receipt.pack_ref, content)? else {
        return Ok(None);
    };
    let files = ContentDigest::from_listing(&listing, content);
    if files.is_none() {
        ctx.warn(format!(
            "the file listing recorded for {} {} is damaged (it does not hash to the receipt's content checksum): its files cannot be named",
            receipt.pack_ref, receipt.version
        ));
    }
    Ok(files)
}
