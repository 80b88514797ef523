//! Getting an index document: local files directly; remote ones through the cache, fetched
//! when stale (conditionally, with the cached validators), falling back to a stale copy when
//! the index cannot be reached, and never touching the network when offline.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::config::IndexConfig;
use crate::context::Context;
use crate::error::{Error, IoContext, Result};
use crate::integrity::freshness::Seen;
use crate::integrity::signature::{document_digest, needs_document, TrustedKeys, Verified};
use crate::net::{Conditional, Connectivity};
use crate::records::bundle_file::{self, BundleManifest};
use crate::util::redact::redact_url;

use super::cache::{now_secs, Cached, IndexCache, LocalFile, LocalKey, Opened, Validators};
use super::index::{InMemory, Index, Parsed};
use super::resolve::index_name;
use super::stored::Digest;

/// How the document in hand was obtained; `registries` reports reachability from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// A local file, read now.
    Local,
    /// The cached copy, younger than `cache_ttl`; the server was not asked.
    Fresh,
    /// The server confirmed the cached copy (304).
    Revalidated,
    /// The server sent a new document.
    Downloaded,
    /// The server could not be used; the cached copy stands in.
    Stale,
    /// `--offline`: the cached copy, whatever its age.
    Offline,
}

impl Freshness {
    /// Whether the index answered just now (`None`: it was not asked).
    pub fn reachable(self) -> Option<bool> {
        match self {
            Freshness::Local | Freshness::Revalidated | Freshness::Downloaded => Some(true),
            Freshness::Stale => Some(false),
            Freshness::Fresh | Freshness::Offline => None,
        }
    }
}

/// Where an index lives; relative source URLs in it are read against it.
#[derive(Debug, Clone)]
pub enum Location {
    File(PathBuf),
    Url(String),
    /// An offline bundle; its pack files are read from where they were extracted.
    Bundle {
        file: PathBuf,
        extracted: PathBuf,
    },
}

impl Location {
    /// Where `config`'s index is; a bundle is a local file (its place of extraction is known
    /// once it is opened).
    pub fn of(config: &IndexConfig) -> Location {
        let url = config.url.as_str();
        if crate::source::is_http(url) {
            return Location::Url(url.to_owned());
        }
        let path = PathBuf::from(url.strip_prefix("file://").unwrap_or(url));
        match is_bundle(&path) {
            true => Location::Bundle {
                file: path,
                extracted: PathBuf::new(),
            },
            false => Location::File(path),
        }
    }

    /// A source URL of the index made absolute: URLs (and scp-like git addresses) as they
    /// are, anything else relative to the index document.
    pub fn join(&self, source: &str) -> String {
        let has_scheme = source.contains("://")
            || source
                .split_once(':')
                .is_some_and(|(host, _)| host.contains('@') && !host.contains('/'));
        if has_scheme {
            return source.to_owned();
        }
        match self {
            Location::Url(base) => reqwest::Url::parse(base)
                .and_then(|b| b.join(source))
                .map(|u| u.to_string())
                .unwrap_or_else(|_| source.to_owned()),
            Location::Bundle { extracted, .. } => {
                format!("file://{}", extracted.join(source).display())
            }
            Location::File(path) => {
                let dir = path.parent().unwrap_or(std::path::Path::new("."));
                let joined = dir.join(source);
                let abs = std::path::absolute(&joined).unwrap_or(joined);
                format!("file://{}", abs.display())
            }
        }
    }
}

/// An index ready for resolving.
#[derive(Debug)]
pub struct Loaded {
    pub name: String,
    pub index: Index,
    pub location: Location,
    pub freshness: Freshness,
    /// The signature that verified it, when the index has trusted keys.
    pub signed: Option<Verified>,
    /// What an offline bundle says of its packs (a bundle's index only).
    pub bundle: Option<BundleIndex>,
}

/// The part of an opened bundle its packs' receipts need.
#[derive(Debug)]
pub struct BundleIndex {
    pub manifest: BundleManifest,
    /// The pack files, extracted; removed when the command is done with the index.
    _extracted: tempfile::TempDir,
}

/// An index document as a source yields it, not yet checked or parsed.
struct Got {
    /// The document (empty when it is known from its pre-parsed form).
    body: Vec<u8>,
    known: Known,
    /// The detached signature, or why there is none.
    signature: std::result::Result<Vec<u8>, String>,
    freshness: Freshness,
    save: Save,
}

/// What is known of a document's index before it is checked.
enum Known {
    /// Nothing: it is parsed when it is used.
    Nothing,
    /// A download is parsed on arrival, to keep a document that is not an index out of the
    /// cache.
    Parsed(Parsed),
    /// A cached document's pre-parsed form, with the document's digest (what its signature
    /// is checked against) and its parse's warnings.
    Stored {
        index: Index,
        warnings: Vec<String>,
        digest: Digest,
    },
}

/// What to cache once the document is known good.
enum Save {
    Nothing,
    /// The document, fetched now, with these validators (a download or a revalidation).
    Document(Validators),
    /// Only its pre-parsed form (a cached document read without one).
    Parsed,
    /// The pre-parsed form of a local file's version, read without one.
    Local(LocalKey),
}

/// What a conditional GET returned.
pub(crate) enum Fetched {
    NotModified,
    Body {
        bytes: Vec<u8>,
        validators: Validators,
    },
}

/// When to ask the server about a cached index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Revalidate {
    /// Once the cached copy is older than `cache_ttl`.
    IfStale,
    /// Now, whatever the cached copy's age (`registries`).
    Always,
}

/// Loads indices for one command, with the config and network settings of its context. An
/// index is loaded once per command, however often it is asked for.
pub(crate) struct Loader<'a> {
    ctx: &'a Context,
    cache: IndexCache,
    /// By index name: the index, or `None` when it was unavailable.
    loaded: Mutex<HashMap<String, Option<Arc<Loaded>>>>,
    /// By index name: why its signature was refused.
    refused: Mutex<HashMap<String, String>>,
}

impl<'a> Loader<'a> {
    pub fn new(ctx: &'a Context) -> Self {
        Loader {
            ctx,
            cache: IndexCache::new(ctx.cache_dir()),
            loaded: Mutex::new(HashMap::new()),
            refused: Mutex::new(HashMap::new()),
        }
    }

    /// Age of the cached copy of a remote index, if any.
    pub fn cache_age(&self, config: &IndexConfig) -> Option<u64> {
        match Location::of(config) {
            Location::Url(url) => self.cache.open(&url).map(|c| c.age_secs()),
            Location::File(_) | Location::Bundle { .. } => None,
        }
    }

    /// The index, or `Ok(None)` when it is unavailable (the reason is given as a warning).
    /// Only a policy refusal (plain http without `allow_http`, exit 3) or trusted keys that
    /// cannot be read (exit 2) are errors: a config to fix, not an outage to route around.
    pub async fn load(
        &self,
        config: &IndexConfig,
        when: Revalidate,
    ) -> Result<Option<Arc<Loaded>>> {
        let name = index_name(config);
        if when == Revalidate::IfStale {
            if let Some(known) = self.known(&name) {
                return Ok(known);
            }
        }
        let loaded = self.load_now(config, &name, when).await?.map(Arc::new);
        self.loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name, loaded.clone());
        Ok(loaded)
    }

    /// The newest `last_updated` of the indices loaded so far.
    pub fn newest_last_updated(&self) -> Option<u64> {
        let loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        loaded
            .values()
            .flatten()
            .filter_map(|l| l.index.last_updated)
            .max()
    }

    fn known(&self, name: &str) -> Option<Option<Arc<Loaded>>> {
        let loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        loaded.get(name).cloned()
    }

    /// [`Error::SignatureInvalid`] for the first of `names` whose signature was refused: a
    /// pack no other index has must not look merely missing when an attack may hide it.
    pub fn refusal<'n>(&self, names: impl IntoIterator<Item = &'n str>) -> Option<Error> {
        let refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        names.into_iter().find_map(|name| {
            refused.get(name).map(|reason| Error::SignatureInvalid {
                subject: format!("index `{name}`"),
                reason: reason.clone(),
            })
        })
    }

    async fn load_now(
        &self,
        config: &IndexConfig,
        name: &str,
        when: Revalidate,
    ) -> Result<Option<Loaded>> {
        let keys = TrustedKeys::load(&config.trusted_keys, None).map_err(|e| {
            Error::Usage(format!(
                "index `{name}`: pack_registry.indices trusted_keys: {e}"
            ))
        })?;
        let mut location = Location::of(config);
        let mut bundle = None;
        let got = match &mut location {
            Location::File(path) => self.local(path, name, &keys),
            Location::Url(url) => self.remote(config, url, when, &keys).await?,
            Location::Bundle { file, extracted } => {
                let (got, opened) = self.bundle(file, &keys).await?;
                *extracted = opened._extracted.path().to_owned();
                bundle = Some(opened);
                Ok(got)
            }
        };
        let got = match got {
            Ok(got) => got,
            Err(why) => {
                self.ctx.warn(format!(
                    "index `{name}` is unavailable and was skipped: {why}"
                ));
                return Ok(None);
            }
        };
        let signed = match self.check_signature(name, &keys, &got, bundle.is_some()) {
            Ok(signed) => signed,
            Err(reason) if bundle.is_some() => {
                return Err(Error::SignatureInvalid {
                    subject: format!("bundle {}", redact_url(&config.url)),
                    reason,
                })
            }
            Err(reason) => {
                self.ctx.warn(format!(
                    "index `{name}` is unavailable: its signature was refused: {reason}"
                ));
                let mut refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
                refused.insert(name.to_owned(), reason);
                return Ok(None);
            }
        };
        let freshness = got.freshness;
        let index = match self.index_of(got, name, &location) {
            Ok(index) => index,
            Err(why) => {
                self.ctx.warn(format!("{why}; the index was skipped"));
                return Ok(None);
            }
        };
        Ok(Some(Loaded {
            name: name.to_owned(),
            index,
            location,
            freshness,
            signed,
            bundle,
        }))
    }

    /// The index of a checked document, its parse's warnings given; caches what is to be
    /// cached of it.
    fn index_of(
        &self,
        got: Got,
        name: &str,
        location: &Location,
    ) -> std::result::Result<Index, String> {
        let parsed = match got.known {
            Known::Stored {
                index, warnings, ..
            } => {
                warnings.into_iter().for_each(|w| self.ctx.warn(w));
                return Ok(index);
            }
            Known::Parsed(parsed) => parsed,
            Known::Nothing => self.parse(&got.body, name)?,
        };
        let body = match (location, got.save) {
            (Location::Url(url), save) => {
                self.save(url, name, got.body, got.signature.ok(), save, &parsed)
            }
            (_, Save::Local(key)) => {
                let digest = document_digest(&got.body);
                if let Err(e) = self.cache.write_parsed_local(&key, &digest, &parsed) {
                    self.ctx
                        .warn(format!("could not cache index `{name}`: {e}"));
                }
                got.body
            }
            _ => got.body,
        };
        Ok(parsed.into_index(Arc::new(InMemory(body)), name))
    }

    /// An offline bundle, checked and extracted (a bundle that does not hold together is an
    /// error, not an index to skip: it was given to be installed from).
    async fn bundle(
        &self,
        file: &std::path::Path,
        keys: &TrustedKeys,
    ) -> Result<(Got, BundleIndex)> {
        let extracted = tempfile::Builder::new()
            .prefix("attune-pack-bundle-")
            .tempdir()
            .ctx(|| "creating a directory for the bundle's packs".to_owned())?;
        let (file, into) = (file.to_owned(), extracted.path().to_owned());
        let opened = crate::context::blocking(move || bundle_file::open(&file, &into)).await?;
        if opened.signature.is_some() && keys.is_empty() {
            self.ctx.warn(
                "the bundle is signed, but no key is trusted for it (--trusted-key, bundle_trusted_keys): its signature was not checked",
            );
        }
        let got = Got {
            body: opened.index_json,
            known: Known::Nothing,
            signature: opened
                .signature
                .ok_or_else(|| "the bundle holds no index.json.minisig".to_owned()),
            freshness: Freshness::Local,
            save: Save::Nothing,
        };
        let index = BundleIndex {
            manifest: opened.manifest,
            _extracted: extracted,
        };
        Ok((got, index))
    }

    /// A local index document, with its signature beside it when keys are configured: from
    /// the pre-parsed form of this version of the file when there is one (and the signature
    /// can be checked against its digest), else read whole, its form made once it is parsed.
    fn local(
        &self,
        path: &std::path::Path,
        name: &str,
        keys: &TrustedKeys,
    ) -> std::result::Result<Got, String> {
        let limit = self.ctx.config().limits.max_index_bytes;
        let cannot = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
        let file = LocalFile::open(path).map_err(cannot)?;
        if file.len > limit {
            return Err(too_large(limit));
        }
        let signature = match keys.is_empty() {
            true => Err("not asked for".to_owned()),
            false => {
                let sig = signature_path(path);
                std::fs::read(&sig).map_err(|e| format!("cannot read {}: {e}", sig.display()))
            }
        };
        let legacy = signature.as_deref().is_ok_and(needs_document);
        let cache = self.ctx.config().pack_registry.cache_enabled;
        let file = match cache && !legacy {
            true => self.cache.stored_local(file),
            false => Err(Box::new(file)),
        };
        let (known, body, save) = match file {
            Ok((stored, document)) => {
                let digest = stored.digest;
                let (index, warnings) = stored.into_index(document, name);
                let known = Known::Stored {
                    index,
                    warnings,
                    digest,
                };
                (known, Vec::new(), Save::Nothing)
            }
            Err(file) => {
                let (body, key) = file.read(limit).map_err(cannot)?;
                let body = body.ok_or_else(|| too_large(limit))?;
                let save = if cache {
                    Save::Local(key)
                } else {
                    Save::Nothing
                };
                (Known::Nothing, body, save)
            }
        };
        Ok(Got {
            body,
            known,
            signature,
            freshness: Freshness::Local,
            save,
        })
    }

    /// With trusted keys: the signature must be by one of them, over these bytes, and not
    /// older than one already seen for this index (unless downgrades are allowed).
    fn check_signature(
        &self,
        name: &str,
        keys: &TrustedKeys,
        got: &Got,
        bundle: bool,
    ) -> std::result::Result<Option<Verified>, String> {
        if keys.is_empty() {
            return Ok(None);
        }
        let signature = got
            .signature
            .as_ref()
            .map_err(|why| format!("the index is not signed ({why})"))?;
        let verified = match &got.known {
            Known::Stored { digest, .. } => keys.verify_digest(digest, signature),
            _ => None,
        };
        let verified = verified
            .unwrap_or_else(|| keys.verify(&got.body, signature))
            .map_err(|e| e.0)?;
        let seen = &self.ctx.trust().seen;
        // Bundles are remembered per signer: any bundle by that key replaces an older one.
        let signer = match bundle {
            true => format!("bundle:{}", verified.key_id),
            false => format!("index:{name}"),
        };
        // A signature without a timestamp counts as made at the epoch: once a timestamped
        // one was seen, stripping the timestamp (`minisign -t "any comment"`) is no way
        // around the rollback check.
        let timestamp = verified.timestamp.unwrap_or(0);
        let signed_at = |t| match verified.timestamp {
            Some(_) => format!("signed at {}", rfc3339(t)),
            None => "signed without a timestamp".to_owned(),
        };
        match seen.check_and_record(&signer, timestamp) {
            Ok(Seen::Current) if verified.timestamp.is_none() => self.ctx.warn(format!(
                "the signature of index `{name}` carries no timestamp: rollback protection is off for it until a timestamped one is seen"
            )),
            Ok(Seen::Current) => {}
            Ok(Seen::Older { newest }) if self.ctx.trust().allow_downgrade => {
                self.ctx.warn(format!(
                    "index `{name}` was {}, before {} already seen; accepted (--allow-downgrade)",
                    signed_at(timestamp),
                    rfc3339(newest)
                ));
            }
            Ok(Seen::Older { newest }) => {
                return Err(format!(
                    "{}, older than the copy signed at {} already seen (a replayed index?)",
                    signed_at(timestamp),
                    rfc3339(newest)
                ))
            }
            Err(e) => self.ctx.warn(format!(
                "could not record the signature time of index `{name}`: {e}"
            )),
        }
        Ok(Some(verified))
    }

    /// Parses a document, passing its warnings on.
    fn parse(&self, bytes: &[u8], name: &str) -> std::result::Result<Parsed, String> {
        let parsed = Index::parse_spanned(bytes, name)?;
        parsed
            .warnings
            .iter()
            .for_each(|w| self.ctx.warn(w.clone()));
        Ok(parsed)
    }

    /// A remote document: `Ok(Err(why))` when neither the server nor the cache has one.
    async fn remote(
        &self,
        config: &IndexConfig,
        url: &str,
        when: Revalidate,
        keys: &TrustedKeys,
    ) -> Result<std::result::Result<Got, String>> {
        let settings = &self.ctx.config().pack_registry;
        let name = index_name(config);
        let limit = self.ctx.config().limits.max_index_bytes;
        let mut opened = settings
            .cache_enabled
            .then(|| self.cache.open(url))
            .flatten()
            .filter(|c| c.body_len <= limit);
        if self.ctx.network().connectivity == Connectivity::Offline {
            return match opened {
                Some(c) => Ok(self.cached_copy((url, &name), c, Freshness::Offline, keys)),
                None => Ok(Err("offline, and there is no cached copy of it".into())),
            };
        }
        if let Some(c) =
            opened.take_if(|c| when == Revalidate::IfStale && c.age_secs() < settings.cache_ttl)
        {
            return Ok(self.cached_copy((url, &name), c, Freshness::Fresh, keys));
        }
        let cached = opened.and_then(Opened::read);
        let fetched = self
            .fetch(url, cached.as_ref().map(|c| &c.validators))
            .await;
        let signature = match (&fetched, keys.is_empty()) {
            (Ok(_), false) => Some(self.fetch_signature(url).await),
            _ => None,
        };
        match (fetched, cached) {
            (Err(e), _) if e.is_refusal() => Err(e),
            (Ok(Fetched::NotModified), Some(c)) => {
                let validators = c.validators.clone();
                let mut got = from_cache(c, Freshness::Revalidated);
                // A failed signature download keeps the cached signature of the same bytes.
                if let Some(Ok(sig)) = signature {
                    got.signature = Ok(sig);
                }
                got.save = Save::Document(validators);
                Ok(Ok(got))
            }
            (Ok(Fetched::Body { bytes, validators }), cached) => {
                let signature = signature.unwrap_or_else(|| Err("not asked for".into()));
                Ok(self.downloaded(&name, bytes, validators, signature, cached))
            }
            (Ok(Fetched::NotModified), None) => Ok(Err(format!(
                "{} answered 304 Not Modified to an unconditional request",
                redact_url(url)
            ))),
            (Err(e), Some(c)) => {
                self.ctx.warn(format!(
                    "index `{name}` is unreachable ({e}); using the cached copy from {} ago",
                    age_text(c.age_secs())
                ));
                Ok(Ok(from_cache(c, Freshness::Stale)))
            }
            (Err(e), None) => Ok(Err(e.to_string())),
        }
    }

    /// A downloaded document, parsed; a document that is not an index (a captive portal, an
    /// error page served with 200) must not replace a good cached copy.
    fn downloaded(
        &self,
        name: &str,
        bytes: Vec<u8>,
        validators: Validators,
        signature: std::result::Result<Vec<u8>, String>,
        cached: Option<Cached>,
    ) -> std::result::Result<Got, String> {
        match (self.parse(&bytes, name), cached) {
            (Ok(parsed), _) => Ok(Got {
                body: bytes,
                known: Known::Parsed(parsed),
                signature,
                freshness: Freshness::Downloaded,
                save: Save::Document(validators),
            }),
            (Err(why), Some(c)) => {
                self.ctx.warn(format!(
                    "{why}; using the cached copy from {} ago",
                    age_text(c.age_secs())
                ));
                Ok(from_cache(c, Freshness::Stale))
            }
            (Err(why), None) => Err(why),
        }
    }

    /// Caches what `save` says of a document when caching is on; a cache that cannot be
    /// written costs a warning. Gives the document back, for the index to read entries from.
    fn save(
        &self,
        url: &str,
        name: &str,
        body: Vec<u8>,
        signature: Option<Vec<u8>>,
        save: Save,
        parsed: &Parsed,
    ) -> Vec<u8> {
        if !self.ctx.config().pack_registry.cache_enabled {
            return body;
        }
        let (written, body) = match save {
            // A URL's document has no local file's form.
            Save::Nothing | Save::Local(_) => return body,
            Save::Parsed => (
                self.cache
                    .write_parsed(url, &document_digest(&body), parsed),
                body,
            ),
            Save::Document(validators) => {
                let c = Cached {
                    body,
                    validators,
                    fetched_at: now_secs(),
                    signature,
                };
                (self.cache.write(url, &c, Some(parsed)), c.body)
            }
        };
        if let Err(e) = written {
            self.ctx
                .warn(format!("could not cache index `{name}`: {e}"));
        }
        body
    }

    /// A cached copy as a document in hand: from its pre-parsed form when it has one made
    /// from that document (and its signature, if one is needed, can be checked against the
    /// document's digest), else read whole, to be parsed and its pre-parsed form written.
    fn cached_copy(
        &self,
        (url, name): (&str, &str),
        opened: Opened,
        freshness: Freshness,
        keys: &TrustedKeys,
    ) -> std::result::Result<Got, String> {
        let signature = opened.signature().map(<[u8]>::to_vec);
        let legacy = !keys.is_empty() && signature.as_deref().is_some_and(needs_document);
        let opened = match legacy {
            true => Err(Box::new(opened)),
            false => self.cache.stored(url, opened),
        };
        let opened = match opened {
            Ok((stored, document)) => {
                let digest = stored.digest;
                let (index, warnings) = stored.into_index(document, name);
                return Ok(Got {
                    body: Vec::new(),
                    known: Known::Stored {
                        index,
                        warnings,
                        digest,
                    },
                    signature: signature_of(signature),
                    freshness,
                    save: Save::Nothing,
                });
            }
            Err(opened) => *opened,
        };
        let has_digest = opened.has_digest();
        let cached = opened.read().ok_or("the cached copy cannot be read")?;
        let mut got = from_cache(cached, freshness);
        if has_digest {
            got.save = Save::Parsed;
        }
        Ok(got)
    }

    /// A conditional GET of an index document (the index's headers are added by [`crate::net::Http`]
    /// for its origin only).
    async fn fetch(&self, url: &str, validators: Option<&Validators>) -> Result<Fetched> {
        let conditional = validators.map(|v| Conditional {
            etag: v.etag.as_deref(),
            last_modified: v.last_modified.as_deref(),
        });
        let response = self
            .ctx
            .http()
            .await?
            .get(url, conditional.as_ref())
            .await?;
        if response.is_not_modified() {
            return Ok(Fetched::NotModified);
        }
        let validators = Validators {
            etag: response.header("etag").map(str::to_owned),
            last_modified: response.header("last-modified").map(str::to_owned),
        };
        let bytes = response
            .bytes(
                self.ctx.config().limits.max_index_bytes,
                "limits.max_index_bytes",
            )
            .await?;
        Ok(Fetched::Body { bytes, validators })
    }

    /// The detached signature of an index document (`URL.minisig`), or why there is none.
    async fn fetch_signature(&self, url: &str) -> std::result::Result<Vec<u8>, String> {
        let sig_url = signature_url(url);
        let got = async {
            let response = self.ctx.http().await?.get(&sig_url, None).await?;
            response
                .bytes(MAX_SIGNATURE_BYTES, "a signature's size")
                .await
        };
        got.await.map_err(|e| e.to_string())
    }
}

/// Whether a local index file is an offline bundle (a tar: `ustar` at offset 257) rather
/// than a JSON document.
pub(crate) fn is_bundle(path: &std::path::Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 262];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| &head[257..262] == b"ustar")
}

/// A minisign signature is a few hundred bytes; anything much larger is not one.
const MAX_SIGNATURE_BYTES: u64 = 64 * 1024;

/// A cached copy as a document in hand.
fn from_cache(c: Cached, freshness: Freshness) -> Got {
    Got {
        body: c.body,
        known: Known::Nothing,
        signature: signature_of(c.signature),
        freshness,
        save: Save::Nothing,
    }
}

/// A cached copy's signature, or why there is none.
fn signature_of(signature: Option<Vec<u8>>) -> std::result::Result<Vec<u8>, String> {
    signature.ok_or_else(|| "the cached copy has no signature".to_owned())
}

/// `URL.minisig`: the signature's name is the document's with `.minisig` added to its path
/// (a query string stays where it is).
fn signature_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let path = format!("{}.minisig", u.path());
            u.set_path(&path);
            u.to_string()
        }
        Err(_) => format!("{url}.minisig"),
    }
}

/// `PATH.minisig`.
fn signature_path(path: &std::path::Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".minisig");
    PathBuf::from(name)
}

/// Unix seconds as RFC 3339, for messages.
fn rfc3339(secs: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs as i64)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}

/// Why an index document over `limits.max_index_bytes` is not used.
fn too_large(limit: u64) -> String {
    format!("the index document is larger than {limit} bytes (limits.max_index_bytes)")
}

fn age_text(secs: u64) -> String {
    match secs {
        0..=119 => format!("{secs} s"),
        120..=7199 => format!("{} min", secs / 60),
        7200..=172_799 => format!("{} h", secs / 3600),
        _ => format!("{} days", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_sources_are_read_against_the_index() {
        let web = Location::Url("https://r.example/v1/index.json".into());
        assert_eq!(web.join("packs/a.tgz"), "https://r.example/v1/packs/a.tgz");
        assert_eq!(web.join("/a.tgz"), "https://r.example/a.tgz");
        assert_eq!(web.join("https://cdn/a.tgz"), "https://cdn/a.tgz");
        assert_eq!(web.join("git@host:o/r.git"), "git@host:o/r.git");
        let file = Location::File("/srv/reg/index.json".into());
        assert_eq!(file.join("a.tgz"), "file:///srv/reg/a.tgz");
        assert_eq!(file.join("/abs/a.tgz"), "file:///abs/a.tgz");
        assert_eq!(file.join("file:///x/a.tgz"), "file:///x/a.tgz");
    }
}
