//! What a registry reference comes to: the index entry it resolves to and the sources to try,
//! in order (git first, as Attune does, then archives), each with the checksum the entry
//! requires. The registry plans; fetching and installing are the pipeline's.

use std::sync::Arc;

use semver::Version;

use crate::context::Context;
use crate::error::{Error, Result};
use crate::model::checksum::{Algorithm, Checksum};
use crate::model::events::{Event, Phase};
use crate::model::pack_ref::PackRef;
use crate::model::receipt::{ReceiptSource, SourceKind};
use crate::pack::locate::Subdir;
use crate::source::{PackSource, VersionSpec};
use crate::util::redact::redact_url;

use super::index::{InstallSource, PackEntry};
use super::load::{Loaded, Loader, Location, Revalidate};
use super::oci_index;
use super::resolve::{best, index_name, search_order, Misses};
use super::Identity;

/// A resolved registry reference and the sources to try, in order.
pub(crate) struct Plan {
    pub candidates: Vec<Candidate>,
    /// The archive algorithms the entry's checksums use.
    pub algorithms: Vec<Algorithm>,
    index: String,
    /// The key that verified the index's signature.
    key_id: Option<String>,
    /// For a pack of an offline bundle: the bundle's path and the pack's original source.
    bundled: Option<(String, ReceiptSource)>,
    entry: PackEntry,
    verify: bool,
}

/// One source of the entry.
pub(crate) struct Candidate {
    pub source: PackSource,
    /// The source's URL as written in the index, made absolute.
    url: String,
    kind: &'static str,
    checksum: Option<Checksum>,
    /// Where the pack is inside the source (checked when the index was read).
    pub subdir: Option<Subdir>,
}

/// What the index requires of a source fetched for it.
pub(crate) struct Required {
    /// The checksum it must have, and where that requirement comes from.
    pub checksum: Option<(Checksum, String)>,
    /// The pack it must be.
    pub identity: Identity,
}

/// A resolved index entry, with the index it came from.
struct Found {
    index: Arc<Loaded>,
    entry: PackEntry,
}

/// Resolves registry references against the configured indices, for one command (each index
/// is loaded once, however often it is asked).
pub(crate) struct Registry<'a> {
    ctx: &'a Context,
    loader: Loader<'a>,
}

impl<'a> Registry<'a> {
    pub fn new(ctx: &'a Context) -> Self {
        Registry {
            ctx,
            loader: Loader::new(ctx),
        }
    }

    /// Finds the entry for `pack_ref`/`spec`: the first index (in search order) with a
    /// matching version wins, and within it the highest matching version. Indices are loaded
    /// only as far as needed.
    async fn resolve(
        &self,
        pack_ref: &PackRef,
        spec: &VersionSpec,
        pinned: Option<&str>,
    ) -> Result<Found> {
        self.ctx.emit(Event::Phase(Phase::Resolving));
        let mut misses = Misses::default();
        let order = search_order(&self.ctx.config().pack_registry, pinned)?;
        // One OCI client for the indices that need one: its token cache and auth files serve
        // every request of this resolve.
        let oci_client = tokio::sync::OnceCell::new();
        for config in &order {
            let name = index_name(config);
            let client = match oci_index::is_oci(config) {
                true => Some(oci_client.get_or_try_init(|| self.ctx.oci_client()).await?),
                false => None,
            };
            let loaded = match client {
                Some(c) => oci_index::versions(self.ctx, c, config, &name, pack_ref).await?,
                None => self.loader.load(config, Revalidate::IfStale).await?,
            };
            match loaded {
                Some(index) => {
                    if let Some(found) = best(&index.index, pack_ref, spec) {
                        let entry = index.index.entry(&found).map_err(Error::IndexUnavailable)?;
                        let Some(c) = client else {
                            return Ok(Found { index, entry });
                        };
                        let (entry, signed) = oci_index::complete(c, config, entry).await?;
                        return Ok(Found {
                            index: oci_index::with_signature(index, signed),
                            entry,
                        });
                    }
                    misses.record(name, Some(&index.index), pack_ref);
                }
                None => misses.record(name, None, pack_ref),
            }
        }
        let names: Vec<String> = order.iter().map(|c| index_name(c)).collect();
        Err(self
            .loader
            .refusal(names.iter().map(String::as_str))
            .unwrap_or_else(|| misses.into_error(pack_ref, spec)))
    }

    /// The version a registry reference resolves to, and the index that has it (nothing is
    /// fetched).
    pub async fn resolve_version(
        &self,
        pack_ref: &PackRef,
        spec: &VersionSpec,
        pinned: Option<&str>,
    ) -> Result<(Version, String)> {
        let found = self.resolve(pack_ref, spec, pinned).await?;
        Ok((found.entry.version, found.index.name.clone()))
    }

    /// Resolves a registry reference into the sources to try.
    pub async fn plan(
        &self,
        pack_ref: &PackRef,
        spec: &VersionSpec,
        pinned: Option<&str>,
    ) -> Result<Plan> {
        let found = self.resolve(pack_ref, spec, pinned).await?;
        let verify = self.ctx.config().pack_registry.verify_checksums;
        let what = format!(
            "`{}` {} of index `{}`",
            found.entry.pack_ref, found.entry.version, found.index.name
        );
        let candidates = self.candidates(&found, &what, verify)?;
        if !verify {
            self.ctx.warn(format!(
                "checksum verification is off (pack_registry.verify_checksums: false): {what} is installed without checking it"
            ));
        }
        let mut algorithms = Vec::new();
        for c in candidates.iter().filter_map(|c| c.checksum.as_ref()) {
            if !algorithms.contains(&c.algorithm) {
                algorithms.push(c.algorithm);
            }
        }
        Ok(Plan {
            candidates,
            algorithms,
            index: found.index.name.clone(),
            key_id: found.index.signed.as_ref().map(|v| v.key_id.to_string()),
            bundled: bundled(&found),
            entry: found.entry,
            verify,
        })
    }

    /// The entry's sources that may be used, git first.
    fn candidates(&self, found: &Found, what: &str, verify: bool) -> Result<Vec<Candidate>> {
        let mut sources: Vec<&InstallSource> = found.entry.install_sources.iter().collect();
        // Git first, as Attune does: a checkout is verified by its content checksum.
        sources.sort_by_key(|s| matches!(s, InstallSource::Archive { .. }));
        let mut candidates = Vec::new();
        let mut refused = None;
        for s in sources {
            let url = found.index.location.join(s.url());
            let refusal = if matches!(found.index.location, Location::Url(_)) && !is_remote(&url) {
                // A document anyone on the network path could have written must not make
                // this host install its own files (or any local path).
                Some(Error::LocalSourceFromRemoteIndex {
                    url: redact_url(&url),
                })
            } else if crate::util::redact::secret_userinfo(&url).is_some() {
                // The credentials are the index author's to hand out, not this host's to
                // send: they would go to whatever the URL names.
                Some(Error::CredentialsInIndexUrl {
                    url: redact_url(&url),
                })
            } else {
                None
            };
            if let Some(e) = refusal {
                self.ctx.warn(format!(
                    "the {} source of {what} is not used: {e}",
                    s.kind()
                ));
                refused = Some(e);
                continue;
            }
            if verify && s.checksum().is_none() {
                self.ctx.warn(format!(
                    "the {} source {} of {what} has no checksum; not used (verify_checksums is on)",
                    s.kind(),
                    redact_url(&url)
                ));
                continue;
            }
            candidates.push(Candidate {
                source: pack_source(s, &url),
                url,
                kind: s.kind(),
                checksum: s.checksum().cloned(),
                subdir: s.subdir().and_then(|d| Subdir::parse(d).ok()),
            });
        }
        match (candidates.is_empty(), refused) {
            (true, Some(e)) => Err(e),
            (true, None) => Err(Error::ChecksumMissing(format!(
                "{what}: none of its install sources has a checksum, and verify_checksums is on"
            ))),
            (false, _) => Ok(candidates),
        }
    }

    /// The newest `last_updated` of the indices this registry has read.
    pub fn newest_last_updated(&self) -> Option<u64> {
        self.loader.newest_last_updated()
    }

    /// The loader, for searching and listing the indices.
    pub(super) fn loader(&self) -> &Loader<'a> {
        &self.loader
    }

    pub(super) fn ctx(&self) -> &Context {
        self.ctx
    }
}

impl Plan {
    /// What the index requires of `candidate` once fetched, and the receipt's record of where
    /// it came from.
    pub fn require(&self, candidate: &Candidate, fetched: &mut ReceiptSource) -> Required {
        let required = self.required(candidate);
        fetched.kind = Some(SourceKind::Registry);
        fetched.index = Some(self.index.clone());
        fetched.key_id = self.key_id.clone();
        if let Some((file, origin)) = &self.bundled {
            fetched.kind = Some(SourceKind::Bundle);
            fetched.url = None;
            fetched.path = Some(file.clone());
            // The commit the bundle's creator fetched, so that a lockfile can be compared.
            fetched.commit = origin.commit.clone();
            fetched.origin = Some(Box::new(origin.clone()));
            return required;
        }
        fetched.url = Some(redact_url(&candidate.url));
        fetched.path = None;
        required
    }

    fn required(&self, candidate: &Candidate) -> Required {
        let entry = &self.entry;
        let about = format!(
            "index `{}`, entry `{}` {}",
            self.index, entry.pack_ref, entry.version
        );
        Required {
            checksum: match (self.verify, &candidate.checksum) {
                (true, Some(sum)) => Some((sum.clone(), format!("the checksum of {about}"))),
                _ => None,
            },
            identity: Identity {
                pack_ref: entry.pack_ref.clone(),
                version: entry.version.clone(),
                from: about,
            },
        }
    }

    /// After source `i` failed with `err`: the warning to give when the next source is worth
    /// trying (only a failure to fetch moves on; a refusal or an interrupt stops here).
    pub fn fallback(&self, i: usize, err: &Error) -> Option<String> {
        let next = self.candidates.get(i + 1)?;
        if !err.is_fetch_failure() {
            return None;
        }
        let failed = &self.candidates[i];
        Some(format!(
            "could not fetch the {} source {} ({err}); trying the {} source {}",
            failed.kind,
            redact_url(&failed.url),
            next.kind,
            redact_url(&next.url)
        ))
    }
}

/// The bundle file and the pack's original source, when `found` is a pack of a bundle.
fn bundled(found: &Found) -> Option<(String, ReceiptSource)> {
    let (Location::Bundle { file, .. }, Some(bundle)) =
        (&found.index.location, &found.index.bundle)
    else {
        return None;
    };
    let pack = bundle
        .manifest
        .packs
        .iter()
        .find(|p| p.pack_ref == found.entry.pack_ref && p.version == found.entry.version)?;
    let file = std::path::absolute(file).unwrap_or_else(|_| file.clone());
    Some((file.display().to_string(), pack.origin.clone()))
}

/// A source fetched over the network: http(s), git, ssh, or scp-like `user@host:path`.
pub(crate) fn is_remote(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    ["http://", "https://", "git://", "ssh://", "oci://"]
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
        InstallSource::Oci { .. } => PackSource::Oci {
            reference: url.to_owned(),
        },
        InstallSource::Archive { .. } => match url.strip_prefix("file://") {
            Some(path) => PackSource::LocalArchive { path: path.into() },
            None => PackSource::Archive {
                url: url.to_owned(),
            },
        },
    }
}
