//! Registries: Attune's index documents ([`index`]), getting them through the on-disk cache
//! ([`load`], [`cache`]), resolving `name[@version]` against prioritized indices
//! ([`resolve`]), installing what was resolved, and the pack author's tools ([`publish`]).

pub mod cache;
pub mod index;
pub mod load;
mod oci_index;
mod plan;
pub mod resolve;
pub(crate) mod stored;
pub(crate) mod summaries;

pub(crate) use load::is_bundle;
pub(crate) use plan::{is_remote, Registry, Required};

use semver::Version;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::pack_ref::PackRef;
use crate::net::Connectivity;
use crate::pack::manifest::Manifest;
use crate::source::VersionSpec;
use crate::util::redact::redact_url;

use load::Revalidate;
use resolve::{best, index_name, search_order};

/// The ref and version an index entry promises; the pack.yaml found in its source must say
/// the same, or a compromised or sloppy source could install something else under its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    pub pack_ref: PackRef,
    pub version: Version,
    /// Where the promise comes from, for the error ("index `main`, entry slack 2.1.0").
    pub from: String,
}

impl Identity {
    pub fn check(&self, manifest: &Manifest) -> Result<()> {
        if manifest.pack_ref == self.pack_ref && manifest.version == self.version {
            return Ok(());
        }
        Err(Error::IdentityMismatch {
            found: format!("`{}` {}", manifest.pack_ref, manifest.version),
            promised: format!("`{}` {}", self.pack_ref, self.version),
            from: self.from.clone(),
        })
    }
}

/// A `search` result: the newest version of a matching pack in one index.
#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    /// The pack's ref.
    #[serde(rename = "ref")]
    pub pack_ref: String,
    /// Its newest version in the index.
    pub version: String,
    /// Its label.
    pub label: String,
    /// What it is for.
    pub description: String,
    /// The index it was found in.
    pub index: String,
}

/// A `registries` line: one configured index and how it is doing.
#[derive(Debug, Clone, Serialize)]
pub struct IndexStatus {
    /// The index's name.
    pub name: String,
    /// Its URL, credentials and query strings redacted.
    pub url: String,
    /// Lower is searched first.
    pub priority: i64,
    /// Searched at all.
    pub enabled: bool,
    /// Age of the cached copy (remote indices only).
    pub cache_age_secs: Option<u64>,
    /// Whether it answered now; `None` when it was not asked (disabled, or `--offline`).
    pub reachable: Option<bool>,
}

impl Registry<'_> {
    /// Packs whose ref, label, keywords or description contain `query` (case-insensitive),
    /// in the enabled indices (or only `registry`), in search order.
    pub async fn search(&self, query: &str, registry: Option<&str>) -> Result<Vec<SearchHit>> {
        let needle = query.to_lowercase();
        let order = search_order(&self.ctx().config().pack_registry, registry)?;
        let mut hits = Vec::new();
        let mut read_any = false;
        for config in &order {
            if oci_index::is_oci(config) {
                let name = index_name(config);
                match oci_index::search(self.ctx(), config, &name, &needle).await {
                    Ok(Some(found)) => {
                        read_any = true;
                        hits.extend(found);
                    }
                    Ok(None) => self.ctx().warn(format!(
                        "index `{name}`: the registry offers no _catalog, so its packs cannot be listed; `install NAME` still finds them by name"
                    )),
                    Err(e) => self.ctx().warn(format!("index `{name}` is unavailable and was skipped: {e}")),
                }
                continue;
            }
            let Some(loaded) = self.loader().load(config, Revalidate::IfStale).await? else {
                continue;
            };
            read_any = true;
            let mut refs: Vec<&str> = loaded
                .index
                .summaries()
                .filter(|e| matches_query(e, &needle))
                .map(|e| e.pack_ref)
                .collect();
            refs.sort_unstable();
            refs.dedup();
            for r in refs {
                // The newest release, or the newest pre-release of a pack that has no release.
                let entry = best(&loaded.index, r, &VersionSpec::Latest).or_else(|| {
                    loaded
                        .index
                        .versions_of(r)
                        .max_by(|a, b| a.version.cmp(&b.version))
                });
                if let Some(e) = entry {
                    hits.push(SearchHit {
                        pack_ref: e.pack_ref.to_string(),
                        version: e.version.to_string(),
                        label: e.label.to_owned(),
                        description: e.description.to_owned(),
                        index: loaded.name.clone(),
                    });
                }
            }
        }
        if !read_any {
            let names: Vec<String> = order.iter().map(|c| index_name(c)).collect();
            if let Some(refused) = self.loader().refusal(names.iter().map(String::as_str)) {
                return Err(refused);
            }
            return Err(Error::IndexUnavailable(format!(
                "none of the indices could be read ({}); see the warnings above",
                names.join(", ")
            )));
        }
        Ok(hits)
    }

    /// Every configured index (disabled ones too) with its cache age and whether it answers
    /// now; enabled remote indices are revalidated, which also refreshes their cache.
    pub async fn statuses(&self) -> Result<Vec<IndexStatus>> {
        let ctx = self.ctx();
        let offline = ctx.network().connectivity == Connectivity::Offline;
        let mut out = Vec::new();
        for config in &ctx.config().pack_registry.indices {
            let reachable = if config.enabled && ctx.config().pack_registry.enabled {
                match (oci_index::is_oci(config), offline) {
                    (true, true) => None,
                    (true, false) => Some(oci_index::reachable(ctx, config).await),
                    (false, _) => self.reachable(config).await,
                }
            } else {
                None
            };
            out.push(IndexStatus {
                name: index_name(config),
                url: redact_url(&config.url),
                priority: config.priority,
                enabled: config.enabled,
                cache_age_secs: self.loader().cache_age(config),
                reachable,
            });
        }
        Ok(out)
    }
}

impl Registry<'_> {
    /// Whether a JSON index answers now (`None` offline).
    async fn reachable(&self, config: &crate::config::IndexConfig) -> Option<bool> {
        let offline = self.ctx().network().connectivity == Connectivity::Offline;
        match self.loader().load(config, Revalidate::Always).await {
            Ok(Some(loaded)) => loaded.freshness.reachable(),
            Ok(None) if offline => None,
            Ok(None) => Some(false),
            Err(e) => {
                self.ctx()
                    .warn(format!("index `{}`: {e}", index_name(config)));
                Some(false)
            }
        }
    }
}

fn matches_query(e: &index::Summary, needle: &str) -> bool {
    let has = |s: &str| s.to_lowercase().contains(needle);
    has(e.pack_ref) || has(e.label) || has(e.description) || e.keywords().any(has)
}
