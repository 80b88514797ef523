//! Registry credentials where container tools keep them: docker's `config.json` (`auths`,
//! `credHelpers`, `credsStore`) and the containers `auth.json`, read as they are and written
//! by `registry login`. A credential helper (`docker-credential-NAME get`) is the one program
//! a user configures on purpose, and the only one run here.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::fs::fsutil::{write_atomic_mode, Durability};

/// A username and its password or token. Never printed: `Debug` shows the username only.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// The user name (`<token>` for some registries' tokens).
    pub username: String,
    /// The password or token.
    pub secret: String,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credential({}, ***)", self.username)
    }
}

impl Credential {
    /// The `Authorization: Basic …` value.
    pub fn basic(&self) -> String {
        let pair = format!("{}:{}", self.username, self.secret);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }
}

/// The auth files this host has, in the order they are consulted.
#[derive(Debug, Clone, Default)]
pub struct AuthFiles {
    files: Vec<(PathBuf, Value)>,
}

impl AuthFiles {
    /// `configured` (config `oci.auth_file`) alone when set; otherwise every one of
    /// `$DOCKER_CONFIG/config.json`, `~/.docker/config.json`, `$REGISTRY_AUTH_FILE` and
    /// `$XDG_RUNTIME_DIR/containers/auth.json` that exists. A file that is not JSON is an
    /// error naming it: silently ignoring it would send requests anonymously.
    pub fn load(configured: Option<&Path>) -> Result<AuthFiles> {
        let candidates = match configured {
            Some(path) => vec![path.to_owned()],
            None => default_locations(),
        };
        let mut files = Vec::new();
        for path in candidates {
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
            };
            let doc: Value = serde_json::from_str(&text)
                .map_err(|e| Error::Usage(format!("registry auth file {}: {e}", path.display())))?;
            files.push((path, doc));
        }
        Ok(AuthFiles { files })
    }

    /// The credential for registry `host` (`host[:port]`): an `auths` entry, else the
    /// host's `credHelpers` helper, else the `credsStore` helper; none: anonymous.
    pub fn for_host(&self, host: &str) -> Result<Option<Credential>> {
        for (path, doc) in &self.files {
            if let Some(helper) = doc["credHelpers"].get(host).and_then(Value::as_str) {
                return run_helper(helper, host);
            }
            if let Some(entry) = auths_entry(doc, host) {
                if let Some(c) = decode_entry(entry, path, host)? {
                    return Ok(Some(c));
                }
            }
            if let Some(store) = doc["credsStore"].as_str().filter(|s| !s.is_empty()) {
                return run_helper(store, host);
            }
        }
        Ok(None)
    }
}

fn default_locations() -> Vec<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    [
        var("DOCKER_CONFIG").map(|d| d.join("config.json")),
        var("HOME").map(|h| h.join(".docker/config.json")),
        var("REGISTRY_AUTH_FILE"),
        var("XDG_RUNTIME_DIR").map(|d| d.join("containers/auth.json")),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The file `registry login` writes: `oci.auth_file`, else `$DOCKER_CONFIG/config.json`,
/// else `~/.docker/config.json`.
pub fn login_file(configured: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = configured {
        return Ok(path.to_owned());
    }
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("DOCKER_CONFIG")
        .map(|d| d.join("config.json"))
        .or_else(|| var("HOME").map(|h| h.join(".docker/config.json")))
        .ok_or_else(|| {
            Error::Usage(
                "no place for registry credentials: set oci.auth_file, DOCKER_CONFIG or HOME"
                    .into(),
            )
        })
}

/// The `auths` entry for `host`: its key as written by docker (`host`, `https://host`,
/// `https://host/v1/`) or by podman (`host/namespace` is not matched: a host-wide one is).
fn auths_entry<'a>(doc: &'a Value, host: &str) -> Option<&'a Value> {
    let auths = doc["auths"].as_object()?;
    auths.iter().find_map(|(key, entry)| {
        let bare = key
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        let bare = bare.split('/').next().unwrap_or(bare);
        bare.eq_ignore_ascii_case(host).then_some(entry)
    })
}

fn decode_entry(entry: &Value, path: &Path, host: &str) -> Result<Option<Credential>> {
    let bad = |why: &str| {
        Error::Usage(format!(
            "registry auth file {}: the entry for {host} {why}",
            path.display()
        ))
    };
    if let (Some(u), Some(p)) = (entry["username"].as_str(), entry["password"].as_str()) {
        return Ok(Some(Credential {
            username: u.to_owned(),
            secret: p.to_owned(),
        }));
    }
    let Some(auth) = entry["auth"].as_str().filter(|a| !a.is_empty()) else {
        return Ok(None);
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .map_err(|_| bad("has an `auth` that is not base64"))?;
    let text = String::from_utf8(decoded).map_err(|_| bad("has an `auth` that is not UTF-8"))?;
    let (username, secret) = text
        .split_once(':')
        .ok_or_else(|| bad("has an `auth` without `user:password`"))?;
    Ok(Some(Credential {
        username: username.to_owned(),
        secret: secret.to_owned(),
    }))
}

/// Runs `docker-credential-NAME get` with the host on stdin, as docker does.
fn run_helper(name: &str, host: &str) -> Result<Option<Credential>> {
    let program = format!("docker-credential-{name}");
    let failed = |why: String| {
        Error::Usage(format!(
            "credential helper {program} (configured for {host}) failed: {why}"
        ))
    };
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(host.as_bytes())
            .map_err(|e| failed(e.to_string()))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| failed(e.to_string()))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stdout);
        // "credentials not found in native keychain": anonymous, as docker goes on.
        if said.contains("not found") {
            return Ok(None);
        }
        return Err(failed(format!("{}", out.status)));
    }
    let doc: Value =
        serde_json::from_slice(&out.stdout).map_err(|e| failed(format!("its answer: {e}")))?;
    match (doc["Username"].as_str(), doc["Secret"].as_str()) {
        (Some(u), Some(s)) if !s.is_empty() => Ok(Some(Credential {
            username: u.to_owned(),
            secret: s.to_owned(),
        })),
        _ => Ok(None),
    }
}

/// Adds (`Some`) or removes (`None`) `host`'s entry in the auth file at `path`, keeping
/// everything else in it; written to a temporary file, readable by its owner only, and
/// renamed into place.
pub fn store(path: &Path, host: &str, credential: Option<&Credential>) -> Result<bool> {
    let mut doc = match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str::<Value>(&text)
            .map_err(|e| Error::Usage(format!("registry auth file {}: {e}", path.display())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Value::Object(Map::new()),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    };
    let root = doc.as_object_mut().ok_or_else(|| {
        Error::Usage(format!(
            "registry auth file {}: not an object",
            path.display()
        ))
    })?;
    let auths = root
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| {
            Error::Usage(format!(
                "registry auth file {}: `auths` is not an object",
                path.display()
            ))
        })?;
    let existed = auths.remove(host).is_some();
    if let Some(c) = credential {
        let pair = format!("{}:{}", c.username, c.secret);
        let mut entry = BTreeMap::new();
        entry.insert(
            "auth",
            base64::engine::general_purpose::STANDARD.encode(pair),
        );
        auths.insert(
            host.to_owned(),
            serde_json::to_value(entry).unwrap_or_default(),
        );
    }
    write_private(path, &doc)?;
    Ok(existed)
}

fn write_private(path: &Path, doc: &Value) -> Result<()> {
    let mut text = serde_json::to_vec_pretty(doc).map_err(|e| Error::Internal(e.to_string()))?;
    text.push(b'\n');
    write_atomic_mode(path, &text, Durability::Sync, "oci.auth_file", 0o600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auths_entries_are_found_by_host_in_any_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"auths": {"https://reg.example:5000/v1/": {"auth": "dXNlcjpwYSQ6cw=="},
                          "other.example": {"username": "u2", "password": "p2"}}}"#,
        )
        .unwrap();
        let files = AuthFiles::load(Some(&path)).unwrap();
        let c = files.for_host("reg.example:5000").unwrap().unwrap();
        assert_eq!((c.username.as_str(), c.secret.as_str()), ("user", "pa$:s"));
        assert_eq!(format!("{c:?}"), "Credential(user, ***)");
        assert_eq!(
            files.for_host("other.example").unwrap().unwrap().secret,
            "p2"
        );
        assert!(files.for_host("reg.example").unwrap().is_none());
    }

    #[test]
    fn login_and_logout_keep_the_rest_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.json");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, r#"{"credsStore": "", "proxies": {"x": 1}}"#).unwrap();
        let c = Credential {
            username: "me".into(),
            secret: "s3cret".into(),
        };
        assert!(!store(&path, "reg.example", Some(&c)).unwrap());
        let files = AuthFiles::load(Some(&path)).unwrap();
        assert_eq!(files.for_host("reg.example").unwrap(), Some(c));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(store(&path, "reg.example", None).unwrap());
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(doc["proxies"]["x"], 1);
        assert!(doc["auths"].as_object().unwrap().is_empty());
    }
}
