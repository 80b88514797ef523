//! The network policy of SPEC.md (https only unless allowed, allowed source hosts, timeouts,
//! extra CA roots, proxies from the environment) and the one HTTP client that applies it.
//! Every network access of attune-pack (archive downloads, index fetches) goes through here.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::redact::redact_url;

/// What the network may be used for, from config and flags.
#[derive(Debug, Clone)]
pub struct NetPolicy {
    pub allow_http: bool,
    /// When not empty, remote sources must be on one of these hosts (index hosts always are).
    pub allowed_hosts: Vec<String>,
    /// Seconds without progress (connect, or no bytes received), not a total.
    pub timeout: Duration,
    pub ca_file: Option<PathBuf>,
    pub offline: bool,
}

impl NetPolicy {
    pub fn from_config(config: &Config, allow_http: bool, offline: bool) -> Self {
        let r = &config.pack_registry;
        NetPolicy {
            allow_http: allow_http || r.allow_http,
            allowed_hosts: r.allowed_source_hosts.clone(),
            timeout: Duration::from_secs(r.timeout.max(1)),
            ca_file: r.ca_file.clone(),
            offline,
        }
    }

    /// Refuses `http://` without `allow_http` (`insecure_http`) and hosts outside
    /// `allowed_source_hosts` (`host_not_allowed`); `also_allowed` are hosts trusted anyway
    /// (the configured indices').
    pub fn check_url(&self, url: &str, also_allowed: &[String]) -> Result<()> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| Error::Usage(format!("invalid URL {}: {e}", redact_url(url))))?;
        match parsed.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => return Err(Error::InsecureHttp(redact_url(url))),
            other => {
                return Err(Error::Usage(format!(
                    "unsupported URL scheme `{other}` in {}",
                    redact_url(url)
                )))
            }
        }
        let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
        if !self.allowed_hosts.is_empty()
            && !self
                .allowed_hosts
                .iter()
                .chain(also_allowed)
                .any(|h| h.eq_ignore_ascii_case(&host))
        {
            return Err(Error::HostNotAllowed {
                host,
                url: redact_url(url),
            });
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> NetPolicy {
        NetPolicy {
            allow_http: false,
            allowed_hosts: vec!["good.example".into()],
            timeout: Duration::from_secs(5),
            ca_file: None,
            offline: false,
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
}
