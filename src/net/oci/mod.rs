//! The OCI distribution API (v1.1, and the v1.0 registries that predate it) over [`Http`], so
//! every registry, mirror and token-realm connection passes the network policy. What the
//! published clients lack is here: `Link`-paginated tag lists, blobs streamed rather than
//! held, tokens refreshed on expiry and on a 403, mirrors tried before the upstream without
//! its credentials. Every manifest read is checked against its digest here; blobs are
//! checked by whoever streams them (they are hashed on the way to the disk).

mod auth;
pub mod creds;

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;
use sha2::{Digest as _, Sha256};

use crate::config::OciConfig;
use crate::error::{Error, Result};
use crate::model::events::{Event, EventSink};
use crate::net::{Body, Http, Response};

use auth::{Challenge, Scope, Tokens};
pub use creds::{AuthFiles, Credential};

/// What a manifest GET accepts: OCI manifests and indices, and docker's v2 manifest (which a
/// registry may convert an OCI one to).
const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json;q=0.9, application/vnd.docker.distribution.manifest.v2+json;q=0.8";
/// A manifest is a small JSON document; registries refuse ones over 4 MiB.
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;
/// Tags asked for per page of a tag list.
const TAGS_PER_PAGE: usize = 1000;
/// A tag list longer than this is refused rather than read for ever.
const MAX_TAGS: usize = 1_000_000;

/// A repository of a registry: `registry` is `host[:port]`, `name` the path (`org/packs/slack`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Repository {
    pub registry: String,
    pub name: String,
}

impl Repository {
    /// The repository `name` inside this one read as a namespace (`NS/name`; `name` alone
    /// for the registry's root).
    pub fn child(&self, name: &str) -> Repository {
        Repository {
            registry: self.registry.clone(),
            name: match self.name.as_str() {
                "" => name.to_owned(),
                ns => format!("{ns}/{name}"),
            },
        }
    }
}

impl std::fmt::Display for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "oci://{}/{}", self.registry, self.name)
    }
}

/// A `sha256:HEX` digest of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A manifest as served, with the digest of its bytes (checked against what was asked for
/// and what the registry announced).
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    pub bytes: Bytes,
    pub digest: String,
}

/// What [`Client::referrers`] found.
#[derive(Debug, Clone)]
pub struct Referrers {
    /// The registry answered the referrers API (else the `sha256-HEX` tag was read).
    pub api: bool,
    /// The descriptors of the artifact type asked for.
    pub matching: Vec<serde_json::Value>,
    /// Every descriptor listed (what a new fallback index must keep).
    pub all: Vec<serde_json::Value>,
}

/// One base URL a registry is reached at: the registry itself or one of its mirrors, whose
/// credentials are its own host's.
#[derive(Debug, Clone)]
struct Endpoint {
    /// `scheme://host[:port]`, no trailing slash.
    base: String,
    /// The host credentials are looked up for.
    host: String,
    mirror: bool,
}

/// A client for the registries of one command.
pub struct Client<'a> {
    http: &'a Http,
    config: OciConfig,
    /// `--allow-http`: a registry that does not speak TLS is tried over http.
    allow_http: bool,
    auth_files: AuthFiles,
    /// Credentials given for this command (`registry login`), over the auth files.
    given: HashMap<String, Credential>,
    tokens: Tokens,
    /// Registries found to speak plain http only (with `--allow-http`).
    plain: Mutex<Vec<String>>,
    events: EventSink,
}

impl<'a> Client<'a> {
    pub fn new(http: &'a Http, config: &OciConfig, events: EventSink) -> Result<Client<'a>> {
        Ok(Client {
            http,
            config: config.clone(),
            allow_http: http.policy.allow_http,
            auth_files: AuthFiles::load(config.auth_file.as_deref())?,
            given: HashMap::new(),
            tokens: Tokens::default(),
            plain: Mutex::new(Vec::new()),
            events,
        })
    }

    /// Uses `credential` for `host` instead of what the auth files say.
    pub fn with_credential(mut self, host: &str, credential: Credential) -> Self {
        self.given.insert(host.to_ascii_lowercase(), credential);
        self
    }

    /// The credential for `host`: given for this command, else from the auth files (a
    /// credential helper runs off the async runtime).
    async fn credential(&self, host: &str) -> Result<Option<Credential>> {
        if let Some(c) = self.given.get(&host.to_ascii_lowercase()) {
            return Ok(Some(c.clone()));
        }
        let (files, host) = (self.auth_files.clone(), host.to_owned());
        tokio::task::spawn_blocking(move || files.for_host(&host))
            .await
            .map_err(|e| Error::Internal(format!("the credential lookup failed: {e}")))?
    }

    fn upstream(&self, registry: &str) -> Endpoint {
        let plain = self.http.policy.is_plain_http_host(registry)
            || self
                .plain
                .lock()
                .is_ok_and(|p| p.iter().any(|h| h == registry));
        Endpoint {
            base: format!("{}://{registry}", if plain { "http" } else { "https" }),
            host: registry.to_owned(),
            mirror: false,
        }
    }

    /// The mirrors configured for `registry`, in order, then the registry.
    fn pull_endpoints(&self, registry: &str) -> Vec<Endpoint> {
        let mirrors = self
            .config
            .mirrors
            .iter()
            .filter(|(host, _)| host.eq_ignore_ascii_case(registry))
            .flat_map(|(_, urls)| urls);
        let mut endpoints: Vec<Endpoint> = mirrors
            .filter_map(|url| {
                let parsed = reqwest::Url::parse(url).ok()?;
                let host = match parsed.port() {
                    Some(p) => format!("{}:{p}", parsed.host_str()?),
                    None => parsed.host_str()?.to_owned(),
                };
                Some(Endpoint {
                    base: format!("{}://{host}", parsed.scheme()),
                    host,
                    mirror: true,
                })
            })
            .collect();
        endpoints.push(self.upstream(registry));
        endpoints
    }

    /// Runs `op` against each pull endpoint of `repo` in turn until one succeeds; a mirror's
    /// failure is a warning, the upstream's the error.
    async fn pulling<T>(
        &self,
        repo: &Repository,
        op: impl AsyncFn(&Endpoint) -> Result<T>,
    ) -> Result<T> {
        let endpoints = self.pull_endpoints(&repo.registry);
        let last = endpoints.len() - 1;
        for (i, endpoint) in endpoints.iter().enumerate() {
            match op(endpoint).await {
                Ok(value) => return Ok(value),
                Err(e) if i < last && !matches!(e, Error::Interrupted { .. }) => {
                    (self.events)(&Event::Warning(format!(
                        "mirror {} of {} failed ({e}); trying the next",
                        endpoint.base, repo.registry
                    )));
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::Internal("no endpoint for a registry".into()))
    }

    /// One request to `endpoint`, authenticated as its challenge asks: anonymously first, then
    /// with a Bearer token for `scope` (fetched from the realm with the endpoint's
    /// credentials) or Basic credentials. A token that expired or was refused (401, or 403 for
    /// a token issued earlier) is fetched again once.
    async fn call(
        &self,
        endpoint: &Endpoint,
        method: Method,
        url: &str,
        scope: &Scope,
        headers: &[(&str, &str)],
        body: Body,
    ) -> Result<Response> {
        let mut authorization = self.tokens.cached(&endpoint.base, scope);
        let mut refreshed = false;
        loop {
            let mut map = HeaderMap::new();
            for (name, value) in headers {
                if let (Ok(n), Ok(v)) = (HeaderName::try_from(*name), HeaderValue::try_from(*value))
                {
                    map.insert(n, v);
                }
            }
            if let Some(value) = &authorization {
                if let Ok(v) = HeaderValue::try_from(value.as_str()) {
                    map.insert(reqwest::header::AUTHORIZATION, v);
                }
            }
            let response = self
                .send(endpoint, method.clone(), url, map, body.clone())
                .await?;
            let status = response.status();
            let denied = status == 401 || (status == 403 && authorization.is_some());
            if !denied || refreshed {
                return Ok(response);
            }
            let Some(challenge) = response
                .header("www-authenticate")
                .and_then(Challenge::parse)
            else {
                return Ok(response);
            };
            refreshed = true;
            let credential = self.credential(&endpoint.host).await?;
            authorization = Some(match challenge {
                Challenge::Basic => match &credential {
                    Some(c) => {
                        let basic = c.basic();
                        self.tokens
                            .remember(&endpoint.base, scope, &basic, auth::BASIC_LIFETIME);
                        basic
                    }
                    None => return Err(self.auth_required(endpoint)),
                },
                Challenge::Bearer(bearer) => {
                    self.tokens
                        .fetch(
                            self.http,
                            &endpoint.base,
                            &bearer,
                            scope,
                            credential.as_ref(),
                        )
                        .await?
                }
            });
        }
    }

    /// A GET with [`Client::call`]'s authentication.
    async fn get(
        &self,
        endpoint: &Endpoint,
        url: &str,
        scope: &Scope,
        headers: &[(&str, &str)],
    ) -> Result<Response> {
        self.call(endpoint, Method::GET, url, scope, headers, Body::Empty)
            .await
    }

    /// Sends, falling back from https to http for a registry that does not speak TLS when
    /// `--allow-http` allows it.
    async fn send(
        &self,
        endpoint: &Endpoint,
        method: Method,
        url: &str,
        headers: HeaderMap,
        body: Body,
    ) -> Result<Response> {
        let first = self
            .http
            .send(method.clone(), url, headers.clone(), body.clone())
            .await;
        let no_tls = matches!(&first, Err(Error::Network { status: None, message, .. }) if message.contains("TLS") || message.contains("cannot connect"));
        if !(no_tls && self.allow_http && url.starts_with("https://") && !endpoint.mirror) {
            return first;
        }
        let plain = format!("http://{}", &url["https://".len()..]);
        let second = self.http.send(method, &plain, headers, body).await?;
        if let Ok(mut p) = self.plain.lock() {
            p.push(endpoint.host.clone());
        }
        Ok(second)
    }

    fn auth_required(&self, endpoint: &Endpoint) -> Error {
        Error::Oci {
            reference: endpoint.base.clone(),
            message: format!(
                "the registry asks for credentials and none are configured for {}: run `attune-pack registry login {}` or add them to the auth file",
                endpoint.host, endpoint.host
            ),
        }
    }

    /// Checks that `registry` answers the distribution API with the credentials it has
    /// (`registry login` does before writing them).
    pub async fn ping(&self, registry: &str) -> Result<()> {
        let endpoint = self.upstream(registry);
        let url = format!("{}/v2/", endpoint.base);
        let r = self.get(&endpoint, &url, &Scope::registry(), &[]).await?;
        expect(r, &[200], &endpoint.base).await.map(drop)
    }

    /// The manifest `reference` (a tag or a digest) of `repo`. Its bytes must hash to the
    /// digest when `reference` is one, and to `Docker-Content-Digest` when the registry sends
    /// it; a mismatch is [`Error::DigestMismatch`].
    pub async fn manifest(&self, repo: &Repository, reference: &str) -> Result<FetchedManifest> {
        self.pulling(repo, async |endpoint| {
            let url = format!("{}/v2/{}/manifests/{reference}", endpoint.base, repo.name);
            let r = self
                .get(endpoint, &url, &Scope::pull(repo), &[("accept", ACCEPT)])
                .await?;
            let shown = format!("{repo}:{reference}");
            let r = expect_found(r, &shown, "manifest").await?;
            let announced = r.header("docker-content-digest").map(str::to_owned);
            let bytes = Bytes::from(
                r.bytes(MAX_MANIFEST_BYTES, "the 4 MiB manifest limit")
                    .await?,
            );
            let digest = sha256_digest(&bytes);
            let pinned = reference.contains(':').then_some(reference);
            for expected in pinned
                .into_iter()
                .chain(announced.as_deref().filter(|d| d.starts_with("sha256:")))
            {
                if !expected.eq_ignore_ascii_case(&digest) {
                    return Err(Error::DigestMismatch {
                        what: "the manifest".into(),
                        reference: format!("{shown} (from {})", endpoint.base),
                        expected: expected.to_owned(),
                        actual: digest,
                    });
                }
            }
            Ok(FetchedManifest { bytes, digest })
        })
        .await
    }

    /// The blob `digest` of `repo`, its body not read yet (the caller hashes what it reads).
    pub async fn blob(&self, repo: &Repository, digest: &str) -> Result<Response> {
        self.pulling(repo, async |endpoint| {
            let url = format!("{}/v2/{}/blobs/{digest}", endpoint.base, repo.name);
            let r = self.get(endpoint, &url, &Scope::pull(repo), &[]).await?;
            expect_found(r, &format!("{repo}@{digest}"), "blob").await
        })
        .await
    }

    /// Every tag of `repo`, page after page as the registry's `Link` headers lead.
    pub async fn tags(&self, repo: &Repository) -> Result<Vec<String>> {
        self.pulling(repo, async |endpoint| {
            let first = format!(
                "{}/v2/{}/tags/list?n={TAGS_PER_PAGE}",
                endpoint.base, repo.name
            );
            let shown = repo.to_string();
            self.list(
                endpoint,
                first,
                &Scope::pull(repo),
                ("tags", "tag list"),
                &shown,
                &[404],
            )
            .await?
            .ok_or_else(|| Error::NotFound(format!("no repository {repo} in the registry")))
        })
        .await
    }

    /// The repositories of `registry` whose names start with `prefix`, where the registry
    /// offers `_catalog` (paged like tag lists); `None` where it does not.
    pub async fn catalog(&self, registry: &str, prefix: &str) -> Result<Option<Vec<String>>> {
        let endpoint = self.upstream(registry);
        let first = format!("{}/v2/_catalog?n={TAGS_PER_PAGE}", endpoint.base);
        let absent = [401, 403, 404, 405];
        let found = self
            .list(
                &endpoint,
                first,
                &Scope::catalog(),
                ("repositories", "catalog"),
                &endpoint.base,
                &absent,
            )
            .await?;
        Ok(found.map(|mut names| {
            names.retain(|n| n.starts_with(prefix));
            names
        }))
    }

    /// A paged list (tags, the catalog): the strings under `key.0` of each page, following
    /// `Link` headers from `first`; `None` when the first page answers one of `absent`. A page
    /// that links back, or more than [`MAX_TAGS`] entries, is an error naming `key.1`.
    async fn list(
        &self,
        endpoint: &Endpoint,
        first: String,
        scope: &Scope,
        key: (&str, &str),
        shown: &str,
        absent: &[u16],
    ) -> Result<Option<Vec<String>>> {
        let (field, what) = key;
        let mut entries = Vec::new();
        let mut next = Some(first);
        let mut seen = std::collections::HashSet::new();
        while let Some(url) = next.take() {
            if !seen.insert(url.clone()) || entries.len() > MAX_TAGS {
                let message = format!(
                    "the {what} does not end (more than {MAX_TAGS} entries, or a page links back)"
                );
                return Err(protocol(shown, &message));
            }
            let r = self.get(endpoint, &url, scope, &[]).await?;
            if absent.contains(&r.status()) {
                return Ok(None);
            }
            let r = expect(r, &[200], shown).await?;
            next = r.header("link").and_then(|l| next_link(&url, l));
            let body = r.bytes(64 << 20, "the list limit").await?;
            let page: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| protocol(shown, &format!("the {what} is not valid JSON: {e}")))?;
            let page: Vec<String> = page[field]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            // Registries without `Link` paging return everything at once or nothing more.
            if page.is_empty() {
                next = None;
            }
            entries.extend(page);
        }
        Ok(Some(entries))
    }

    /// The referrers of manifest `digest` with `artifact_type` (their descriptors): the
    /// referrers API where the registry has it, else the index at the `sha256-HEX` tag (the
    /// fallback of OCI 1.1). `api` says which was used.
    pub async fn referrers(
        &self,
        repo: &Repository,
        digest: &str,
        artifact_type: &str,
    ) -> Result<Referrers> {
        let from_api = self
            .pulling(repo, async |endpoint| {
                let url = format!("{}/v2/{}/referrers/{digest}", endpoint.base, repo.name);
                let accept = [("accept", INDEX_MEDIA_TYPE)];
                let r = self
                    .get(endpoint, &url, &Scope::pull(repo), &accept)
                    .await?;
                let is_index = r
                    .header("content-type")
                    .is_some_and(|t| t.starts_with(INDEX_MEDIA_TYPE));
                match (r.status(), is_index) {
                    (200, true) => Ok(Some(
                        r.bytes(MAX_MANIFEST_BYTES, "the 4 MiB manifest limit")
                            .await?,
                    )),
                    _ => Ok(None),
                }
            })
            .await?;
        let (api, bytes) = match from_api {
            Some(b) => (true, b),
            None => match self.manifest(repo, &fallback_tag(digest)).await {
                Ok(m) => (false, m.bytes.to_vec()),
                Err(Error::NotFound(_)) => (false, b"{}".to_vec()),
                Err(e) => return Err(e),
            },
        };
        let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let all: Vec<serde_json::Value> = doc["manifests"].as_array().cloned().unwrap_or_default();
        let matching = all
            .iter()
            .filter(|m| m["artifactType"].as_str() == Some(artifact_type))
            .cloned()
            .collect();
        Ok(Referrers { api, matching, all })
    }

    /// Whether the registry has blob `digest` in `repo` (push: what is there is not sent).
    pub async fn has_blob(&self, repo: &Repository, digest: &str) -> Result<bool> {
        let endpoint = self.upstream(&repo.registry);
        let url = format!("{}/v2/{}/blobs/{digest}", endpoint.base, repo.name);
        let r = self
            .call(
                &endpoint,
                Method::HEAD,
                &url,
                &Scope::push(repo),
                &[],
                Body::Empty,
            )
            .await?;
        match r.status() {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(status_error(r, &repo.to_string()).await),
        }
    }

    /// Asks the registry to link blob `digest` from repository `from` of the same registry
    /// into `repo` (a cross-repository mount); `false` when it would not (it then answers
    /// with an upload session, which is left to expire).
    pub async fn mount(&self, repo: &Repository, digest: &str, from: &str) -> Result<bool> {
        let endpoint = self.upstream(&repo.registry);
        let mut url = reqwest::Url::parse(&format!(
            "{}/v2/{}/blobs/uploads/",
            endpoint.base, repo.name
        ))
        .map_err(|_| protocol(&repo.to_string(), "an upload URL that is not a URL"))?;
        url.query_pairs_mut()
            .append_pair("mount", digest)
            .append_pair("from", from);
        let scope = Scope::push(repo).and_pull(from);
        let r = self
            .call(
                &endpoint,
                Method::POST,
                url.as_str(),
                &scope,
                &[("content-length", "0")],
                Body::Empty,
            )
            .await?;
        Ok(r.status() == 201)
    }

    /// Uploads `body` (of `size` bytes, digest `digest`) to `repo`: in one PUT, or for a
    /// file larger than `oci.chunk_size` (when set) in PATCHes of that size, then a PUT.
    pub async fn upload(
        &self,
        repo: &Repository,
        digest: &str,
        size: u64,
        body: Body,
    ) -> Result<()> {
        let endpoint = self.upstream(&repo.registry);
        let scope = Scope::push(repo);
        let shown = repo.to_string();
        let start = format!("{}/v2/{}/blobs/uploads/", endpoint.base, repo.name);
        let none = [("content-length", "0")];
        let r = self
            .call(&endpoint, Method::POST, &start, &scope, &none, Body::Empty)
            .await?;
        let mut location = match r.status() {
            202 => next_location(&start, &r, &shown)?,
            _ => return Err(status_error(r, &shown).await),
        };
        let chunk = self.config.chunk_size;
        let body = match body {
            Body::File(path) if chunk > 0 && size > chunk => {
                let mut offset = 0;
                while offset < size {
                    let n = chunk.min(size - offset);
                    let bytes = read_range(&path, offset, n).await?;
                    let (range, length) = (format!("{offset}-{}", offset + n - 1), n.to_string());
                    let headers = [
                        ("content-type", "application/octet-stream"),
                        ("content-range", range.as_str()),
                        ("content-length", length.as_str()),
                    ];
                    let r = self
                        .call(
                            &endpoint,
                            Method::PATCH,
                            location.as_str(),
                            &scope,
                            &headers,
                            Body::Bytes(bytes),
                        )
                        .await?;
                    let r = expect(r, &[202, 204], &shown).await?;
                    location = next_location(location.as_str(), &r, &shown)?;
                    offset += n;
                }
                Body::Empty
            }
            other => other,
        };
        location.query_pairs_mut().append_pair("digest", digest);
        let length = match body {
            Body::Empty => "0".to_owned(),
            _ => size.to_string(),
        };
        let headers = [
            ("content-type", "application/octet-stream"),
            ("content-length", length.as_str()),
        ];
        let r = self
            .call(
                &endpoint,
                Method::PUT,
                location.as_str(),
                &scope,
                &headers,
                body,
            )
            .await?;
        expect(r, &[201, 204], &shown).await.map(drop)
    }

    /// Puts manifest `bytes` at `reference` (a tag, or its digest) of `repo`; returns the
    /// digest, checked against what the registry announces.
    pub async fn put_manifest(
        &self,
        repo: &Repository,
        reference: &str,
        bytes: Bytes,
        media_type: &str,
    ) -> Result<String> {
        let endpoint = self.upstream(&repo.registry);
        let url = format!("{}/v2/{}/manifests/{reference}", endpoint.base, repo.name);
        let digest = sha256_digest(&bytes);
        let r = self
            .call(
                &endpoint,
                Method::PUT,
                &url,
                &Scope::push(repo),
                &[("content-type", media_type)],
                Body::Bytes(bytes),
            )
            .await?;
        let shown = format!("{repo}:{reference}");
        let r = expect(r, &[201, 200], &shown).await?;
        if let Some(announced) = r
            .header("docker-content-digest")
            .filter(|d| d.starts_with("sha256:"))
        {
            if !announced.eq_ignore_ascii_case(&digest) {
                return Err(Error::DigestMismatch {
                    what: "the pushed manifest".into(),
                    reference: shown,
                    expected: digest,
                    actual: announced.to_owned(),
                });
            }
        }
        Ok(digest)
    }
}

/// The referrers-tag of OCI 1.1 for registries without the referrers API: `sha256-HEX`.
pub fn fallback_tag(digest: &str) -> String {
    digest.replacen(':', "-", 1)
}

/// The image index media type (referrer lists).
pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";

/// The upload session's next URL: the response's `Location`, resolved against `base`.
fn next_location(base: &str, r: &Response, shown: &str) -> Result<reqwest::Url> {
    let location = r
        .header("location")
        .ok_or_else(|| protocol(shown, "an upload answered without a Location"))?;
    reqwest::Url::parse(base)
        .and_then(|b| b.join(location))
        .map_err(|_| protocol(shown, "an upload Location that is not a URL"))
}

/// `n` bytes of `path` from `offset` (one chunk of an upload).
async fn read_range(path: &std::path::Path, offset: u64, n: u64) -> Result<Bytes> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let failed = |e| Error::io(format!("reading {}", path.display()), e);
    let mut file = tokio::fs::File::open(path).await.map_err(failed)?;
    file.seek(std::io::SeekFrom::Start(offset))
        .await
        .map_err(failed)?;
    let mut buf = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
    file.take(n).read_to_end(&mut buf).await.map_err(failed)?;
    Ok(Bytes::from(buf))
}

/// The `rel="next"` target of a `Link` header, resolved against the page's URL.
fn next_link(page: &str, link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        if !params.contains("rel=\"next\"") && !params.contains("rel=next") {
            return None;
        }
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        Some(reqwest::Url::parse(page).ok()?.join(target).ok()?.into())
    })
}

/// The response when its status is one of `ok`, else the registry's error.
async fn expect(r: Response, ok: &[u16], shown: &str) -> Result<Response> {
    if ok.contains(&r.status()) {
        return Ok(r);
    }
    Err(status_error(r, shown).await)
}

/// A 200, a 404 as [`Error::NotFound`] naming `what`, or the registry's error.
async fn expect_found(r: Response, shown: &str, what: &str) -> Result<Response> {
    match r.status() {
        200 => Ok(r),
        404 => Err(Error::NotFound(format!(
            "no {what} {shown} in the registry"
        ))),
        _ => Err(status_error(r, shown).await),
    }
}

/// The registry's error: the status and the first of the errors its body lists.
async fn status_error(r: Response, shown: &str) -> Error {
    let status = r.status();
    let url = r.url().to_owned();
    let said = r.bytes(64 << 10, "an error body").await.ok().and_then(|b| {
        let doc: serde_json::Value = serde_json::from_slice(&b).ok()?;
        let first = &doc["errors"][0];
        Some(format!(
            "{}: {}",
            first["code"].as_str().unwrap_or("error"),
            first["message"].as_str().unwrap_or("")
        ))
    });
    let hint = match status {
        401 => {
            " (log in with `attune-pack registry login HOST` or add credentials to the auth file)"
        }
        403 => " (the credentials do not allow this)",
        _ => "",
    };
    Error::Oci {
        reference: shown.to_owned(),
        message: format!(
            "the registry answered HTTP {status}{}{hint} ({url})",
            said.map(|s| format!(", {s}")).unwrap_or_default()
        ),
    }
}

fn protocol(shown: &str, message: &str) -> Error {
    Error::Oci {
        reference: shown.to_owned(),
        message: message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links_are_resolved_against_the_page() {
        let page = "http://r.example:5000/v2/a/tags/list?n=2";
        assert_eq!(
            next_link(page, "</v2/a/tags/list?last=b&n=2>; rel=\"next\"").as_deref(),
            Some("http://r.example:5000/v2/a/tags/list?last=b&n=2")
        );
        assert_eq!(next_link(page, "</x>; rel=\"prev\""), None);
    }
}
