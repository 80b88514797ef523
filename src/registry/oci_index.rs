//! An OCI namespace as an index (`pack_registry.indices[].url: oci://HOST/NS`): pack `R` is
//! the repository `NS/R`, its versions are its tags (`+` written `_`), and what resolving
//! needs (dependencies, label, content checksum) comes from the chosen version's config
//! blob; no layer is downloaded to resolve. The versions are presented as an index document
//! of one entry per tag, so every command that reads indices (install, outdated, update,
//! --with-deps, bundle) reads these the same way. `search` lists the namespace through the
//! registry's `_catalog` where it has one. With `trusted_keys`, every version resolved by
//! tag must carry a signature referrer (see `push --sign-key`) by one of the keys.

use std::sync::Arc;

use serde_json::json;

use crate::config::IndexConfig;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::integrity::signature::{TrustedKeys, Verified};
use crate::model::pack_ref::PackRef;
use crate::net::oci::{sha256_digest, Client, Repository};
use crate::records::oci_artifact::{
    signature_layer, tag_version, MAX_SIGNATURE_BYTES, SIGNATURE_ARTIFACT_TYPE,
};
use crate::source::oci::{fetch_config, parse_namespace, resolve, OciReference};
use crate::source::VersionSpec;

use super::index::{Dependencies, Index, InstallSource, PackEntry};
use super::load::{Freshness, Loaded, Location};
use super::resolve::best;
use super::SearchHit;

/// Whether the index is an OCI namespace.
pub(crate) fn is_oci(config: &IndexConfig) -> bool {
    config.url.to_ascii_lowercase().starts_with("oci://")
}

/// The namespace an index names: `oci://HOST[:PORT]/NS` (NS may be empty).
fn namespace(config: &IndexConfig) -> Result<Repository> {
    parse_namespace(&config.url).ok_or_else(|| {
        Error::Usage(format!(
            "pack_registry.indices url `{}` is not oci://HOST[:PORT]/NAMESPACE",
            config.url
        ))
    })
}

/// The versions of `pack_ref` in the namespace, as a loaded index; `None` (with a warning)
/// when the registry cannot be read. A repository that does not exist is an index without
/// the pack.
pub(crate) async fn versions(
    ctx: &Context,
    client: &Client<'_>,
    config: &IndexConfig,
    name: &str,
    pack_ref: &PackRef,
) -> Result<Option<Arc<Loaded>>> {
    let ns = namespace(config)?;
    let repo = ns.child(pack_ref);
    let tags = match client.tags(&repo).await {
        Ok(tags) => tags,
        Err(Error::NotFound(_)) => Vec::new(),
        Err(e @ (Error::Usage(_) | Error::InsecureHttp(_) | Error::AddressNotAllowed { .. })) => {
            return Err(e)
        }
        Err(e) => {
            ctx.warn(format!(
                "index `{name}` is unavailable and was skipped: {e}"
            ));
            return Ok(None);
        }
    };
    let entries: Vec<_> = tags
        .iter()
        .filter(|t| tag_version(t).is_some())
        .map(|tag| {
            json!({
                "ref": pack_ref, "label": pack_ref, "description": "",
                "version": tag_version(tag).map(|v| v.to_string()),
                "author": "", "license": "", "keywords": [], "runtime_deps": [], "contents": {},
                "install_sources": [{"type": "oci", "url": format!("{repo}:{tag}"), "checksum": ""}],
            })
        })
        .collect();
    let doc = serde_json::to_vec(&json!({"packs": entries}))
        .map_err(|e| Error::Internal(e.to_string()))?;
    let (index, _) = Index::parse(&doc, name).map_err(Error::IndexUnavailable)?;
    Ok(Some(Arc::new(Loaded {
        name: name.to_owned(),
        index,
        location: Location::Url(config.url.clone()),
        freshness: Freshness::Downloaded,
        signed: None,
        bundle: None,
    })))
}

/// The entry chosen from [`versions`], completed from its manifest and config: its source
/// pinned to the manifest digest, with the content checksum and what it depends on. With
/// `trusted_keys`, the manifest must have a signature referrer by one of them, and the
/// signature that verified is returned.
pub(crate) async fn complete(
    client: &Client<'_>,
    config: &IndexConfig,
    mut entry: PackEntry,
) -> Result<(PackEntry, Option<Verified>)> {
    let Some(InstallSource::Oci { url, .. }) = entry.install_sources.first() else {
        return Ok((entry, None));
    };
    let reference = OciReference::parse(url)?;
    let (digest, manifest, _) = resolve(client, &reference).await?;
    let signed = match config.trusted_keys.is_empty() {
        true => None,
        false => Some(signature(client, config, &reference, &digest).await?),
    };
    let pack = fetch_config(client, &reference, &manifest)
        .await?
        .unwrap_or_default();
    entry.install_sources = vec![InstallSource::Oci {
        url: reference.pinned(&digest),
        checksum: pack.content,
    }];
    entry.label = pack.label.unwrap_or(entry.label);
    entry.description = pack.description.unwrap_or_default();
    entry.author = pack.author.unwrap_or_default();
    entry.license = pack.license.unwrap_or_default();
    entry.keywords = pack.keywords;
    entry.runtime_deps = pack.runtime_deps;
    entry.dependencies = (!pack.dependencies.is_empty()).then_some(Dependencies {
        attune_version: None,
        python_version: None,
        nodejs_version: None,
        packs: pack.dependencies,
    });
    Ok((entry, signed))
}

/// The first signature referrer of manifest `digest` that verifies with the index's keys;
/// [`Error::SignatureInvalid`] when none does (or there is none).
async fn signature(
    client: &Client<'_>,
    config: &IndexConfig,
    reference: &OciReference,
    digest: &str,
) -> Result<Verified> {
    let subject = format!("{}@{digest}", reference.repository);
    let keys = TrustedKeys::load(&config.trusted_keys, None)
        .map_err(|e| Error::Usage(format!("index `{}`: trusted_keys: {}", config.url, e.0)))?;
    let repo = &reference.repository;
    let referrers = client
        .referrers(repo, digest, SIGNATURE_ARTIFACT_TYPE)
        .await?;
    let mut reason = "it has no signature referrer (push it with --sign-key)".to_owned();
    for d in &referrers.matching {
        let Some(sig_digest) = d["digest"].as_str() else {
            continue;
        };
        let manifest = client.manifest(repo, sig_digest).await?;
        let Some(layer) = signature_layer(&manifest.bytes, digest) else {
            continue;
        };
        let bytes = client
            .blob(repo, &layer.digest)
            .await?
            .bytes(MAX_SIGNATURE_BYTES, "the 64 KiB signature limit")
            .await?;
        if sha256_digest(&bytes) != layer.digest {
            reason = format!("signature blob {} does not match its digest", layer.digest);
            continue;
        }
        match keys.verify(digest.as_bytes(), &bytes) {
            Ok(verified) => return Ok(verified),
            Err(e) => reason = e.0,
        }
    }
    Err(Error::SignatureInvalid { subject, reason })
}

/// `loaded` (fresh from [`versions`]) with the signature that verified its chosen entry, so
/// the receipt records the key.
pub(crate) fn with_signature(loaded: Arc<Loaded>, signed: Option<Verified>) -> Arc<Loaded> {
    match (signed, Arc::try_unwrap(loaded)) {
        (Some(v), Ok(mut l)) => {
            l.signed = Some(v);
            Arc::new(l)
        }
        (_, Ok(l)) => Arc::new(l),
        (_, Err(shared)) => shared,
    }
}

/// Whether the namespace's registry answers the distribution API now (`registries`).
pub(crate) async fn reachable(ctx: &Context, config: &IndexConfig) -> bool {
    let Ok(ns) = namespace(config) else {
        return false;
    };
    match ctx.oci_client().await {
        Ok(client) => client.ping(&ns.registry).await.is_ok(),
        Err(_) => false,
    }
}

/// Packs of the namespace whose ref, label, keywords or description contain `needle`
/// (lowercase); `None` when the registry offers no `_catalog` to list them.
pub(crate) async fn search(
    ctx: &Context,
    config: &IndexConfig,
    name: &str,
    needle: &str,
) -> Result<Option<Vec<SearchHit>>> {
    let ns = namespace(config)?;
    let client = ctx.oci_client().await?;
    let prefix = match ns.name.as_str() {
        "" => String::new(),
        n => format!("{n}/"),
    };
    let Some(repos) = client.catalog(&ns.registry, &prefix).await? else {
        return Ok(None);
    };
    let mut hits = Vec::new();
    for repo in repos {
        let Some(pack_ref) = PackRef::new(&repo[prefix.len()..]) else {
            continue;
        };
        let Some(loaded) = versions(ctx, &client, config, name, &pack_ref).await? else {
            continue;
        };
        let Some(found) = best(&loaded.index, &pack_ref, &VersionSpec::Latest) else {
            continue;
        };
        let entry = loaded
            .index
            .entry(&found)
            .map_err(Error::IndexUnavailable)?;
        let (entry, _) = complete(&client, config, entry).await?;
        let has = |s: &str| s.to_lowercase().contains(needle);
        if has(&entry.pack_ref)
            || has(&entry.label)
            || has(&entry.description)
            || entry.keywords.iter().any(|k| has(k))
        {
            hits.push(SearchHit {
                pack_ref: entry.pack_ref.to_string(),
                version: entry.version.to_string(),
                label: entry.label,
                description: entry.description,
                index: name.to_owned(),
            });
        }
    }
    Ok(Some(hits))
}
