//! OCI artifacts: `oci://HOST[:PORT]/REPO[:TAG][@sha256:DIGEST]` or `oci://HOST/REPO@REQ`.
//! The tag or requirement is resolved to a manifest digest, the manifest is checked against
//! it, and the pack layer streams download → sha256 → gunzip → untar through path safety into
//! staging, checked against the manifest's digest when its last byte has passed. Nothing of
//! a layer is held in memory or written whole to disk.

use std::fmt;
use std::path::Path;

use semver::Version;

use crate::context::Context;
use crate::error::{Error, Result};
use crate::model::checksum::{Algorithm, Checksum};
use crate::model::events::{Event, Phase};
use crate::model::receipt::{ReceiptSource, SourceKind};
use crate::net::oci::{Client, Repository, MAX_MANIFEST_BYTES};
use crate::records::oci_artifact::{
    check_digest_syntax, tag_version, ArtifactManifest, Descriptor, PackConfig,
};
use crate::safety::{Tree, TreeWriter};
use crate::source::archive::ArchiveFormat;
use crate::source::decompress::Compression;
use crate::source::http_archive::{extract_body, Body};
use crate::source::{Fetched, VersionSpec};

/// A pack's config blob is small; one over this is not a pack's.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// A parsed `oci://` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciReference {
    /// The registry and repository.
    pub repository: Repository,
    /// `:TAG`.
    pub tag: Option<String>,
    /// `@sha256:…`: the manifest must have this digest.
    pub digest: Option<String>,
    /// `@REQ`: the highest tag that is a version matching it (none: the highest release,
    /// or the tag `latest` when no tag is a version).
    pub version: Option<VersionSpec>,
}

impl OciReference {
    /// Reads `oci://HOST[:PORT]/REPO[:TAG][@sha256:DIGEST]` or `oci://HOST/REPO@REQ`.
    pub fn parse(input: &str) -> Result<OciReference> {
        let bad = |why: &str| {
            Error::Usage(format!(
                "`{input}` is not an OCI reference ({why}); the form is oci://HOST[:PORT]/REPO[:TAG][@sha256:DIGEST] or oci://HOST/REPO@VERSION_REQ"
            ))
        };
        let rest = input
            .strip_prefix("oci://")
            .ok_or_else(|| bad("it does not start with oci://"))?;
        let (registry, path) = rest.split_once('/').ok_or_else(|| bad("no repository"))?;
        if registry.is_empty()
            || !registry
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        {
            return Err(bad("the registry is not HOST[:PORT]"));
        }
        let (path, at) = match path.split_once('@') {
            Some((p, a)) => (p, Some(a)),
            None => (path, None),
        };
        let (name, tag) = match path.rsplit_once(':') {
            Some((n, t)) if !t.contains('/') => (n, Some(t.to_owned())),
            _ => (path, None),
        };
        check_name(name).map_err(|why| bad(&why))?;
        if let Some(t) = &tag {
            check_tag(t).map_err(|why| bad(&why))?;
        }
        let (digest, version) = match at {
            Some(d) if d.starts_with("sha256:") => {
                check_digest_syntax(d).map_err(|why| bad(&why))?;
                (Some(d.to_owned()), None)
            }
            Some(req) if tag.is_some() => {
                return Err(bad(&format!("both a tag and the requirement `{req}`")))
            }
            Some(req) => (
                None,
                Some(VersionSpec::parse(req).map_err(|why| bad(&why))?),
            ),
            None => (None, None),
        };
        Ok(OciReference {
            repository: Repository {
                registry: registry.to_ascii_lowercase(),
                name: name.to_owned(),
            },
            tag,
            digest,
            version,
        })
    }

    /// This reference pinned to `digest` (what a lockfile and `--locked` install).
    pub fn pinned(&self, digest: &str) -> String {
        let tag = self
            .tag
            .as_ref()
            .map(|t| format!(":{t}"))
            .unwrap_or_default();
        format!("{}{tag}@{digest}", self.repository)
    }
}

impl fmt::Display for OciReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        match (&self.digest, &self.version) {
            (Some(d), _) => write!(f, "@{d}"),
            (None, Some(VersionSpec::Exact(v))) => write!(f, "@{v}"),
            (None, Some(v)) => write!(f, "@{v}"),
            (None, None) => Ok(()),
        }
    }
}

/// `oci://HOST[:PORT]/NS` as a registry and namespace (`NS` may be empty or have several
/// components; a trailing `/` is ignored); `None` when it is not one (a tag or digest in it
/// included).
pub fn parse_namespace(url: &str) -> Option<Repository> {
    let rest = url.strip_prefix("oci://")?;
    let (registry, ns) = rest.split_once('/').unwrap_or((rest, ""));
    let ns = ns.trim_end_matches('/');
    if ns.contains([':', '@']) {
        return None;
    }
    // The namespace is checked as a repository name, with a placeholder when it is empty.
    let probe = if ns.is_empty() { "x" } else { ns };
    OciReference::parse(&format!("oci://{registry}/{probe}")).ok()?;
    Some(Repository {
        registry: registry.to_ascii_lowercase(),
        name: ns.to_owned(),
    })
}

/// A repository name as the distribution spec allows it: lowercase components of
/// `[a-z0-9]` separated by `.`, `_`, `__` or `-`, joined by `/` (so never `..`).
fn check_name(name: &str) -> std::result::Result<(), String> {
    let ok_component = |c: &str| {
        !c.is_empty()
            && c.starts_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            && c.ends_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            && c.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
            && !c.contains("..")
    };
    if name.len() <= 255 && name.split('/').all(ok_component) {
        Ok(())
    } else {
        Err(format!(
            "repository `{name}`: lowercase letters, digits and . _ - between /"
        ))
    }
}

fn check_tag(tag: &str) -> std::result::Result<(), String> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    ok.then_some(())
        .ok_or_else(|| format!("tag `{tag}`: letters, digits, _ . - (128 at most)"))
}

/// The highest tag of `tags` whose version `spec` asks for (pre-releases only when it names
/// them); `None` when there is none.
pub fn best_tag<'t>(tags: &'t [String], spec: &VersionSpec) -> Option<(&'t str, Version)> {
    tags.iter()
        .filter_map(|t| Some((t.as_str(), tag_version(t)?)))
        .filter(|(_, v)| spec.matches(v))
        .max_by(|a, b| a.1.cmp(&b.1))
}

/// Resolves `reference` to a manifest digest and its parsed manifest.
pub(crate) async fn resolve(
    client: &Client<'_>,
    reference: &OciReference,
) -> Result<(String, ArtifactManifest, Option<String>)> {
    let repo = &reference.repository;
    let (wanted, tag) = match (&reference.digest, &reference.tag, &reference.version) {
        (Some(d), tag, _) => (d.clone(), tag.clone()),
        (None, Some(t), _) => (t.clone(), Some(t.clone())),
        (None, None, spec) => {
            let tags = client.tags(repo).await?;
            let spec = spec.clone().unwrap_or(VersionSpec::Latest);
            match best_tag(&tags, &spec) {
                Some((t, _)) => (t.to_owned(), Some(t.to_owned())),
                None if reference.version.is_none() && tags.iter().any(|t| t == "latest") => {
                    ("latest".to_owned(), Some("latest".to_owned()))
                }
                None => {
                    return Err(Error::NotFound(format!(
                        "no tag of {repo} is a version matching {spec} ({} tags; versions are tags such as 1.2.3, with + written _)",
                        tags.len()
                    )))
                }
            }
        }
    };
    let fetched = client.manifest(repo, &wanted).await?;
    let shown = format!("{repo}@{}", fetched.digest);
    let manifest =
        ArtifactManifest::parse(&fetched.bytes, &shown).map_err(|message| Error::Oci {
            reference: reference.to_string(),
            message,
        })?;
    Ok((fetched.digest, manifest, tag))
}

/// Materializes the pack `input` names into staging (see the module's header).
pub(crate) async fn materialize(
    ctx: &Context,
    input: &str,
    writer: TreeWriter,
    staging: &Path,
    algorithms: &[Algorithm],
) -> Result<Fetched> {
    let reference = OciReference::parse(input)?;
    ctx.emit(Event::Phase(Phase::Resolving));
    let client = ctx.oci_client().await?;
    let (digest, manifest, tag) = resolve(&client, &reference).await?;
    let config = fetch_config(&client, &reference, &manifest).await?;

    ctx.emit(Event::Phase(Phase::Downloading));
    let layer = &manifest.layer;
    let max = ctx.config().limits.max_download_bytes;
    if layer.size > max {
        return Err(writer.download_limit_error("(the pack layer, by its manifest)"));
    }
    let response = client.blob(&reference.repository, &layer.digest).await?;
    if response.content_length().is_some_and(|n| n != layer.size) {
        return Err(mismatch(
            &reference.to_string(),
            "the layer's size",
            &layer.size.to_string(),
            &response.content_length().unwrap_or(0).to_string(),
        ));
    }
    let body = Body {
        response,
        head: Vec::new(),
        format: ArchiveFormat::Tar(Compression::Gzip),
    };
    let algos = layer_algorithms(algorithms);
    let (tree, measured) = extract_body(ctx, body, writer, staging, &algos, None).await?;
    let shown = reference.to_string();
    let content = config.and_then(|c| c.content);
    let archive = check_layer(&shown, layer, measured, &tree, content.as_ref(), algorithms)?;
    Ok(Fetched {
        tree,
        archive,
        record: ReceiptSource {
            kind: Some(SourceKind::Oci),
            url: Some(reference.to_string()),
            git_ref: tag,
            digest: Some(digest),
            ..Default::default()
        },
        validators: Default::default(),
    })
}

/// The config blob, checked against its digest; `None` for an artifact whose config is not
/// a pack config (one pushed by another tool with only the pack's layer type).
pub(crate) async fn fetch_config(
    client: &Client<'_>,
    reference: &OciReference,
    manifest: &ArtifactManifest,
) -> Result<Option<PackConfig>> {
    let d = &manifest.config;
    if d.media_type != crate::records::oci_artifact::CONFIG_MEDIA_TYPE {
        return Ok(None);
    }
    if d.size > MAX_CONFIG_BYTES {
        return Err(Error::Oci {
            reference: reference.to_string(),
            message: format!("a config blob of {} bytes (1 MiB at most)", d.size),
        });
    }
    let bytes = client
        .blob(&reference.repository, &d.digest)
        .await?
        .bytes(
            MAX_CONFIG_BYTES.min(MAX_MANIFEST_BYTES),
            "the 1 MiB config limit",
        )
        .await?;
    let actual = crate::net::oci::sha256_digest(&bytes);
    if actual != d.digest {
        return Err(mismatch(
            &reference.to_string(),
            "the config blob",
            &d.digest,
            &actual,
        ));
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| Error::Oci {
            reference: reference.to_string(),
            message: format!("the config blob is not a pack config: {e}"),
        })
}

fn mismatch(shown: &str, what: &str, expected: &str, actual: &str) -> Error {
    Error::DigestMismatch {
        what: what.to_owned(),
        reference: shown.to_owned(),
        expected: expected.to_owned(),
        actual: actual.to_owned(),
    }
}

/// The algorithms a layer is hashed with: those asked for, and sha256 for its digest.
pub(crate) fn layer_algorithms(asked: &[Algorithm]) -> Vec<Algorithm> {
    let mut algorithms = asked.to_vec();
    if !algorithms.contains(&Algorithm::Sha256) {
        algorithms.push(Algorithm::Sha256);
    }
    algorithms
}

/// Checks an extracted layer (of `shown`, a registry's or a layout's) against its manifest:
/// the sha256 measured of its bytes against `layer`'s digest, the tree against the content
/// checksum the config names. Returns the checksums the receipt records of the layer: those
/// asked for, or its sha256 when none were.
pub(crate) fn check_layer(
    shown: &str,
    layer: &Descriptor,
    measured: Vec<Checksum>,
    tree: &Tree,
    content: Option<&Checksum>,
    asked: &[Algorithm],
) -> Result<Vec<Checksum>> {
    let sha = measured
        .iter()
        .find(|c| c.algorithm == Algorithm::Sha256)
        .map(|c| format!("sha256:{}", c.hex()))
        .unwrap_or_default();
    if sha != layer.digest {
        return Err(mismatch(shown, "the pack layer", &layer.digest, &sha));
    }
    if let Some(content) = content {
        let actual = tree.digest.checksum_under("");
        if actual != *content {
            let what = "the content checksum its config names";
            return Err(mismatch(
                shown,
                what,
                &content.to_string(),
                &actual.to_string(),
            ));
        }
    }
    Ok(measured
        .into_iter()
        .filter(|c| asked.contains(&c.algorithm) || asked.is_empty())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_read() {
        let r = OciReference::parse("oci://reg.example:5000/org/packs/slack:2.1.0").unwrap();
        assert_eq!(r.repository.registry, "reg.example:5000");
        assert_eq!(r.repository.name, "org/packs/slack");
        assert_eq!(r.tag.as_deref(), Some("2.1.0"));
        let d = format!("sha256:{}", "a".repeat(64));
        let r = OciReference::parse(&format!("oci://reg.example/slack:2.1.0@{d}")).unwrap();
        assert_eq!(r.digest.as_deref(), Some(d.as_str()));
        let r = OciReference::parse("oci://reg.example/ns/slack@^2").unwrap();
        assert!(matches!(r.version, Some(VersionSpec::Req(_))));
        assert_eq!(r.to_string(), "oci://reg.example/ns/slack@^2");
        for bad in [
            "oci://reg.example",
            "oci://reg.example/../x",
            "oci://reg.example/Up",
            "oci://reg.example/a:t@^1",
            "oci://reg.example/a@sha256:zz",
        ] {
            assert_eq!(
                OciReference::parse(bad).unwrap_err().code(),
                "usage",
                "{bad}"
            );
        }
    }

    #[test]
    fn the_best_tag_is_the_highest_matching_version() {
        let tags: Vec<String> = ["1.0.0", "2.1.0", "2.2.0-rc.1", "latest", "2.0.0_build.1"]
            .map(String::from)
            .to_vec();
        assert_eq!(best_tag(&tags, &VersionSpec::Latest).unwrap().0, "2.1.0");
        let pre = VersionSpec::parse(">=2.2.0-rc.1").unwrap();
        assert_eq!(best_tag(&tags, &pre).unwrap().0, "2.2.0-rc.1");
        assert!(best_tag(&tags, &VersionSpec::parse("^3").unwrap()).is_none());
    }
}
