//! `outdated`: the installed packs with something newer. A registry pack is compared with the
//! indices: `wanted` is the highest version its recorded requirement allows, `latest` the
//! highest release, each resolved as `update` would. With `check_sources`, origins are asked too (opt-in: hosts with
//! restricted outbound access would otherwise wait for timeouts): a git pack installed from a
//! branch or tag is fetched to see whether it moved, and an archive URL gets a conditional
//! request (the `ETag`/`Last-Modified` recorded at install), downloading it to hash only when
//! nothing was recorded.

use serde::Serialize;

use crate::context::{blocking, Context};
use crate::model::checksum::Algorithm;
use std::sync::Arc;

use crate::error::{Category, Error, IoContext, Result};
use crate::integrity::hashing::Hasher;
use crate::model::receipt::{Receipt, SourceKind};
use crate::net::Conditional;
use crate::registry::Registry;
use crate::source::{self, PackSource, Remembered, VersionSpec};
use crate::store::ReadStore;

use super::origin;

/// An installed pack with something newer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outdated {
    /// The pack.
    #[serde(rename = "ref")]
    pub pack_ref: String,
    /// The version installed.
    pub installed: String,
    /// The highest version its requirement allows (registry packs).
    pub wanted: Option<String>,
    /// The highest release, as `update --latest` would resolve it (registry packs).
    pub latest: Option<String>,
    /// The index `wanted` was found in.
    pub index: Option<String>,
    /// The commit a git pack's branch or tag points to now (with `check_sources`).
    pub commit: Option<String>,
}

/// The installed packs of `receipts` that have something newer.
pub(crate) async fn outdated(
    ctx: &Context,
    store: &Arc<ReadStore>,
    receipts: &[Receipt],
    check_sources: bool,
) -> Result<Vec<Outdated>> {
    let registry = Registry::new(ctx);
    let remembered = {
        let (store, receipts) = (store.clone(), receipts.to_vec());
        blocking(move || {
            receipts
                .iter()
                .map(|r| origin::remembered(&store, &r.pack_ref, &r.checksum.content))
                .collect::<Result<Vec<_>>>()
        })
        .await?
    };
    let mut out = Vec::new();
    for (receipt, remembered) in receipts.iter().zip(remembered) {
        ctx.interrupt().check()?;
        let probed = match receipt.source.kind {
            Some(SourceKind::Registry) => {
                out.extend(in_registry(&registry, receipt, remembered).await?);
                continue;
            }
            Some(SourceKind::Git) if check_sources => moved_branch(ctx, receipt, remembered).await,
            Some(SourceKind::Archive) if check_sources => {
                changed_archive(ctx, receipt, remembered).await
            }
            _ => continue,
        };
        // One origin that cannot be asked does not hide what the others say.
        match probed {
            Ok(found) => out.extend(found),
            Err(e @ Error::Interrupted { .. }) => return Err(e),
            Err(e) => ctx.warn(format!(
                "{} {}: could not check its source: {e}",
                receipt.pack_ref, receipt.version
            )),
        }
    }
    Ok(out)
}

fn row(receipt: &Receipt) -> Outdated {
    Outdated {
        pack_ref: receipt.pack_ref.to_string(),
        installed: receipt.version.to_string(),
        wanted: None,
        latest: None,
        index: None,
        commit: None,
    }
}

async fn in_registry(
    registry: &Registry<'_>,
    receipt: &Receipt,
    remembered: Option<Remembered>,
) -> Result<Option<Outdated>> {
    let pinned = match remembered.map(|r| r.source) {
        Some(PackSource::Registry { index, .. }) => index,
        _ => None,
    };
    let spec = match &receipt.requirement {
        Some(req) => VersionSpec::parse(req).unwrap_or(VersionSpec::Latest),
        None => VersionSpec::Latest,
    };
    // What `update` and `update --latest` would install: the first index, in search order,
    // that has a matching version decides, as for every registry reference.
    let resolve = |spec: VersionSpec| {
        let pinned = pinned.clone();
        async move {
            match registry
                .resolve_version(&receipt.pack_ref, &spec, pinned.as_deref())
                .await
            {
                Ok(found) => Ok(Some(found)),
                // Nothing allowed any more (a yanked version): nothing to offer.
                Err(e) if e.category() == Category::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        }
    };
    let wanted = resolve(spec).await?;
    let latest = resolve(VersionSpec::Latest).await?.map(|(v, _)| v);
    let newer = |v: &Option<semver::Version>| v.as_ref().is_some_and(|v| *v > receipt.version);
    let wanted_version = wanted.as_ref().map(|(v, _)| v.clone());
    if !newer(&wanted_version) && !newer(&latest) {
        return Ok(None);
    }
    Ok(Some(Outdated {
        wanted: wanted_version.map(|v| v.to_string()),
        latest: latest.map(|v| v.to_string()),
        index: wanted.map(|(_, index)| index),
        ..row(receipt)
    }))
}

/// A git pack not pinned to a commit: fetched (into a temporary directory) to read the
/// commit its ref points to now.
async fn moved_branch(
    ctx: &Context,
    receipt: &Receipt,
    remembered: Option<Remembered>,
) -> Result<Option<Outdated>> {
    let recorded = &receipt.source;
    if recorded.git_ref.as_deref() == recorded.commit.as_deref() && recorded.git_ref.is_some() {
        return Ok(None);
    }
    let source = origin::source_of(&receipt.pack_ref, recorded, remembered, false)?;
    let scratch =
        blocking(|| tempfile::tempdir().ctx(|| "creating a temporary directory".to_owned()))
            .await?;
    let tree = scratch.path().join("tree");
    std::fs::create_dir(&tree).ctx(|| format!("creating {}", tree.display()))?;
    let fetched = source::fetch(
        ctx,
        &source,
        &tree,
        scratch.path(),
        &[Algorithm::Sha256],
        None,
    )
    .await?;
    let commit = fetched.record.commit;
    blocking(move || {
        scratch
            .close()
            .ctx(|| "removing a temporary directory".to_owned())
    })
    .await?;
    if commit.is_none() || commit == recorded.commit {
        return Ok(None);
    }
    Ok(Some(Outdated {
        commit,
        ..row(receipt)
    }))
}

/// An archive URL asked whether it changed: a conditional request with the validators
/// recorded at install, else the body hashed and compared with the archive checksum.
async fn changed_archive(
    ctx: &Context,
    receipt: &Receipt,
    remembered: Option<Remembered>,
) -> Result<Option<Outdated>> {
    let validators = remembered
        .as_ref()
        .map(|r| r.validators.clone())
        .unwrap_or_default();
    let PackSource::Archive { url } =
        origin::source_of(&receipt.pack_ref, &receipt.source, remembered, false)?
    else {
        return Ok(None);
    };
    let conditional = Conditional {
        etag: validators.etag.as_deref(),
        last_modified: validators.last_modified.as_deref(),
    };
    let asked = conditional.etag.is_some() || conditional.last_modified.is_some();
    let mut response = ctx
        .http()
        .await?
        .get(&url, asked.then_some(&conditional))
        .await?;
    if response.is_not_modified() {
        return Ok(None);
    }
    let changed = match (&validators.etag, response.header("etag")) {
        (Some(old), Some(new)) => old != new,
        _ => {
            let limit = ctx.config().limits.max_download_bytes;
            let (mut hasher, mut read) = (Hasher::new(Algorithm::Sha256), 0u64);
            while let Some(chunk) = response.chunk().await? {
                read += chunk.len() as u64;
                if read > limit {
                    // Larger than anything it may install: not what is installed.
                    return Ok(Some(row(receipt)));
                }
                hasher.update(&chunk);
            }
            Some(hasher.finish()) != receipt.checksum.archive
        }
    };
    Ok(changed.then(|| row(receipt)))
}
