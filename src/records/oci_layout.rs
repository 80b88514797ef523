//! The OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/HEX`): how packs cross an
//! air gap into a site's own registry with standard tools (`skopeo copy oci:DIR:NAME
//! docker://…`), and a source attune-pack installs from directly. Each pack is one manifest
//! in `index.json`, named `REF_TAG` by its `org.opencontainers.image.ref.name` annotation.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::error::{Error, IoContext, Result};
use crate::net::oci::sha256_digest;

use super::oci_artifact::{check_digest_syntax, PackArtifact, MANIFEST_MEDIA_TYPE};

/// The annotation that names a manifest in a layout (what skopeo's `oci:DIR:NAME` reads).
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// The name of a pack's manifest in a layout: `REF_TAG` (`slack_2.1.0`).
pub fn layout_name(pack_ref: &str, tag: &str) -> String {
    format!("{pack_ref}_{tag}")
}

/// One pack for [`write`]: its artifact, the file holding its layer, and its name.
pub struct LayoutPack<'a> {
    pub name: String,
    pub artifact: &'a PackArtifact,
    pub layer_file: &'a Path,
}

/// Writes a new layout at `dir` holding `packs`: built beside it and renamed into place, so
/// `dir` is whole or absent. An existing `dir` that is not empty is refused.
pub fn write(dir: &Path, packs: &[LayoutPack<'_>]) -> Result<()> {
    if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(Error::Usage(format!(
            "{} exists and is not empty: an OCI layout is written to a new directory",
            dir.display()
        )));
    }
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).ctx(|| format!("creating {}", parent.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(".oci-layout-")
        .tempdir_in(parent)
        .ctx(|| format!("creating a directory in {}", parent.display()))?;
    let blobs = tmp.path().join("blobs/sha256");
    std::fs::create_dir_all(&blobs).ctx(|| format!("creating {}", blobs.display()))?;
    let put = |digest: &str, bytes: &[u8]| -> Result<()> {
        let path = blobs.join(&digest["sha256:".len()..]);
        std::fs::write(&path, bytes).ctx(|| format!("writing {}", path.display()))
    };
    let mut manifests = Vec::new();
    for p in packs {
        let a = p.artifact;
        put(&a.config_digest, &a.config)?;
        put(&a.manifest_digest, &a.manifest)?;
        let layer = blobs.join(&a.layer.digest["sha256:".len()..]);
        std::fs::copy(p.layer_file, &layer).ctx(|| format!("writing {}", layer.display()))?;
        manifests.push(json!({
            "mediaType": MANIFEST_MEDIA_TYPE,
            "digest": a.manifest_digest,
            "size": a.manifest.len(),
            "artifactType": super::oci_artifact::ARTIFACT_TYPE,
            "annotations": {REF_NAME: p.name},
        }));
    }
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests});
    let write_doc = |name: &str, doc: &Value| -> Result<()> {
        let path = tmp.path().join(name);
        let text = serde_json::to_vec_pretty(doc).map_err(|e| Error::Internal(e.to_string()))?;
        std::fs::write(&path, text).ctx(|| format!("writing {}", path.display()))
    };
    write_doc("oci-layout", &json!({"imageLayoutVersion": "1.0.0"}))?;
    write_doc("index.json", &index)?;
    let _ = std::fs::remove_dir(dir);
    let kept = tmp.keep();
    std::fs::rename(&kept, dir).map_err(|e| {
        let _ = std::fs::remove_dir_all(&kept);
        Error::io(format!("renaming the layout to {}", dir.display()), e)
    })
}

/// A layout on disk, opened for reading.
pub struct Layout {
    dir: PathBuf,
    index: Value,
}

impl Layout {
    pub fn open(dir: &Path) -> Result<Layout> {
        let not = |why: String| {
            Error::NotFound(format!(
                "{} is not an OCI image layout: {why}",
                dir.display()
            ))
        };
        let marker =
            std::fs::read(dir.join("oci-layout")).map_err(|e| not(format!("oci-layout: {e}")))?;
        let marker: Value =
            serde_json::from_slice(&marker).map_err(|e| not(format!("oci-layout: {e}")))?;
        if marker["imageLayoutVersion"].as_str().is_none() {
            return Err(not("oci-layout has no imageLayoutVersion".into()));
        }
        let index = read_capped(&dir.join("index.json"), 16 << 20)
            .map_err(|e| not(format!("index.json: {e}")))?;
        let index = serde_json::from_slice(&index).map_err(|e| not(format!("index.json: {e}")))?;
        Ok(Layout {
            dir: dir.to_owned(),
            index,
        })
    }

    /// The names of the manifests it holds.
    pub fn names(&self) -> Vec<String> {
        self.manifests()
            .filter_map(|m| m["annotations"][REF_NAME].as_str().map(str::to_owned))
            .collect()
    }

    fn manifests(&self) -> impl Iterator<Item = &Value> {
        self.index["manifests"].as_array().into_iter().flatten()
    }

    /// The digest of the manifest named `name`, or of the only one when none is named.
    pub fn digest_of(&self, name: Option<&str>) -> Result<String> {
        let matching: Vec<&Value> = self
            .manifests()
            .filter(|m| name.is_none_or(|n| m["annotations"][REF_NAME].as_str() == Some(n)))
            .collect();
        let names = || self.names().join(", ");
        match (matching.as_slice(), name) {
            ([one], _) => Ok(one["digest"].as_str().unwrap_or_default().to_owned()),
            ([], Some(n)) => Err(Error::NotFound(format!(
                "no manifest named `{n}` in the OCI layout {} (it has: {})",
                self.dir.display(),
                names()
            ))),
            _ => Err(Error::Usage(format!(
                "the OCI layout {} holds {} manifests: name one as oci-layout:DIR:NAME ({})",
                self.dir.display(),
                matching.len(),
                names()
            ))),
        }
    }

    /// The path of blob `digest` (checked to be a sha256 digest first: it names a file).
    pub fn blob_path(&self, digest: &str) -> Result<PathBuf> {
        check_digest_syntax(digest).map_err(|e| Error::Oci {
            reference: self.dir.display().to_string(),
            message: e,
        })?;
        Ok(self
            .dir
            .join("blobs/sha256")
            .join(&digest["sha256:".len()..]))
    }

    /// Blob `digest`'s bytes (at most `limit`), checked against the digest.
    pub fn small_blob(&self, digest: &str, limit: u64, what: &str) -> Result<Vec<u8>> {
        let path = self.blob_path(digest)?;
        let bytes = read_capped(&path, limit).map_err(|e| Error::Oci {
            reference: self.dir.display().to_string(),
            message: format!("{what} {digest}: {e}"),
        })?;
        let actual = sha256_digest(&bytes);
        if actual != digest {
            return Err(Error::DigestMismatch {
                what: what.to_owned(),
                reference: format!("oci-layout:{}", self.dir.display()),
                expected: digest.to_owned(),
                actual,
            });
        }
        Ok(bytes)
    }
}

fn read_capped(path: &Path, limit: u64) -> std::result::Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > limit {
        return Err(format!("larger than {limit} bytes"));
    }
    Ok(bytes)
}
