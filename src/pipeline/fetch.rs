//! Stage 1: a source into a fresh staging directory. A registry reference is first resolved
//! by the registry into its index entry's sources, tried in order until one is fetched.

use std::path::{Path, PathBuf};

use crate::context::{blocking, Context};
use crate::error::{Error, IoContext, Result};
use crate::model::checksum::Algorithm;
use crate::model::events::Event;
use crate::pack::locate::Subdir;
use crate::registry::{Registry, Required};
use crate::source::{self, Fetched, PackSource};
use crate::store::{Staging, StoreView};

/// A source fetched into staging, with what its origin requires of it.
pub(crate) struct Staged {
    /// Removed when dropped: whatever is not committed goes with it.
    pub staging: Staging,
    /// The tree written (`staging/…/tree`).
    pub tree_root: PathBuf,
    /// The source as given, credentials redacted, for messages.
    pub origin: String,
    pub fetched: Fetched,
    /// What a registry index requires (its checksum and the pack it promises).
    pub required: Option<Required>,
    /// The version requirement of a registry reference, for the receipt.
    pub requirement: Option<String>,
    /// The source as given (unredacted: for the store's private record only).
    pub source: PackSource,
    /// Where in the tree the pack is, when the source holds many.
    pub subdir: Option<Subdir>,
    /// The archive's bytes, as hashed, when asked to keep them (`bundle create`) and the
    /// source was an archive.
    pub kept: Option<PathBuf>,
}

/// Fetches `source`, hashing archives with sha256 and `extra` (the algorithm of a required
/// checksum); the pack is in `subdir` of it (a registry source's index entry says instead).
/// With `keep_archive`, an archive's bytes are kept in staging ([`Staged::kept`]).
pub(crate) async fn fetch(
    ctx: &Context,
    store: &StoreView,
    registry: &Registry<'_>,
    source: PackSource,
    extra: Option<Algorithm>,
    subdir: Option<Subdir>,
    keep_archive: bool,
) -> Result<Staged> {
    let origin = source.display_name();
    ctx.emit(Event::Detected {
        source: origin.clone(),
        kind: source.kind_name(),
    });
    let staging = store.staging()?;
    let tree_root = staging.path().join("tree");
    std::fs::create_dir(&tree_root).ctx(|| format!("creating {}", tree_root.display()))?;
    let mut algorithms = vec![Algorithm::Sha256];
    algorithms.extend(extra.filter(|a| *a != Algorithm::Sha256));
    let (dir, tree) = (staging.path(), &tree_root);
    let keep_path = dir.join("archive");
    let keep = keep_archive.then_some(keep_path.as_path());
    let (fetched, required, subdir) = match &source {
        // Never silently ignored: where a registry pack is, its index entry says.
        PackSource::Registry { .. } if subdir.is_some() => {
            return Err(Error::Usage(format!(
                "--subdir: `{origin}` is a registry reference; its index entry says where the pack is in its source"
            )))
        }
        PackSource::Registry { .. } => {
            let (fetched, required, subdir) =
                from_index(ctx, registry, &source, (dir, tree, keep), algorithms).await?;
            (fetched, Some(required), subdir)
        }
        _ => {
            let mut fetched = source::fetch(ctx, &source, tree, dir, &algorithms, keep).await?;
            fetched.record.subdir = subdir.as_ref().map(ToString::to_string);
            (fetched, None, subdir)
        }
    };
    let requirement = match &source {
        PackSource::Registry { version, .. } => version.requirement(),
        _ => None,
    };
    Ok(Staged {
        staging,
        tree_root,
        origin,
        fetched,
        required,
        requirement,
        source,
        subdir,
        kept: keep.filter(|k| k.exists()).map(Path::to_owned),
    })
}

/// A registry reference: its index entry's sources, tried in order until one is fetched;
/// with what the index requires of it and where in it the pack is.
async fn from_index(
    ctx: &Context,
    registry: &Registry<'_>,
    source: &PackSource,
    (staging, tree_root, keep): (&Path, &Path, Option<&Path>),
    mut algorithms: Vec<Algorithm>,
) -> Result<(Fetched, Required, Option<Subdir>)> {
    let PackSource::Registry {
        pack_ref,
        version,
        index,
    } = source
    else {
        return Err(Error::Internal("not a registry reference".into()));
    };
    let plan = registry.plan(pack_ref, version, index.as_deref()).await?;
    for a in &plan.algorithms {
        if !algorithms.contains(a) {
            algorithms.push(*a);
        }
    }
    for (i, candidate) in plan.candidates.iter().enumerate() {
        let fetched = source::fetch(
            ctx,
            &candidate.source,
            tree_root,
            staging,
            &algorithms,
            keep,
        );
        let fetched = fetched.await;
        let mut fetched = match fetched {
            Ok(fetched) => fetched,
            Err(e) => {
                let Some(warning) = plan.fallback(i, &e) else {
                    return Err(e);
                };
                ctx.warn(warning);
                let tree = tree_root.to_owned();
                let kept = keep.map(Path::to_owned);
                blocking(move || {
                    if let Some(kept) = kept.filter(|k| k.exists()) {
                        crate::fs::fsutil::remove_any(&kept)?;
                    }
                    std::fs::remove_dir_all(&tree)
                        .and_then(|_| std::fs::create_dir(&tree))
                        .ctx(|| format!("emptying {}", tree.display()))
                })
                .await?;
                continue;
            }
        };
        let required = plan.require(candidate, &mut fetched.record);
        fetched.record.subdir = candidate.subdir.as_ref().map(ToString::to_string);
        return Ok((fetched, required, candidate.subdir.clone()));
    }
    Err(Error::Internal("a registry plan without sources".into()))
}
