//! `oci-layout:DIR[:NAME]`: a pack from an OCI image layout on this host (what `bundle create
//! --format oci-layout` writes), offline. The manifest, config and layer are checked against
//! their digests as for a registry; the layer is extracted through path safety while hashed.

use std::path::{Path, PathBuf};

use crate::context::{blocking, Context};
use crate::error::{Error, Result};
use crate::model::checksum::Algorithm;
use crate::model::events::{Event, Phase};
use crate::model::receipt::{ReceiptSource, SourceKind};
use crate::records::oci_artifact::{ArtifactManifest, PackConfig, CONFIG_MEDIA_TYPE};
use crate::records::oci_layout::Layout;
use crate::safety::TreeWriter;
use crate::source::archive::extract_file;
use crate::source::oci::{check_layer, layer_algorithms};
use crate::source::Fetched;

/// Reads `DIR[:NAME]` (after `oci-layout:`): a name only when `DIR` is not itself a directory.
pub fn split_layout(spec: &str) -> (PathBuf, Option<String>) {
    if Path::new(spec).is_dir() {
        return (PathBuf::from(spec), None);
    }
    match spec.rsplit_once(':') {
        Some((dir, name)) if !name.contains('/') && !name.is_empty() => {
            (PathBuf::from(dir), Some(name.to_owned()))
        }
        _ => (PathBuf::from(spec), None),
    }
}

/// The manifest `digest` of `layout` and the content checksum its config names, both
/// checked against their digests.
fn read_artifact(
    layout: &Layout,
    digest: &str,
    shown: &str,
) -> Result<(ArtifactManifest, Option<crate::model::checksum::Checksum>)> {
    let bytes = layout.small_blob(digest, crate::net::oci::MAX_MANIFEST_BYTES, "the manifest")?;
    let manifest = ArtifactManifest::parse(&bytes, shown).map_err(|message| Error::Oci {
        reference: shown.to_owned(),
        message,
    })?;
    if manifest.config.media_type != CONFIG_MEDIA_TYPE {
        return Ok((manifest, None));
    }
    let config = layout.small_blob(&manifest.config.digest, 1 << 20, "the config blob")?;
    let config: PackConfig = serde_json::from_slice(&config).map_err(|e| Error::Oci {
        reference: shown.to_owned(),
        message: format!("the config blob: {e}"),
    })?;
    Ok((manifest, config.content))
}

pub(crate) async fn materialize(
    ctx: &Context,
    dir: &Path,
    name: Option<&str>,
    writer: TreeWriter,
    algorithms: &[Algorithm],
) -> Result<Fetched> {
    ctx.emit(Event::Phase(Phase::Extracting));
    let dir = std::path::absolute(dir)
        .map_err(|e| Error::io(format!("resolving {}", dir.display()), e))?;
    let name = name.map(str::to_owned);
    let (algos, asked) = (layer_algorithms(algorithms), algorithms.to_vec());
    blocking(move || {
        let mut writer = writer;
        let layout = Layout::open(&dir)?;
        let digest = layout.digest_of(name.as_deref())?;
        let shown = format!("oci-layout:{}@{digest}", dir.display());
        let (manifest, content) = read_artifact(&layout, &digest, &shown)?;
        let layer_path = layout.blob_path(&manifest.layer.digest)?;
        let measured = extract_file(&layer_path, &mut writer, &algos)?;
        let tree = writer.finish()?;
        let layer = &manifest.layer;
        let archive = check_layer(
            &shown,
            layer,
            measured.checksums,
            &tree,
            content.as_ref(),
            &asked,
        )?;
        Ok(Fetched {
            tree,
            archive,
            record: ReceiptSource {
                kind: Some(SourceKind::OciLayout),
                path: Some(dir.display().to_string()),
                git_ref: name,
                digest: Some(digest),
                ..Default::default()
            },
            validators: Default::default(),
        })
    })
    .await
}
