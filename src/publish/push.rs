//! `push`: a pack published to an OCI registry as an artifact (see
//! [`crate::records::oci_artifact`]), as `oci://HOST/NS/REF:VERSION`. Blobs the repository
//! already has are not sent again; the manifest goes last, so a tag never names a manifest
//! whose blobs are missing.

use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::context::{blocking, Context};
use crate::error::{Error, Result};
use crate::integrity::signature::{PasswordFn, SigningKey};
use crate::model::events::{Event, Phase};
use crate::net::oci::{fallback_tag, sha256_digest, Client, Repository, INDEX_MEDIA_TYPE};
use crate::net::Body;
use crate::pack::manifest::Manifest;
use crate::records::oci_artifact::{
    self, signature_manifest, PackArtifact, PackTree, EMPTY_CONFIG, MANIFEST_MEDIA_TYPE,
    SIGNATURE_ARTIFACT_TYPE,
};
use crate::source::oci::{parse_namespace, OciReference};

use super::Unpacked;

/// What `push` published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// `oci://HOST/NS/REF:TAG@sha256:…`.
    pub reference: String,
    /// The manifest digest.
    pub digest: String,
    /// The tag it was given.
    pub tag: String,
    /// The blobs sent (the others were in the repository already, or mounted).
    pub uploaded: usize,
    /// The blobs linked from another repository of the registry instead of sent.
    pub mounted: usize,
}

/// How to push, set with builder methods.
#[derive(Default)]
pub struct PushOptions {
    tag: Option<String>,
    sign_key: Option<(PathBuf, Option<PasswordFn>)>,
}

impl PushOptions {
    /// The pack's version as its tag, unsigned.
    pub fn new() -> Self {
        Self::default()
    }

    /// This tag instead of the version.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self
    }

    /// Attach a minisign signature of the manifest digest as a referrer, made with this
    /// secret key (`password` is asked only when the key is encrypted).
    pub fn sign_key(mut self, key: impl Into<PathBuf>, password: Option<PasswordFn>) -> Self {
        self.sign_key = Some((key.into(), password));
        self
    }
}

/// Publishes the pack at `pack_path` (a directory or an archive) under namespace `target`
/// (`oci://HOST[:PORT]/NS`; the repository is `NS/REF`), tagged with its version or the
/// options' tag, and signed when they give a key.
pub(crate) async fn push(
    ctx: &Context,
    pack_path: &Path,
    target: &str,
    opts: PushOptions,
) -> Result<Pushed> {
    let key = match opts.sign_key {
        Some((path, password)) => Some(
            blocking(move || {
                SigningKey::open(&path, password, "--sign-key").map_err(|e| Error::Usage(e.0))
            })
            .await?,
        ),
        None => None,
    };
    let tag = opts.tag.as_deref();
    let namespace = namespace_of(target)?;
    ctx.emit(Event::Phase(Phase::Validating));
    let path = pack_path.to_owned();
    let limits = ctx.config().limits;
    let (artifact, manifest, layer_dir) = blocking(move || build(&path, limits)).await?;
    let repo = namespace.child(&manifest.pack_ref);
    let tag = tag.map_or_else(|| artifact.tag.clone(), str::to_owned);
    OciReference::parse(&format!("{repo}:{tag}"))?;

    ctx.emit(Event::Phase(Phase::Committing));
    let client = ctx.oci_client().await?;
    let blobs = [
        (
            &artifact.config_digest,
            artifact.config.len() as u64,
            Body::Bytes(Bytes::from(artifact.config.clone())),
        ),
        (
            &artifact.layer.digest,
            artifact.layer.size,
            Body::File(layer_dir.path().join(LAYER_FILE)),
        ),
    ];
    let (mut uploaded, mounted) = send_blobs(&client, &repo, blobs).await?;
    let digest = client
        .put_manifest(
            &repo,
            &tag,
            Bytes::from(artifact.manifest.clone()),
            MANIFEST_MEDIA_TYPE,
        )
        .await?;
    if digest != artifact.manifest_digest {
        return Err(Error::Internal(
            "the pushed manifest's digest changed".into(),
        ));
    }
    if let Some(key) = &key {
        uploaded += sign(&client, &repo, (&digest, artifact.manifest.len()), key).await?;
    }
    Ok(Pushed {
        reference: format!("{repo}:{tag}@{digest}"),
        digest,
        tag,
        uploaded,
        mounted,
    })
}

/// Sends the blobs `repo` lacks: mounted from another repository of the registry when one
/// has it, else uploaded. Returns how many were uploaded and mounted.
async fn send_blobs(
    client: &Client<'_>,
    repo: &Repository,
    blobs: [(&String, u64, Body); 2],
) -> Result<(usize, usize)> {
    let mut uploaded = 0;
    let mut sources = None;
    let mut mounted = 0;
    for (digest, size, body) in blobs {
        if client.has_blob(repo, digest).await? {
            continue;
        }
        let sources = match &mut sources {
            Some(s) => s,
            None => sources.insert(mount_sources(client, repo).await),
        };
        if mount_from(client, repo, digest, sources).await? {
            mounted += 1;
            continue;
        }
        client.upload(repo, digest, size, body).await?;
        uploaded += 1;
    }
    Ok((uploaded, mounted))
}

/// Most repositories a blob is looked for in before it is uploaded.
const MAX_MOUNT_SOURCES: usize = 10;

/// The repositories of the same registry that may hold this pack's blobs: the pack's
/// repository in other namespaces (`staging/slack` for `prod/slack`), as the registry's
/// `_catalog` lists them; none where it has no catalog.
async fn mount_sources(client: &Client<'_>, repo: &Repository) -> Vec<String> {
    let last = repo.name.rsplit('/').next().unwrap_or(&repo.name);
    let Ok(Some(names)) = client.catalog(&repo.registry, "").await else {
        return Vec::new();
    };
    names
        .into_iter()
        .filter(|n| *n != repo.name && (n == last || n.ends_with(&format!("/{last}"))))
        .take(MAX_MOUNT_SOURCES)
        .collect()
}

/// Links blob `digest` into `repo` from the first of `sources` that has it (a
/// cross-repository mount: nothing is sent); whether one did.
async fn mount_from(
    client: &Client<'_>,
    repo: &Repository,
    digest: &str,
    sources: &[String],
) -> Result<bool> {
    for from in sources {
        let source = Repository {
            registry: repo.registry.clone(),
            name: from.clone(),
        };
        if client.has_blob(&source, digest).await.unwrap_or(false)
            && client.mount(repo, digest, from).await?
        {
            return Ok(true);
        }
    }
    Ok(false)
}

const LAYER_FILE: &str = "layer.tar.gz";

/// Pushes the signature of manifest `subject` as its referrer: the signature manifest by its
/// digest, and for a registry without the referrers API the `sha256-HEX` tag's index with it
/// added. Returns the blobs uploaded.
async fn sign(
    client: &Client<'_>,
    repo: &Repository,
    subject: (&str, usize),
    key: &SigningKey,
) -> Result<usize> {
    let (digest, _) = subject;
    let now = crate::model::receipt::now().unix_timestamp().max(0);
    let signature = key.sign(
        digest.as_bytes(),
        &format!("timestamp:{now}\tdigest:{digest}"),
    );
    let (manifest, manifest_digest) = signature_manifest(subject, signature.as_bytes());
    let mut uploaded = 0;
    for blob in [EMPTY_CONFIG.1, signature.as_bytes()] {
        let blob_digest = sha256_digest(blob);
        if !client.has_blob(repo, &blob_digest).await? {
            client
                .upload(
                    repo,
                    &blob_digest,
                    blob.len() as u64,
                    Body::Bytes(Bytes::copy_from_slice(blob)),
                )
                .await?;
            uploaded += 1;
        }
    }
    let size = manifest.len();
    client
        .put_manifest(
            repo,
            &manifest_digest,
            Bytes::from(manifest),
            MANIFEST_MEDIA_TYPE,
        )
        .await?;
    let referrers = client
        .referrers(repo, digest, SIGNATURE_ARTIFACT_TYPE)
        .await?;
    if referrers.api {
        return Ok(uploaded);
    }
    let mut all = referrers.all;
    all.retain(|m| m["digest"].as_str() != Some(manifest_digest.as_str()));
    all.push(serde_json::json!({
        "mediaType": MANIFEST_MEDIA_TYPE, "digest": manifest_digest, "size": size,
        "artifactType": SIGNATURE_ARTIFACT_TYPE,
    }));
    let index =
        serde_json::json!({"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": all});
    let bytes = serde_json::to_vec(&index).map_err(|e| Error::Internal(e.to_string()))?;
    client
        .put_manifest(
            repo,
            &fallback_tag(digest),
            Bytes::from(bytes),
            INDEX_MEDIA_TYPE,
        )
        .await?;
    Ok(uploaded)
}

/// The push target as a registry and namespace.
fn namespace_of(target: &str) -> Result<Repository> {
    parse_namespace(target).ok_or_else(|| {
        Error::Usage(format!(
            "push target `{target}`: expected oci://HOST[:PORT]/NAMESPACE (the pack is pushed to NAMESPACE/REF:VERSION)"
        ))
    })
}

/// The artifact of the pack at `path`, its layer in a temporary directory returned with it.
fn build(
    path: &PathBuf,
    limits: crate::config::Limits,
) -> Result<(PackArtifact, Manifest, tempfile::TempDir)> {
    use crate::error::IoContext;
    let meta =
        std::fs::metadata(path).map_err(|e| Error::NotFound(format!("{}: {e}", path.display())))?;
    let unpacked = Unpacked::of(path, meta.is_dir(), limits)?;
    let located = &unpacked.located;
    let origin = format!("{}: {}", path.display(), located.rel_file("pack.yaml"));
    let yaml = Manifest::read_text(&located.dir.join("pack.yaml"), &origin)?;
    let manifest = Manifest::parse(&yaml, &origin)?;
    let dir = tempfile::tempdir().ctx(|| "creating a temporary directory")?;
    let tree = PackTree {
        dir: &located.dir,
        entries: unpacked.entries.clone(),
    };
    let artifact = oci_artifact::build(
        tree,
        &yaml,
        &manifest,
        &unpacked.content,
        &dir.path().join(LAYER_FILE),
    )?;
    Ok((artifact, manifest, dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_targets_are_namespaces() {
        let r = namespace_of("oci://reg.example:5000/org/packs/").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.name.as_str()),
            ("reg.example:5000", "org/packs")
        );
        assert_eq!(namespace_of("oci://reg.example").unwrap().name, "");
        for bad in [
            "https://reg.example/x",
            "oci://reg.example/ns:1.0",
            "oci://reg.example/Ns",
        ] {
            assert_eq!(namespace_of(bad).unwrap_err().code(), "usage", "{bad}");
        }
    }
}
