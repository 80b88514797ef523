//! Installing a registry reference: resolve it to an index entry, then try the entry's
//! sources (git first, as Attune does, then archives) with the entry's checksum required.

use std::path::Path;

use crate::checksum::{Algorithm, Checksum};
use crate::error::{Error, IoContext, Result};
use crate::events::{Event, Phase};
use crate::installer::{Installer, Materialized};
use crate::pack_ref::PackRef;
use crate::receipt::SourceKind;
use crate::redact::redact_url;
use crate::source::{PackSource, VersionSpec};

use super::index::{InstallSource, PackEntry};
use super::load::{Loaded, Loader, Location};
use super::resolve::{best, index_name, search_order, Misses};
use super::Identity;

/// A resolved registry reference and the sources to try, in order.
pub(crate) struct Plan {
    pub candidates: Vec<Candidate>,
    /// The caller's archive algorithms plus the one the index's checksums use.
    pub algorithms: Vec<Algorithm>,
    index: String,
    entry: PackEntry,
    verify: bool,
}

pub(crate) struct Candidate {
    pub source: PackSource,
    /// The source's URL as written in the index, made absolute.
    url: String,
    kind: &'static str,
    checksum: Option<Checksum>,
}

/// A resolved index entry, with the index it came from.
pub(crate) struct Found {
    pub index: Loaded,
    pub entry: PackEntry,
}

impl Installer {
    /// Finds the entry for `pack_ref`/`spec`: the first index (in search order) with a
    /// matching version wins, and within it the highest matching version. Indices are loaded
    /// only as far as needed.
    pub(crate) async fn resolve_registry(
        &self,
        pack_ref: &PackRef,
        spec: &VersionSpec,
        pinned: Option<&str>,
        warn: &mut dyn FnMut(String),
    ) -> Result<Found> {
        let inner = &self.inner;
        inner.emit(Event::Phase(Phase::Resolving));
        let loader = Loader::new(inner);
        let mut misses = Misses::default();
        for config in search_order(&inner.config.pack_registry, pinned)? {
            let name = index_name(config);
            match loader.load(config, false, warn).await? {
                Some(index) => {
                    if let Some(entry) = best(&index.index, pack_ref, spec).cloned() {
                        return Ok(Found { index, entry });
                    }
                    misses.record(name, Some(&index.index), pack_ref);
                }
                None => misses.record(name, None, pack_ref),
            }
        }
        Err(misses.into_error(pack_ref, spec))
    }

    /// Resolves a registry reference into the sources to try.
    pub(crate) async fn registry_plan(
        &self,
        pack_ref: &PackRef,
        spec: &VersionSpec,
        pinned: Option<&str>,
        algorithms: &[Algorithm],
        warnings: &mut Vec<String>,
    ) -> Result<Plan> {
        let inner = &self.inner;
        let found = self
            .resolve_registry(pack_ref, spec, pinned, &mut |w| inner.warn(warnings, w))
            .await?;
        let verify = inner.config.pack_registry.verify_checksums;
        let what = format!(
            "`{}` {} of index `{}`",
            found.entry.pack_ref, found.entry.version, found.index.name
        );
        // Git first, as Attune does: a checkout is verified by its content checksum.
        let mut sources: Vec<&InstallSource> = found.entry.install_sources.iter().collect();
        sources.sort_by_key(|s| matches!(s, InstallSource::Archive { .. }));
        let mut candidates = Vec::new();
        let mut refused = None;
        for s in sources {
            let url = found.index.location.join(s.url());
            if matches!(found.index.location, Location::Url(_)) && !is_remote(&url) {
                // A document anyone on the network path could have written must not make
                // this host install its own files (or any local path).
                let e = Error::LocalSourceFromRemoteIndex {
                    url: redact_url(&url),
                };
                inner.warn(
                    warnings,
                    format!("the {} source of {what} is not used: {e}", s.kind()),
                );
                refused = Some(e);
                continue;
            }
            if verify && s.checksum().is_none() {
                inner.warn(
                    warnings,
                    format!(
                        "the {} source {} of {what} has no checksum; not used (verify_checksums is on)",
                        s.kind(),
                        redact_url(&url)
                    ),
                );
                continue;
            }
            candidates.push(Candidate {
                source: pack_source(s, &url),
                url,
                kind: s.kind(),
                checksum: s.checksum().cloned(),
            });
        }
        if let (true, Some(e)) = (candidates.is_empty(), refused) {
            return Err(e);
        }
        if candidates.is_empty() {
            return Err(Error::ChecksumMissing(format!(
                "{what}: none of its install sources has a checksum, and verify_checksums is on"
            )));
        }
        if !verify {
            inner.warn(
                warnings,
                format!(
                    "checksum verification is off (pack_registry.verify_checksums: false): {what} is installed without checking it"
                ),
            );
        }
        let mut algorithms = algorithms.to_vec();
        for c in candidates.iter().filter_map(|c| c.checksum.as_ref()) {
            if !algorithms.contains(&c.algorithm) {
                algorithms.push(c.algorithm);
            }
        }
        Ok(Plan {
            candidates,
            algorithms,
            index: found.index.name,
            entry: found.entry,
            verify,
        })
    }

    /// After source `i` of `plan` failed with `err`: `Ok` (with a warning, and the staging
    /// tree emptied) when the next source is worth trying, else the error.
    pub(crate) fn registry_fallback(
        &self,
        plan: &Plan,
        i: usize,
        err: Error,
        tree_root: &Path,
        warnings: &mut Vec<String>,
    ) -> Result<()> {
        // Only failures to fetch move on; a security refusal or an interrupt must stop here.
        let (Some(next), true) = (plan.candidates.get(i + 1), err.is_fetch_failure()) else {
            return Err(err);
        };
        let failed = &plan.candidates[i];
        self.inner.warn(
            warnings,
            format!(
                "could not fetch the {} source {} ({err}); trying the {} source {}",
                failed.kind,
                redact_url(&failed.url),
                next.kind,
                redact_url(&next.url)
            ),
        );
        std::fs::remove_dir_all(tree_root)
            .and_then(|_| std::fs::create_dir(tree_root))
            .ctx(|| format!("emptying {}", tree_root.display()))
    }
}

impl Plan {
    /// The materialized source, now carrying what the index promises and requires.
    pub(crate) fn finish(&self, c: &Candidate, mut m: Materialized) -> Materialized {
        let entry = &self.entry;
        let about = format!(
            "index `{}`, entry `{}` {}",
            self.index, entry.pack_ref, entry.version
        );
        m.identity = Some(Identity {
            pack_ref: entry.pack_ref.clone(),
            version: entry.version.clone(),
            from: about.clone(),
        });
        if self.verify {
            m.expected = c
                .checksum
                .clone()
                .map(|sum| (sum, format!("the checksum of {about}")));
        }
        m.record.kind = Some(SourceKind::Registry);
        m.record.index = Some(self.index.clone());
        m.record.url = Some(redact_url(&c.url));
        m.record.path = None;
        m
    }
}

/// A source fetched over the network: http(s), git, ssh, or scp-like `user@host:path`.
fn is_remote(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    ["http://", "https://", "git://", "ssh://"]
        .iter()
        .any(|scheme| lower.starts_with(scheme))
        || url
            .split_once(':')
            .is_some_and(|(host, _)| host.contains('@') && !host.contains('/'))
}

/// The source kind that fetches an index source: file:// archives are local archives.
fn pack_source(s: &InstallSource, url: &str) -> PackSource {
    match s {
        InstallSource::Git { git_ref, .. } => PackSource::Git {
            url: url.to_owned(),
            git_ref: git_ref.clone(),
        },
        InstallSource::Archive { .. } => match url.strip_prefix("file://") {
            Some(path) => PackSource::LocalArchive { path: path.into() },
            None => PackSource::Archive {
                url: url.to_owned(),
            },
        },
    }
}
