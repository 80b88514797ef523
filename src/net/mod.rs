//! The network policy (https only unless allowed, allowed source hosts, the addresses that
//! may be contacted, timeouts, extra CA roots, proxies from the environment) and the one
//! HTTP client that applies it. Every network access of attune-pack (archive downloads,
//! index fetches) goes through here; gix's HTTP transport gets the same [`Guard`].
//!
//! [`Http::get`] is the one entry point: it checks every hop against the policy, follows
//! redirects itself (so index headers never leak to another origin), retries transient
//! failures before any byte is handed out, and returns a [`Response`] whose body is read
//! chunk by chunk ([`Response::chunk`]) or whole ([`Response::bytes`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Certificate, StatusCode, Url};

use crate::config::{Config, NetPolicy};
use crate::error::{Error, Result};
use crate::util::redact::redact_url;

mod address;
mod guard;
pub mod oci;

pub use address::{AddressRefused, AddressRule};
pub use guard::{refusal_in, Guard};

/// Whether plain `http://` may be used (`--allow-http`, config `allow_http`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlainHttp {
    /// https only.
    #[default]
    Refused,
    /// http too, for networks the operator trusts.
    Allowed,
}

/// Whether the network may be used at all (`--offline`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Connectivity {
    /// Indices and sources are fetched.
    #[default]
    Online,
    /// Only cached indices and local sources are used.
    Offline,
}

/// A command's network flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Network {
    pub http: PlainHttp,
    pub connectivity: Connectivity,
    /// The embedding program's policy, over the config's `private_networks`.
    pub addresses: Option<NetPolicy>,
}

/// What the network may be used for, from config and flags.
#[derive(Debug, Clone)]
pub struct NetRules {
    pub allow_http: bool,
    /// When not empty, remote sources must be on one of these hosts (index hosts always are).
    pub allowed_hosts: Vec<String>,
    /// Seconds without progress (connect, or no bytes received), not a total.
    pub timeout: Duration,
    pub ca_file: Option<PathBuf>,
    pub offline: bool,
    /// Which addresses connections may go to.
    pub addresses: AddressRule,
    /// Hosts reached over plain http whatever `allow_http` says (config `oci.plain_http`).
    pub plain_http_hosts: Vec<String>,
}

impl NetRules {
    pub fn from_config(config: &Config, network: Network) -> Self {
        let r = &config.pack_registry;
        let private = network.addresses.unwrap_or(r.private_networks);
        NetRules {
            allow_http: network.http == PlainHttp::Allowed || r.allow_http,
            allowed_hosts: r.allowed_source_hosts.clone(),
            timeout: Duration::from_secs(r.timeout.max(1)),
            ca_file: r.ca_file.clone(),
            offline: network.connectivity == Connectivity::Offline,
            addresses: AddressRule::new(private, &r.allowed_source_hosts),
            plain_http_hosts: config.oci.plain_http.clone(),
        }
    }

    /// Resolves `host` and refuses it when any of its addresses is refused, for transports
    /// that connect by themselves (`git://`, ssh): which address they pick is theirs, and
    /// a name that resolves differently for them a moment later is a gap these have.
    pub fn check_resolved(&self, host: &str, port: u16) -> Result<()> {
        use std::net::ToSocketAddrs;
        if self.addresses.is_allowed_host(host) {
            return Ok(());
        }
        let bare = address::normalize_host(host);
        // A name this host cannot resolve (an ssh config alias, say) is the transport's to
        // resolve or to fail on.
        let Ok(addrs) = (bare.as_str(), port).to_socket_addrs() else {
            return Ok(());
        };
        for a in addrs {
            self.addresses
                .check(host, a.ip())
                .map_err(|r| address_not_allowed(&r))?;
        }
        Ok(())
    }

    /// Refuses `http://` without `allow_http` (`insecure_http`) and hosts outside
    /// `allowed_source_hosts` (`host_not_allowed`); `also_allowed` are hosts trusted anyway
    /// (the configured indices').
    pub fn check_url(&self, url: &str, also_allowed: &[String]) -> Result<()> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| Error::Usage(format!("invalid URL {}: {e}", redact_url(url))))?;
        match parsed.scheme() {
            "https" => {}
            "http" if self.allow_http || self.is_plain_http(&parsed) => {}
            "http" => return Err(Error::InsecureHttp(redact_url(url))),
            other => {
                return Err(Error::Usage(format!(
                    "unsupported URL scheme `{other}` in {}",
                    redact_url(url)
                )))
            }
        }
        self.check_host(parsed.host_str().unwrap_or_default(), url, also_allowed)
    }

    /// Whether `url`'s host is configured to be reached over plain http.
    fn is_plain_http(&self, url: &Url) -> bool {
        let host = url.host_str().unwrap_or_default();
        match url.port() {
            Some(p) => self.is_plain_http_host(&format!("{host}:{p}")),
            None => self.is_plain_http_host(host),
        }
    }

    /// Whether `authority` (`host` or `host:port`) is in `oci.plain_http`, which names a host
    /// (any port) or a host and port.
    pub(crate) fn is_plain_http_host(&self, authority: &str) -> bool {
        let host = match authority.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with(':') => h,
            _ => authority,
        };
        self.plain_http_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(authority) || h.eq_ignore_ascii_case(host))
    }

    /// Refuses a `host` outside `allowed_source_hosts` (`host_not_allowed`) for any scheme;
    /// `also_allowed` as in [`NetPolicy::check_url`].
    pub fn check_host(&self, host: &str, url: &str, also_allowed: &[String]) -> Result<()> {
        let allowed = self.allowed_hosts.is_empty()
            || self
                .allowed_hosts
                .iter()
                .chain(also_allowed)
                .any(|h| h.eq_ignore_ascii_case(host));
        if allowed {
            return Ok(());
        }
        Err(Error::HostNotAllowed {
            host: host.to_ascii_lowercase(),
            url: redact_url(url),
        })
    }
}

/// What the configured indices are trusted with: their hosts pass `allowed_source_hosts`,
/// and their headers go to their own origin (the index and sources beside it), nowhere else.
#[derive(Debug, Clone, Default)]
pub(crate) struct IndexTrust {
    pub hosts: Vec<String>,
    headers: Vec<OriginHeaders>,
}

impl IndexTrust {
    pub fn from_config(config: &Config) -> Self {
        let indices = &config.pack_registry.indices;
        IndexTrust {
            hosts: indices
                .iter()
                .filter_map(|i| Some(Url::parse(&i.url).ok()?.host_str()?.to_ascii_lowercase()))
                .collect(),
            headers: indices
                .iter()
                .filter(|i| !i.headers.is_empty())
                .filter_map(|i| OriginHeaders::for_url(&i.url, i.headers.clone()))
                .collect(),
        }
    }

    /// The headers to send to `url`; when two indices share an origin and a header name, the
    /// first configured wins, as in index priority ties.
    pub fn headers_for(&self, url: &str) -> Vec<(&str, &str)> {
        let mut chosen: Vec<(&str, &str)> = Vec::new();
        for (name, value) in self
            .headers
            .iter()
            .filter_map(|h| h.applicable(url))
            .flatten()
        {
            if !chosen.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                chosen.push((name, value));
            }
        }
        chosen
    }
}

/// Headers that belong to one origin (scheme, host, port): an index's `headers`, sent to the
/// index and to sources on the same origin, never elsewhere.
#[derive(Debug, Clone, Default)]
pub struct OriginHeaders {
    pub origin: String,
    pub headers: BTreeMap<String, String>,
}

impl OriginHeaders {
    pub fn for_url(url: &str, headers: BTreeMap<String, String>) -> Option<Self> {
        Some(OriginHeaders {
            origin: origin_of(url)?,
            headers,
        })
    }

    /// The headers to send to `url`: all of them on the same origin, none elsewhere.
    pub fn applicable(&self, url: &str) -> Option<&BTreeMap<String, String>> {
        (origin_of(url).as_deref() == Some(self.origin.as_str())).then_some(&self.headers)
    }
}

/// `scheme://host:port` with the default port made explicit.
pub fn origin_of(url: &str) -> Option<String> {
    let u = reqwest::Url::parse(url).ok()?;
    Some(format!(
        "{}://{}:{}",
        u.scheme(),
        u.host_str()?.to_ascii_lowercase(),
        u.port_or_known_default()?
    ))
}

/// Redirects followed for one request; a longer chain is a loop or a misconfiguration.
const MAX_REDIRECTS: usize = 10;
/// Tries per request for transient failures (connection errors, 5xx, 429).
const MAX_ATTEMPTS: u32 = 4;
/// The wait before the first retry; it doubles for each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// A server's `Retry-After` is obeyed up to this long; beyond it, failing is more useful.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// Validators of a cached copy, sent as `If-None-Match` / `If-Modified-Since`; a server that
/// agrees answers 304 ([`Response::is_not_modified`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Conditional<'a> {
    pub etag: Option<&'a str>,
    pub last_modified: Option<&'a str>,
}

/// A request body for [`Http::send`]: opened again for each try, so a retried upload sends
/// the whole of it.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    Empty,
    Bytes(Bytes),
    /// A file streamed from disk (a pack layer can be large).
    File(PathBuf),
}

impl Body {
    async fn open(&self, url: &str) -> Result<reqwest::Body> {
        Ok(match self {
            Body::Empty => reqwest::Body::from(Bytes::new()),
            Body::Bytes(b) => reqwest::Body::from(b.clone()),
            Body::File(path) => {
                let file = tokio::fs::File::open(path).await.map_err(|e| {
                    Error::io(
                        format!("opening {} to send to {}", path.display(), redact_url(url)),
                        e,
                    )
                })?;
                reqwest::Body::from(file)
            }
        })
    }
}

/// [`Error::AddressNotAllowed`] for a refusal.
pub fn address_not_allowed(r: &AddressRefused) -> Error {
    Error::AddressNotAllowed {
        host: r.host.clone(),
        address: r.address.to_string(),
        what: r.what(),
        remedy: r.remedy(),
    }
}

/// The HTTP client of attune-pack, with the network policy built in. Cheap to share by
/// reference; build one per process (building loads the root certificates).
#[derive(Debug)]
pub struct Http {
    client: reqwest::Client,
    policy: NetRules,
    trust: IndexTrust,
    /// Loaded once; git's HTTP transport gets the same ones.
    roots: Vec<Certificate>,
}

impl Http {
    /// A client for `config`'s network settings with the command's `network` flags
    /// (`allow_http` is also read from the config).
    ///
    /// Roots: the system's certificates (`SSL_CERT_FILE`/`SSL_CERT_DIR` name them instead,
    /// as OpenSSL reads them), plus the built-in Mozilla roots when the system has none or
    /// when those variables are set (so they add to a public root set rather than replace
    /// it), plus `ca_file`. Proxies: `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`/`NO_PROXY`.
    pub fn new(config: &Config, network: Network) -> Result<Http> {
        // reqwest and gix's client are built without a TLS provider of their own: ring, for
        // the whole process. One an embedding program installed first is kept.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let policy = NetRules::from_config(config, network);
        let roots = root_certificates(policy.ca_file.as_deref())?;
        let guard = Guard::new(policy.addresses.clone());
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(guard.clone()))
            .connector_layer(guard)
            .user_agent(concat!("attune-pack/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(policy.timeout)
            .read_timeout(policy.timeout)
            .tls_certs_only(roots.clone())
            .build()
            .map_err(|e| Error::Internal(format!("building the HTTP client: {}", chain(&e))))?;
        Ok(Http {
            client,
            policy,
            trust: IndexTrust::from_config(config),
            roots,
        })
    }

    /// The trust roots (see [`Http::new`]).
    pub(crate) fn roots(&self) -> &[Certificate] {
        &self.roots
    }

    /// GETs `url`, following up to 10 redirects (each hop checked against the policy and
    /// given only its own origin's index headers), retrying connection errors, 5xx and 429
    /// with exponential backoff. Returns 2xx responses, and 304 when `conditional` was given;
    /// any other status is an [`Error::Network`] naming it and the (redacted) URL.
    pub async fn get(&self, url: &str, conditional: Option<&Conditional<'_>>) -> Result<Response> {
        if self.policy.offline {
            return Err(Error::Offline {
                what: redact_url(url),
            });
        }
        let mut current = url.to_owned();
        for _ in 0..=MAX_REDIRECTS {
            self.policy.check_url(&current, &self.trust.hosts)?;
            let response = self.send_with_retries(&current, conditional).await?;
            let status = response.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                current = redirect_target(&current, &response)?;
                continue;
            }
            if status.is_success() || (status == StatusCode::NOT_MODIFIED && conditional.is_some())
            {
                return Ok(Response {
                    inner: response,
                    url: redact_url(&current),
                    timeout: self.policy.timeout,
                });
            }
            return Err(Error::Network {
                url: redact_url(&current),
                message: status_text(status),
                status: Some(status.as_u16()),
                source: None,
            });
        }
        Err(network(
            url,
            &format!("more than {MAX_REDIRECTS} redirects"),
            None,
        ))
    }

    /// One hop, retried while the failure is transient. Nothing of the body has been read,
    /// so a retry cannot duplicate what a caller already consumed.
    async fn send_with_retries(
        &self,
        url: &str,
        conditional: Option<&Conditional<'_>>,
    ) -> Result<reqwest::Response> {
        let headers = self.headers_for(url, conditional)?;
        self.attempts(reqwest::Method::GET, url, &headers, &Body::Empty)
            .await
    }

    /// Sends one request, trying again after transient failures when `method` is
    /// idempotent (a POST is sent once).
    async fn attempts(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: &HeaderMap,
        body: &Body,
    ) -> Result<reqwest::Response> {
        let idempotent = method != reqwest::Method::POST;
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            let may_retry = idempotent && attempt < MAX_ATTEMPTS;
            let request = self
                .client
                .request(method.clone(), url)
                .headers(headers.clone())
                .body(body.open(url).await?);
            let wait = match request.send().await {
                Ok(r) if may_retry && is_transient_status(r.status()) => {
                    retry_after(&r).unwrap_or(backoff)
                }
                Ok(r) => return Ok(r),
                Err(e) if may_retry && is_transient_error(&e) => backoff,
                Err(e) => return Err(send_error(url, e, self.policy.timeout)),
            };
            tokio::time::sleep(wait).await;
            attempt += 1;
            backoff *= 2;
        }
    }

    /// Sends `method` to `url` with `headers` (credentials: marked sensitive, and dropped
    /// when a redirect leaves their origin) and returns the final response whatever its
    /// status, for protocols that read statuses themselves (the OCI distribution API).
    /// GET and HEAD follow redirects, each hop checked against the policy; other methods
    /// return the redirect.
    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        mut headers: HeaderMap,
        body: Body,
    ) -> Result<Response> {
        if self.policy.offline {
            return Err(Error::Offline {
                what: redact_url(url),
            });
        }
        headers.values_mut().for_each(|v| v.set_sensitive(true));
        let follows = matches!(method, reqwest::Method::GET | reqwest::Method::HEAD);
        let origin = origin_of(url);
        let mut current = url.to_owned();
        for _ in 0..=MAX_REDIRECTS {
            self.policy.check_url(&current, &self.trust.hosts)?;
            if origin_of(&current) != origin {
                headers.clear();
            }
            let response = self
                .attempts(method.clone(), &current, &headers, &body)
                .await?;
            let status = response.status();
            if follows && status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                current = redirect_target(&current, &response)?;
                continue;
            }
            return Ok(Response {
                inner: response,
                url: redact_url(&current),
                timeout: self.policy.timeout,
            });
        }
        Err(network(
            url,
            &format!("more than {MAX_REDIRECTS} redirects"),
            None,
        ))
    }

    /// The index headers for `url`'s origin, plus the conditional validators.
    fn headers_for(&self, url: &str, conditional: Option<&Conditional<'_>>) -> Result<HeaderMap> {
        let mut map = HeaderMap::new();
        let configured = self.trust.headers_for(url);
        let validators = conditional.into_iter().flat_map(|c| {
            [
                c.etag.map(|v| ("if-none-match", v)),
                c.last_modified.map(|v| ("if-modified-since", v)),
            ]
            .into_iter()
            .flatten()
        });
        let bad = |name: &str| {
            Error::Usage(format!(
                "header `{name}` configured for {} is not a valid HTTP header",
                redact_url(url)
            ))
        };
        for (name, value) in configured.into_iter().chain(validators) {
            let header = HeaderName::try_from(name).map_err(|_| bad(name))?;
            let mut value = HeaderValue::try_from(value).map_err(|_| bad(name))?;
            value.set_sensitive(true);
            map.insert(header, value);
        }
        Ok(map)
    }
}

/// A response whose status was accepted by [`Http::get`]; the body is not read yet.
#[derive(Debug)]
pub struct Response {
    inner: reqwest::Response,
    /// The final URL, redacted: for error messages.
    url: String,
    timeout: Duration,
}

impl Response {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.inner.status().as_u16()
    }

    /// The final URL, redacted.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The server confirmed the cached copy named by the [`Conditional`].
    pub fn is_not_modified(&self) -> bool {
        self.inner.status() == StatusCode::NOT_MODIFIED
    }

    /// A response header as text (`None` when absent or not visible ASCII).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.inner.headers().get(name)?.to_str().ok()
    }

    /// The body length the server announced.
    pub fn content_length(&self) -> Option<u64> {
        self.inner.content_length()
    }

    /// The next piece of the body; `None` at its end. A stall of `pack_registry.timeout`
    /// seconds, a connection cut short or a body shorter than its `Content-Length` is an
    /// [`Error::Network`].
    pub async fn chunk(&mut self) -> Result<Option<Bytes>> {
        self.inner.chunk().await.map_err(|e| {
            let message = if e.is_timeout() {
                format!(
                    "no data received for {} s (pack_registry.timeout) while downloading",
                    self.timeout.as_secs()
                )
            } else {
                format!("download failed: {}", chain(&e))
            };
            network(&self.url, &message, Some(e))
        })
    }

    /// The whole body, refused beyond `limit` bytes (for documents such as indices);
    /// `setting` names the limit in the error.
    pub async fn bytes(mut self, limit: u64, setting: &str) -> Result<Vec<u8>> {
        if self.content_length().is_some_and(|n| n > limit) {
            return Err(self.too_large(limit, setting));
        }
        // Sized up front when the server says: growing by doubling copies the body and can
        // hold twice its size for a moment (an index document is tens of megabytes).
        let expected = self.content_length().unwrap_or(0).min(limit);
        let mut body = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
        while let Some(chunk) = self.chunk().await? {
            if (body.len() + chunk.len()) as u64 > limit {
                return Err(self.too_large(limit, setting));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn too_large(&self, limit: u64, setting: &str) -> Error {
        network(
            &self.url,
            &format!("response larger than {limit} bytes ({setting})"),
            None,
        )
    }
}

/// `Error::Network` for `url` (redacted here, so no caller can forget).
fn network(url: &str, message: &str, source: Option<reqwest::Error>) -> Error {
    Error::Network {
        url: redact_url(url),
        message: message.to_owned(),
        status: None,
        source: source.map(|e| Box::new(e.without_url()) as _),
    }
}

fn send_error(url: &str, e: reqwest::Error, timeout: Duration) -> Error {
    if let Some(refusal) = refusal_in(&e) {
        return address_not_allowed(&refusal);
    }
    let message = if e.is_timeout() {
        format!(
            "no answer within {} s (pack_registry.timeout)",
            timeout.as_secs()
        )
    } else if is_tls_failure(&e) {
        format!(
            "TLS handshake failed (for a private CA, set pack_registry.ca_file or SSL_CERT_FILE): {}",
            chain(&e)
        )
    } else if e.is_connect() {
        format!("cannot connect: {}", chain(&e))
    } else {
        format!("request failed: {}", chain(&e))
    };
    network(url, &message, Some(e))
}

/// An error and its causes on one line. reqwest's own text names the URL, with any
/// credentials in it, so it is left out; the causes say what actually went wrong.
fn chain(e: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let text = cause.to_string();
        // Wrappers often repeat their cause's text; keep each statement once.
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    }
}

fn status_text(status: StatusCode) -> String {
    format!(
        "HTTP {} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
    .trim_end()
    .to_owned()
}

fn redirect_target(from: &str, response: &reqwest::Response) -> Result<String> {
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            network(
                from,
                &format!(
                    "{} without a Location header",
                    status_text(response.status())
                ),
                None,
            )
        })?;
    let target = Url::parse(from)
        .and_then(|base| base.join(location))
        .map_err(|_| network(from, "redirect to an invalid Location", None))?;
    // A downgrade would hand what https protects to anyone on the path, --allow-http or not.
    if from.starts_with("https:") && target.scheme() == "http" {
        return Err(Error::InsecureHttp(format!(
            "{}, the redirect from {}",
            redact_url(target.as_str()),
            redact_url(from)
        )));
    }
    Ok(target.into())
}

fn is_transient_status(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
}

/// Connection failures are worth another try; a timeout already waited as long as the user
/// allows, and a TLS failure will not change by itself.
fn is_transient_error(e: &reqwest::Error) -> bool {
    !(e.is_timeout() || e.is_builder() || is_tls_failure(e) || refusal_in(e).is_some())
}

/// A failed TLS handshake (usually an untrusted certificate), which rustls reports as an
/// I/O error of kind `InvalidData`.
fn is_tls_failure(e: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::InvalidData {
                return true;
            }
            // An io::Error's `source` skips the error it wraps; the TLS one is in there.
            if let Some(inner) = io.get_ref() {
                source = Some(inner);
                continue;
            }
        }
        source = cause.source();
    }
    false
}

/// `Retry-After` in seconds (the HTTP-date form is rare for 429/503 and not worth a parser).
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let secs: u64 = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

/// The trust roots (see [`Http::new`]). System certificates that rustls cannot use are
/// skipped: one odd certificate in a distribution bundle must not break every download.
pub(crate) fn root_certificates(ca_file: Option<&Path>) -> Result<Vec<Certificate>> {
    let mut usable = rustls::RootCertStore::empty();
    let mut roots: Vec<Certificate> = rustls_native_certs::load_native_certs()
        .certs
        .into_iter()
        .filter(|der| usable.add(der.clone()).is_ok())
        .filter_map(|der| Certificate::from_der(&der).ok())
        .collect();
    let env_named = ["SSL_CERT_FILE", "SSL_CERT_DIR"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()));
    if roots.is_empty() || env_named {
        roots.extend(
            webpki_root_certs::TLS_SERVER_ROOT_CERTS
                .iter()
                .filter_map(|der| Certificate::from_der(der).ok()),
        );
    }
    if let Some(path) = ca_file {
        let bad =
            |why: String| Error::Usage(format!("pack_registry.ca_file {}: {why}", path.display()));
        let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        let certs = Certificate::from_pem_bundle(&pem).map_err(|e| bad(e.to_string()))?;
        if certs.is_empty() {
            return Err(bad("no PEM certificate in it".into()));
        }
        roots.extend(certs);
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> NetRules {
        NetRules {
            allow_http: false,
            allowed_hosts: vec!["good.example".into()],
            timeout: Duration::from_secs(5),
            ca_file: None,
            offline: false,
            addresses: AddressRule::new(NetPolicy::AllowPrivate, &[]),
            plain_http_hosts: Vec::new(),
        }
    }

    #[test]
    fn http_and_hosts_are_policed() {
        let p = policy();
        assert!(p.check_url("https://good.example/a.tgz", &[]).is_ok());
        assert_eq!(
            p.check_url("http://good.example/a.tgz", &[])
                .unwrap_err()
                .code(),
            "insecure_http"
        );
        assert_eq!(
            p.check_url("https://evil.example/a.tgz", &[])
                .unwrap_err()
                .code(),
            "host_not_allowed"
        );
        assert!(p
            .check_url("https://index.example/a.tgz", &["index.example".into()])
            .is_ok());
    }

    #[test]
    fn headers_stay_on_their_origin() {
        let h = OriginHeaders::for_url(
            "https://r.example/index.json",
            BTreeMap::from([("A".into(), "b".into())]),
        )
        .unwrap();
        assert!(h.applicable("https://r.example:443/packs/x.tgz").is_some());
        assert!(h.applicable("http://r.example/x.tgz").is_none());
        assert!(h.applicable("https://r.example:8443/x.tgz").is_none());
        assert!(h.applicable("https://cdn.example/x.tgz").is_none());
    }

    /// Answers each connection on 127.0.0.1 with the next canned response and records the
    /// request heads, in lower case.
    fn serve(responses: Vec<&'static str>) -> (String, std::sync::mpsc::Receiver<String>) {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for response in responses {
                let (mut conn, _) = listener.accept().unwrap();
                let mut head = String::new();
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                while reader.read_line(&mut head).unwrap() > 2 && !head.ends_with("\r\n\r\n") {}
                tx.send(head.to_ascii_lowercase()).unwrap();
                conn.write_all(response.as_bytes()).unwrap();
            }
        });
        (base, rx)
    }

    fn config_with_index(base: &str) -> Config {
        Config::from_yaml(
            &format!(
                "pack_registry:\n  allow_http: true\n  indices:\n    - url: {base}/index.json\n      headers: {{X-Token: s3cret}}\n"
            ),
            "test",
        )
        .unwrap()
    }

    #[tokio::test]
    async fn conditional_gets_send_validators_and_origin_headers() {
        let (base, seen) = serve(vec![
            "HTTP/1.1 200 OK\r\nETag: \"v1\"\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
            "HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n",
        ]);
        let http = Http::new(&config_with_index(&base), Network::default()).unwrap();
        let url = format!("{base}/index.json");
        let response = http.get(&url, None).await.unwrap();
        assert!(!response.is_not_modified());
        assert_eq!(response.header("etag"), Some("\"v1\""));
        assert_eq!(response.bytes(100, "test").await.unwrap(), b"hello");
        let first = seen.recv().unwrap();
        assert!(first.contains("x-token: s3cret"), "{first}");
        assert!(!first.contains("if-none-match"), "{first}");

        let since = Conditional {
            etag: Some("\"v1\""),
            last_modified: Some("Tue, 01 Jul 2025 00:00:00 GMT"),
        };
        let response = http.get(&url, Some(&since)).await.unwrap();
        assert!(response.is_not_modified());
        let second = seen.recv().unwrap();
        assert!(second.contains("if-none-match: \"v1\""), "{second}");
        assert!(
            second.contains("if-modified-since: tue, 01 jul 2025"),
            "{second}"
        );
    }

    #[tokio::test]
    async fn whole_bodies_are_bounded_and_statuses_are_errors() {
        let (base, _seen) = serve(vec![
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789",
            "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n0123456789",
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        ]);
        let http = Http::new(&config_with_index(&base), Network::default()).unwrap();
        for _ in 0..2 {
            let response = http.get(&format!("{base}/big"), None).await.unwrap();
            let e = response.bytes(4, "test").await.unwrap_err();
            assert!(e.to_string().contains("larger than 4 bytes"), "{e}");
        }
        let e = http
            .get(&format!("{base}/gone?sig=x"), None)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "network");
        assert_eq!(
            e.to_string(),
            format!("HTTP 404 Not Found: {base}/gone?***")
        );
    }

    #[tokio::test]
    async fn offline_and_policy_refusals_send_nothing() {
        let config = Config::default();
        let offline = Http::new(
            &config,
            Network {
                http: PlainHttp::Allowed,
                connectivity: Connectivity::Offline,
                addresses: None,
            },
        )
        .unwrap();
        let e = offline.get("http://127.0.0.1:9/x", None).await.unwrap_err();
        assert!(e.to_string().contains("offline"), "{e}");
        let strict = Http::new(&config, Network::default()).unwrap();
        let e = strict.get("http://127.0.0.1:9/x", None).await.unwrap_err();
        assert_eq!(e.code(), "insecure_http");
    }

    #[test]
    fn transient_statuses() {
        for code in [500, 502, 503, 429] {
            assert!(is_transient_status(StatusCode::from_u16(code).unwrap()));
        }
        for code in [400, 401, 403, 404, 410] {
            assert!(!is_transient_status(StatusCode::from_u16(code).unwrap()));
        }
    }

    #[test]
    fn a_bad_ca_file_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        assert_eq!(
            root_certificates(Some(&missing)).unwrap_err().code(),
            "usage"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = root_certificates(Some(&empty)).unwrap_err();
        assert!(e.to_string().contains("no PEM certificate"), "{e}");
        let ca = rcgen::generate_simple_self_signed(vec!["ca.example".to_owned()]).unwrap();
        let good = dir.path().join("ca.pem");
        std::fs::write(&good, ca.cert.pem()).unwrap();
        let with = root_certificates(Some(&good)).unwrap().len();
        let without = root_certificates(None).unwrap().len();
        assert_eq!(with, without + 1);
        assert!(without > 0, "built-in roots serve when the system has none");
    }
}
