//! Getting an index document: local files directly; remote ones through the cache, fetched
//! when stale (conditionally, with the cached validators), falling back to a stale copy when
//! the index cannot be reached, and never touching the network when offline.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::config::IndexConfig;
use crate::context::Context;
use crate::error::Result;
use crate::net::{Conditional, Connectivity};
use crate::redact::redact_url;

use super::cache::{now_secs, Cached, IndexCache, Validators};
use super::index::Index;
use super::resolve::index_name;

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
}

impl Location {
    pub fn of(config: &IndexConfig) -> Location {
        let url = config.url.as_str();
        if crate::source::is_http(url) {
            Location::Url(url.to_owned())
        } else {
            Location::File(PathBuf::from(url.strip_prefix("file://").unwrap_or(url)))
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
}

/// An index document as a source yields it: a download is parsed on arrival (to keep a
/// document that is not an index out of the cache), anything else when it is used.
enum Document {
    Bytes(Vec<u8>),
    Parsed(Index),
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
}

impl<'a> Loader<'a> {
    pub fn new(ctx: &'a Context) -> Self {
        Loader {
            ctx,
            cache: IndexCache::new(ctx.cache_dir()),
            loaded: Mutex::new(HashMap::new()),
        }
    }

    /// Age of the cached copy of a remote index, if any.
    pub fn cache_age(&self, config: &IndexConfig) -> Option<u64> {
        match Location::of(config) {
            Location::Url(url) => self.cache.read(&url).map(|c| c.age_secs()),
            Location::File(_) => None,
        }
    }

    /// The index, or `Ok(None)` when it is unavailable (the reason is given as a warning).
    /// Only a policy refusal (plain http without `allow_http`, exit 3) is an error: a config
    /// to fix, not an outage to route around.
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

    fn known(&self, name: &str) -> Option<Option<Arc<Loaded>>> {
        let loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        loaded.get(name).cloned()
    }

    async fn load_now(
        &self,
        config: &IndexConfig,
        name: &str,
        when: Revalidate,
    ) -> Result<Option<Loaded>> {
        let location = Location::of(config);
        let got = match &location {
            Location::File(path) => read_bounded(path, self.ctx.config().limits.max_index_bytes)
                .map(|bytes| (Document::Bytes(bytes), Freshness::Local)),
            Location::Url(url) => self.remote(config, url, when).await?,
        };
        let (document, freshness) = match got {
            Ok(got) => got,
            Err(why) => {
                self.ctx.warn(format!(
                    "index `{name}` is unavailable and was skipped: {why}"
                ));
                return Ok(None);
            }
        };
        let parsed = match document {
            Document::Parsed(index) => Ok(index),
            Document::Bytes(bytes) => self.parse(&bytes, name),
        };
        match parsed {
            Ok(index) => Ok(Some(Loaded {
                name: name.to_owned(),
                index,
                location,
                freshness,
            })),
            Err(why) => {
                self.ctx.warn(format!("{why}; the index was skipped"));
                Ok(None)
            }
        }
    }

    /// Parses a document, passing its warnings on.
    fn parse(&self, bytes: &[u8], name: &str) -> std::result::Result<Index, String> {
        let (index, warnings) = Index::parse(bytes, name)?;
        warnings.into_iter().for_each(|w| self.ctx.warn(w));
        Ok(index)
    }

    /// A remote document: `Ok(Err(why))` when neither the server nor the cache has one.
    async fn remote(
        &self,
        config: &IndexConfig,
        url: &str,
        when: Revalidate,
    ) -> Result<std::result::Result<(Document, Freshness), String>> {
        let settings = &self.ctx.config().pack_registry;
        let name = index_name(config);
        let limit = self.ctx.config().limits.max_index_bytes;
        let mut cached = settings
            .cache_enabled
            .then(|| self.cache.read(url))
            .flatten()
            .filter(|c| c.body.len() as u64 <= limit);
        let use_cached = |c: Cached, f: Freshness| Ok(Ok((Document::Bytes(c.body), f)));
        if self.ctx.network().connectivity == Connectivity::Offline {
            return match cached {
                Some(c) => use_cached(c, Freshness::Offline),
                None => Ok(Err("offline, and there is no cached copy of it".into())),
            };
        }
        if let Some(c) =
            cached.take_if(|c| when == Revalidate::IfStale && c.age_secs() < settings.cache_ttl)
        {
            return use_cached(c, Freshness::Fresh);
        }
        let fetched = self
            .fetch(url, cached.as_ref().map(|c| &c.validators))
            .await;
        match (fetched, cached) {
            (Err(e), _) if e.is_refusal() => Err(e),
            (Ok(Fetched::NotModified), Some(mut c)) => {
                c.fetched_at = now_secs();
                self.save(url, &name, &c);
                use_cached(c, Freshness::Revalidated)
            }
            (Ok(Fetched::Body { bytes, validators }), cached) => {
                Ok(self.downloaded(url, &name, bytes, validators, cached))
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
                use_cached(c, Freshness::Stale)
            }
            (Err(e), None) => Ok(Err(e.to_string())),
        }
    }

    /// A downloaded document, parsed and cached; a document that is not an index (a captive
    /// portal, an error page served with 200) must not replace a good cached copy.
    fn downloaded(
        &self,
        url: &str,
        name: &str,
        bytes: Vec<u8>,
        validators: Validators,
        cached: Option<Cached>,
    ) -> std::result::Result<(Document, Freshness), String> {
        match (self.parse(&bytes, name), cached) {
            (Ok(index), _) => {
                let c = Cached {
                    body: bytes,
                    validators,
                    fetched_at: now_secs(),
                };
                self.save(url, name, &c);
                Ok((Document::Parsed(index), Freshness::Downloaded))
            }
            (Err(why), Some(c)) => {
                self.ctx.warn(format!(
                    "{why}; using the cached copy from {} ago",
                    age_text(c.age_secs())
                ));
                Ok((Document::Bytes(c.body), Freshness::Stale))
            }
            (Err(why), None) => Err(why),
        }
    }

    /// Caches a document when caching is on; a cache that cannot be written costs a warning.
    fn save(&self, url: &str, name: &str, c: &Cached) {
        if self.ctx.config().pack_registry.cache_enabled {
            if let Err(e) = self.cache.write(url, c) {
                self.ctx
                    .warn(format!("could not cache index `{name}`: {e}"));
            }
        }
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
}

/// A local index document, refused (before it is read) beyond `limit` bytes.
fn read_bounded(path: &std::path::Path, limit: u64) -> std::result::Result<Vec<u8>, String> {
    use std::io::Read;
    let cannot = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let file = std::fs::File::open(path).map_err(cannot)?;
    let len = file.metadata().map_err(cannot)?.len();
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if len.max(bytes.len() as u64) > limit {
        return Err(too_large(limit));
    }
    Ok(bytes)
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
