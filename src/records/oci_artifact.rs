//! A pack as an OCI artifact: an image manifest (v1.1 fields, which v1.0 registries store as
//! they are) with `artifactType` [`ARTIFACT_TYPE`], a config blob holding pack.yaml as JSON
//! plus the content checksum, dependencies and runtime dependencies, and one layer: the pack
//! tree as a deterministic tar.gz. The same pack gives the same bytes, and so the same
//! digests, on every host: entries sorted by path, owners 0, one fixed time
//! (`SOURCE_DATE_EPOCH`, else the epoch), modes 0644/0755, gzip without a name or time.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::Path;

use flate2::{Compression, GzBuilder};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::error::{Error, IoContext, Result};
use crate::integrity::hashing::{EntryKind, HashingWriter};
use crate::model::checksum::Checksum;
use crate::net::oci::sha256_digest;
use crate::pack::manifest::Manifest;

/// The manifest's `artifactType`.
pub const ARTIFACT_TYPE: &str = "application/vnd.attune.pack.v1";
/// The config blob's media type.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.attune.pack.config.v1+json";
/// The layer's media type.
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.attune.pack.content.v1.tar+gzip";
/// The manifest's media type.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The `artifactType` of a pack's signature, a referrer of the pack's manifest.
pub const SIGNATURE_ARTIFACT_TYPE: &str = "application/vnd.attune.pack.signature.v1";
/// The signature's one layer: a minisign signature of the pack manifest's digest.
pub const SIGNATURE_MEDIA_TYPE: &str = "application/vnd.attune.pack.signature.v1+minisig";
/// OCI 1.1's empty config (`{}`), for artifacts that need none.
pub const EMPTY_CONFIG: (&str, &[u8]) = ("application/vnd.oci.empty.v1+json", b"{}");
/// A signature blob is a few hundred bytes; more is not one.
pub const MAX_SIGNATURE_BYTES: u64 = 64 << 10;

/// A blob's descriptor, as a manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default)]
    pub annotations: Map<String, Value>,
}

impl Descriptor {
    fn to_json(&self) -> Value {
        let mut d = json!({"mediaType": self.media_type, "digest": self.digest, "size": self.size});
        if !self.annotations.is_empty() {
            d["annotations"] = Value::Object(self.annotations.clone());
        }
        d
    }
}

/// The parts of a pack's manifest an install reads.
#[derive(Debug, Clone)]
pub struct ArtifactManifest {
    pub config: Descriptor,
    pub layer: Descriptor,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    #[serde(default)]
    schema_version: u32,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    artifact_type: Option<String>,
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

impl ArtifactManifest {
    /// Reads a manifest as a pack's: an image manifest whose artifact type or config says it
    /// is one, with exactly one pack layer. `shown` names it in errors.
    pub fn parse(bytes: &[u8], shown: &str) -> std::result::Result<ArtifactManifest, String> {
        let raw: RawManifest = serde_json::from_slice(bytes).map_err(|e| {
            format!("{shown} is not an OCI image manifest ({e}); an image index or a docker v1 manifest is not a pack")
        })?;
        if raw.schema_version != 2 {
            return Err(format!(
                "{shown}: schemaVersion {} (2 expected)",
                raw.schema_version
            ));
        }
        if let Some(t) = raw
            .media_type
            .as_deref()
            .filter(|t| *t != MANIFEST_MEDIA_TYPE)
        {
            return Err(format!("{shown} is a {t}, not an OCI image manifest"));
        }
        let is_pack = raw.artifact_type.as_deref() == Some(ARTIFACT_TYPE)
            || raw.config.media_type == CONFIG_MEDIA_TYPE;
        if !is_pack {
            return Err(format!(
                "{shown} is not an attune pack (artifactType {}, config {}; a pack has {ARTIFACT_TYPE})",
                raw.artifact_type.as_deref().unwrap_or("none"),
                raw.config.media_type
            ));
        }
        let mut layers = raw
            .layers
            .into_iter()
            .filter(|l| l.media_type == LAYER_MEDIA_TYPE);
        let (Some(layer), None) = (layers.next(), layers.next()) else {
            return Err(format!(
                "{shown}: a pack has exactly one layer of type {LAYER_MEDIA_TYPE}"
            ));
        };
        for d in [&raw.config, &layer] {
            check_digest_syntax(&d.digest).map_err(|e| format!("{shown}: {e}"))?;
        }
        Ok(ArtifactManifest {
            config: raw.config,
            layer,
        })
    }
}

/// The signature artifact of the pack manifest `subject` (`digest`, `size`) whose layer is
/// `signature` (a `.minisig` of the digest's text): its manifest bytes and digest.
pub fn signature_manifest(subject: (&str, usize), signature: &[u8]) -> (Vec<u8>, String) {
    let doc = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "artifactType": SIGNATURE_ARTIFACT_TYPE,
        "config": {"mediaType": EMPTY_CONFIG.0, "digest": sha256_digest(EMPTY_CONFIG.1), "size": EMPTY_CONFIG.1.len()},
        "layers": [{"mediaType": SIGNATURE_MEDIA_TYPE, "digest": sha256_digest(signature), "size": signature.len()}],
        "subject": {"mediaType": MANIFEST_MEDIA_TYPE, "digest": subject.0, "size": subject.1},
    });
    let bytes = serde_json::to_vec(&doc).unwrap_or_default();
    let digest = sha256_digest(&bytes);
    (bytes, digest)
}

/// The signature layer of a signature manifest, when it is one for `subject`.
pub fn signature_layer(manifest: &[u8], subject: &str) -> Option<Descriptor> {
    let doc: Value = serde_json::from_slice(manifest).ok()?;
    if doc["subject"]["digest"].as_str() != Some(subject) {
        return None;
    }
    let layer: Descriptor = serde_json::from_value(doc["layers"][0].clone()).ok()?;
    (layer.media_type == SIGNATURE_MEDIA_TYPE
        && layer.size <= MAX_SIGNATURE_BYTES
        && check_digest_syntax(&layer.digest).is_ok())
    .then_some(layer)
}

/// `sha256:` and 64 lowercase hex digits: anything else could not be checked, or could name a
/// path in an image layout.
pub fn check_digest_syntax(digest: &str) -> std::result::Result<(), String> {
    let hex = digest
        .strip_prefix("sha256:")
        .ok_or_else(|| format!("digest `{digest}` is not sha256"))?;
    if hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(format!("digest `{digest}` is not 64 lowercase hex digits"))
    }
}

/// What a pack's config blob says of it: the checksum the unpacked layer must have, and
/// what an OCI namespace read as an index needs to resolve versions and dependencies
/// without downloading the layer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PackConfig {
    /// The content checksum of the pack tree.
    pub content: Option<Checksum>,
    pub label: Option<String>,
    pub description: Option<String>,
    /// The packs it needs (`ref@requirement`).
    pub dependencies: Vec<String>,
    pub runtime_deps: Vec<String>,
    pub keywords: Vec<String>,
    pub author: Option<String>,
    pub license: Option<String>,
}

/// A pack built as an artifact: its three documents, and its layer's file.
#[derive(Debug, Clone)]
pub struct PackArtifact {
    pub config: Vec<u8>,
    pub config_digest: String,
    pub layer: Descriptor,
    pub manifest: Vec<u8>,
    pub manifest_digest: String,
    /// The tag the version is pushed as (`+` written `_`, as Helm does).
    pub tag: String,
}

/// The tag of `version`: `+` is not allowed in tags, so it is written `_` (Helm's rule).
pub fn version_tag(version: &str) -> String {
    version.replace('+', "_")
}

/// The version a tag names (`_` back to `+`), when it is one.
pub fn tag_version(tag: &str) -> Option<semver::Version> {
    let t = tag.strip_prefix('v').unwrap_or(tag);
    semver::Version::parse(&t.replace('_', "+")).ok()
}

/// The fixed time of every artifact: `SOURCE_DATE_EPOCH` (reproducible-builds' variable) when
/// set, else the epoch.
pub fn artifact_time() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Where a pack's files are: its root and its entries (relative paths and kinds).
pub struct PackTree<'a> {
    pub dir: &'a Path,
    pub entries: Vec<(String, EntryKind)>,
}

/// Builds the artifact of the pack at `tree` described by `manifest` (parsed from
/// `pack_yaml`, with `content` its content checksum); the layer is written to `layer_path`.
pub fn build(
    tree: PackTree<'_>,
    pack_yaml: &str,
    manifest: &Manifest,
    content: &Checksum,
    layer_path: &Path,
) -> Result<PackArtifact> {
    let time = artifact_time();
    let file = File::create(layer_path).ctx(|| format!("creating {}", layer_path.display()))?;
    let hashing = write_tree_tar_gz(&tree, HashingWriter::new(BufWriter::new(file)), time)
        .map_err(|e| Error::io(format!("writing {}", layer_path.display()), e))?;
    let (out, sha, size) = hashing.finish();
    out.into_inner()
        .map_err(|e| Error::io(format!("writing {}", layer_path.display()), e.into_error()))?
        .sync_all()
        .ctx(|| format!("writing {}", layer_path.display()))?;
    let title = format!(
        "{}-{}.tar.gz",
        manifest.pack_ref,
        version_tag(&manifest.version.to_string())
    );
    let layer = Descriptor {
        media_type: LAYER_MEDIA_TYPE.into(),
        digest: format!("sha256:{}", hex::encode(sha)),
        size,
        annotations: Map::from_iter([(
            "org.opencontainers.image.title".into(),
            Value::from(title),
        )]),
    };
    let config = config_json(pack_yaml, manifest, content)?;
    let config_digest = sha256_digest(&config);
    let manifest_doc = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "artifactType": ARTIFACT_TYPE,
        "config": {"mediaType": CONFIG_MEDIA_TYPE, "digest": config_digest, "size": config.len()},
        "layers": [layer.to_json()],
        "annotations": annotations(pack_yaml, manifest, time),
    });
    let manifest_bytes =
        serde_json::to_vec(&manifest_doc).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(PackArtifact {
        manifest_digest: sha256_digest(&manifest_bytes),
        manifest: manifest_bytes,
        config,
        config_digest,
        layer,
        tag: version_tag(&manifest.version.to_string()),
    })
}

/// pack.yaml as JSON, with the content checksum and the dependencies in their normal form.
fn config_json(pack_yaml: &str, manifest: &Manifest, content: &Checksum) -> Result<Vec<u8>> {
    let yaml: serde_norway::Value = serde_norway::from_str(pack_yaml)
        .map_err(|e| Error::InvalidPack(format!("pack.yaml: {e}")))?;
    let mut doc = match serde_json::to_value(yaml) {
        Ok(Value::Object(map)) => map,
        _ => {
            return Err(Error::InvalidPack(
                "pack.yaml is not a mapping with string keys".into(),
            ))
        }
    };
    doc.insert("ref".into(), Value::from(manifest.pack_ref.to_string()));
    doc.insert("version".into(), Value::from(manifest.version.to_string()));
    doc.insert("label".into(), Value::from(manifest.label.clone()));
    doc.insert("content".into(), Value::from(content.to_string()));
    let deps: Vec<String> = manifest
        .dependencies
        .iter()
        .map(ToString::to_string)
        .collect();
    doc.insert("dependencies".into(), Value::from(deps));
    doc.insert(
        "runtime_deps".into(),
        Value::from(manifest.runtime_deps.clone()),
    );
    serde_json::to_vec(&Value::Object(doc)).map_err(|e| Error::Internal(e.to_string()))
}

fn annotations(pack_yaml: &str, manifest: &Manifest, time: u64) -> Value {
    let raw: serde_norway::Value =
        serde_norway::from_str(pack_yaml).unwrap_or(serde_norway::Value::Null);
    let text = |k: &str| raw.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let created = time::OffsetDateTime::from_unix_timestamp(time as i64)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into());
    let mut a = Map::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            a.insert(format!("org.opencontainers.image.{k}"), Value::from(v));
        }
    };
    put("title", Some(manifest.pack_ref.to_string()));
    put("version", Some(manifest.version.to_string()));
    put("description", manifest.description.clone());
    put("source", text("repository").or_else(|| text("homepage")));
    put("created", Some(created));
    put("revision", std::env::var("ATTUNE_PACK_REVISION").ok());
    Value::Object(a)
}

/// Writes the tree as a tar.gz whose bytes depend on its content and `mtime` only: regular
/// files (0644, 0755 when executable) and symlinks sorted by path, uid/gid 0, no owner
/// names; gzip with time 0 and OS byte 255. Returns the writer.
pub fn write_tree_tar_gz<W: Write>(tree: &PackTree<'_>, out: W, mtime: u64) -> io::Result<W> {
    let mut entries: Vec<&(String, EntryKind)> = tree.entries.iter().collect();
    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let gz = GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(out, Compression::new(6));
    let mut tar = tar::Builder::new(gz);
    for (path, kind) in entries {
        let on_disk = tree.dir.join(path);
        let mut h = tar::Header::new_gnu();
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(mtime);
        if *kind == EntryKind::Symlink {
            let target = std::fs::read_link(&on_disk)?;
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_mode(0o777);
            h.set_size(0);
            tar.append_link(&mut h, path, &target)?;
            continue;
        }
        let f = File::open(&on_disk)?;
        h.set_size(f.metadata()?.len());
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(if *kind == EntryKind::Executable {
            0o755
        } else {
            0o644
        });
        tar.append_data(&mut h, path, BufReader::new(f))?;
    }
    let mut out = tar.into_inner()?.finish()?;
    out.flush()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_versions_map_both_ways() {
        assert_eq!(version_tag("1.2.3+build.5"), "1.2.3_build.5");
        assert_eq!(
            tag_version("1.2.3_build.5").unwrap().to_string(),
            "1.2.3+build.5"
        );
        assert_eq!(tag_version("v2.0.0").unwrap().to_string(), "2.0.0");
        assert!(tag_version("latest").is_none());
    }

    #[test]
    fn digests_must_be_sha256_hex() {
        assert!(check_digest_syntax(&format!("sha256:{}", "a".repeat(64))).is_ok());
        for bad in [
            "sha512:00",
            "sha256:../../etc",
            &format!("sha256:{}", "A".repeat(64)),
        ] {
            assert!(check_digest_syntax(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_manifest_must_be_a_pack_with_one_layer() {
        let d = |t: &str| json!({"mediaType": t, "digest": format!("sha256:{}", "0".repeat(64)), "size": 1});
        let doc = |artifact: &str, layers: Vec<Value>| {
            serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": MANIFEST_MEDIA_TYPE,
                "artifactType": artifact, "config": d("application/vnd.oci.empty.v1+json"), "layers": layers}))
            .unwrap()
        };
        assert!(
            ArtifactManifest::parse(&doc(ARTIFACT_TYPE, vec![d(LAYER_MEDIA_TYPE)]), "m").is_ok()
        );
        let e = ArtifactManifest::parse(&doc("application/vnd.cncf.helm.chart", vec![]), "m")
            .unwrap_err();
        assert!(e.contains("not an attune pack"), "{e}");
        let e = ArtifactManifest::parse(
            &doc(
                ARTIFACT_TYPE,
                vec![d(LAYER_MEDIA_TYPE), d(LAYER_MEDIA_TYPE)],
            ),
            "m",
        )
        .unwrap_err();
        assert!(e.contains("exactly one layer"), "{e}");
    }
}
