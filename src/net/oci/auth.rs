//! Registry authentication as the distribution spec and docker's token spec define it: a 401
//! names its scheme in `WWW-Authenticate`; for `Bearer`, a token for the request's scope comes
//! from the realm (with Basic credentials when the host has some), is cached per endpoint
//! and scope, and is fetched again when it expires.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::Method;

use crate::error::{Error, Result};
use crate::net::{Body, Http};

use super::{Credential, Repository};

/// A token whose server gives no lifetime lives 60 s (the token spec's default).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(60);
/// Basic credentials are kept for one command, which this outlasts.
pub(super) const BASIC_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Tokens are fetched again this long before they expire (or at half their life, for short
/// ones), so none expires in flight.
const EXPIRY_MARGIN: Duration = Duration::from_secs(5);

/// What a request needs access to, as token scopes (`repository:NAME:pull,push`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Scope(Vec<String>);

impl Scope {
    pub fn pull(repo: &Repository) -> Scope {
        Scope(vec![format!("repository:{}:pull", repo.name)])
    }
    pub fn push(repo: &Repository) -> Scope {
        Scope(vec![format!("repository:{}:pull,push", repo.name)])
    }
    /// Also pull access to another repository (a cross-repository mount's source).
    pub fn and_pull(mut self, name: &str) -> Scope {
        self.0.push(format!("repository:{name}:pull"));
        self
    }
    pub fn catalog() -> Scope {
        Scope(vec!["registry:catalog:*".into()])
    }
    /// No scope: the registry's base endpoint.
    pub fn registry() -> Scope {
        Scope(Vec::new())
    }
}

/// A `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Challenge {
    Basic,
    Bearer(Bearer),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Bearer {
    realm: String,
    service: Option<String>,
}

impl Challenge {
    pub fn parse(header: &str) -> Option<Challenge> {
        let (scheme, params) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return Some(Challenge::Basic);
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let params = parse_params(params);
        Some(Challenge::Bearer(Bearer {
            realm: params.get("realm")?.clone(),
            service: params.get("service").cloned(),
        }))
    }
}

/// `realm="https://a/token",service="reg",scope="repository:x:pull"` → a map (quoted values
/// may hold commas).
fn parse_params(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = s.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, tail) = match after.strip_prefix('"') {
            Some(quoted) => match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            },
            None => after.split_once(',').unwrap_or((after, "")),
        };
        out.insert(key, value.to_owned());
        rest = tail.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
    }
    out
}

struct Token {
    authorization: String,
    /// When it is no longer sent: its expiry, less the margin.
    stale: Instant,
}

/// Tokens per (endpoint, scope). An expired one is not sent: the registry's next 401 fetches
/// a fresh one.
#[derive(Default)]
pub(super) struct Tokens {
    tokens: Mutex<HashMap<(String, Scope), Token>>,
}

impl Tokens {
    /// The cached `Authorization` for `base` and `scope`, while it has not expired.
    pub fn cached(&self, base: &str, scope: &Scope) -> Option<String> {
        let tokens = self.tokens.lock().ok()?;
        let token = tokens.get(&(base.to_owned(), scope.clone()))?;
        (Instant::now() < token.stale).then(|| token.authorization.clone())
    }

    /// A new token from `bearer`'s realm for `scope`, sent `credential` as Basic auth when
    /// there is one; cached and returned as an `Authorization` value.
    pub async fn fetch(
        &self,
        http: &Http,
        base: &str,
        bearer: &Bearer,
        scope: &Scope,
        credential: Option<&Credential>,
    ) -> Result<String> {
        let mut url = reqwest::Url::parse(&bearer.realm).map_err(|_| Error::Oci {
            reference: base.to_owned(),
            message: format!("the token realm `{}` is not a URL", bearer.realm),
        })?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(service) = &bearer.service {
                q.append_pair("service", service);
            }
            for s in &scope.0 {
                q.append_pair("scope", s);
            }
        }
        let mut headers = HeaderMap::new();
        if let Some(c) = credential {
            if let Ok(v) = HeaderValue::try_from(c.basic()) {
                headers.insert(reqwest::header::AUTHORIZATION, v);
            }
        }
        let r = http
            .send(Method::GET, url.as_str(), headers, Body::Empty)
            .await?;
        let status = r.status();
        if status != 200 {
            return Err(Error::Oci {
                reference: base.to_owned(),
                message: format!(
                    "the token server {} refused a token (HTTP {status}){}",
                    r.url(),
                    match (status, credential) {
                        (401 | 403, None) => "; log in with `attune-pack registry login HOST`",
                        (401 | 403, Some(_)) => "; the configured credentials were refused",
                        _ => "",
                    }
                ),
            });
        }
        let body = r.bytes(1 << 20, "the token response limit").await?;
        let doc: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let token = doc["token"]
            .as_str()
            .or_else(|| doc["access_token"].as_str())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::Oci {
                reference: base.to_owned(),
                message: "the token server's answer holds no token".into(),
            })?;
        let lifetime = doc["expires_in"]
            .as_u64()
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_LIFETIME);
        let authorization = format!("Bearer {token}");
        self.remember(base, scope, &authorization, lifetime);
        Ok(authorization)
    }

    /// Keeps `authorization` for `base` and `scope` for `lifetime` (less the margin), so the
    /// next request sends it at once instead of being refused first.
    pub fn remember(&self, base: &str, scope: &Scope, authorization: &str, lifetime: Duration) {
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.insert(
                (base.to_owned(), scope.clone()),
                Token {
                    authorization: authorization.to_owned(),
                    stale: Instant::now() + lifetime - EXPIRY_MARGIN.min(lifetime / 2),
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_parsed() {
        let h = r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#;
        assert_eq!(
            Challenge::parse(h),
            Some(Challenge::Bearer(Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into()),
            }))
        );
        assert_eq!(
            Challenge::parse(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(Challenge::parse("Negotiate"), None);
        assert_eq!(Challenge::parse("Bearer service=x"), None);
    }
}
