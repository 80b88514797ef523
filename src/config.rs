//! The config file (YAML; the reference's "Config file"). Its `pack_registry` section reads Attune's as is.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Error, Result};

/// The whole config file. Every field has a default, so an empty file is valid.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct Config {
    /// Where packs are installed.
    pub packs_dir: Option<PathBuf>,
    /// Where index documents are cached.
    pub cache_dir: Option<PathBuf>,
    /// The Attune version packs and indices are checked against (`attune_version` constraints).
    pub attune_version: Option<String>,
    /// How many displaced versions of each pack are kept for `rollback`.
    pub keep_versions: usize,
    /// Registries and the network (Attune's `pack_registry` section).
    pub pack_registry: RegistryConfig,
    /// Resource limits.
    pub limits: Limits,
    /// Pack data reaches the disk before the rename that makes it active (default true).
    pub sync: bool,
    /// The interpreter packs' Python requirements are checked against: a name looked up on
    /// `PATH` (default `python3`) or a path.
    pub python: String,
    /// minisign public keys (`RWQ…`, or paths of `.pub` files) a bundle given with
    /// `install --bundle` must be signed by; none: bundles need no signature.
    pub bundle_trusted_keys: Vec<String>,
    /// Variables of attune-pack's environment passed to pack tests, which otherwise start
    /// from an empty one; secrets attune-pack holds are withheld whatever this says.
    pub test_env: Vec<String>,
    /// The user pack tests run as when attune-pack runs as root (default `nobody`).
    pub test_user: String,
    /// OCI registries: mirrors, plain-http registries, the auth file.
    pub oci: OciConfig,
    /// Where packs' Python environments are built (`REF/python`, Attune's layout; default
    /// `/opt/attune/runtime_envs` as root, else `$XDG_DATA_HOME/attune/runtime_envs`).
    pub runtime_envs_dir: Option<PathBuf>,
    /// Whether installs build packs' Python environments (default true).
    pub build_envs: bool,
    /// pip's package index (default: pip's own, PyPI).
    pub pip_index_url: Option<String>,
    /// More package indices pip looks in.
    pub pip_extra_index_urls: Vec<String>,
    /// Directories or pages of wheels pip looks in (`--find-links`).
    pub pip_find_links: Vec<String>,
    /// The variables the index headers' `${VAR}` read: secrets, never passed to pack tests.
    #[serde(skip)]
    pub header_variables: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            packs_dir: None,
            cache_dir: None,
            attune_version: None,
            keep_versions: 1,
            pack_registry: RegistryConfig::default(),
            limits: Limits::default(),
            sync: true,
            python: "python3".to_owned(),
            bundle_trusted_keys: Vec::new(),
            test_env: Vec::new(),
            test_user: "nobody".to_owned(),
            oci: OciConfig::default(),
            runtime_envs_dir: None,
            build_envs: true,
            pip_index_url: None,
            pip_extra_index_urls: Vec::new(),
            pip_find_links: Vec::new(),
            header_variables: Vec::new(),
        }
    }
}

/// How OCI registries are reached (the `oci` section).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub struct OciConfig {
    /// Per registry host (`ghcr.io`, `registry.local:5000`), mirror base URLs tried in order
    /// before it for pulls (`https://mirror.local`, `http://10.0.0.5:5000` with plain http
    /// allowed); the upstream's credentials are never sent to a mirror.
    pub mirrors: BTreeMap<String, Vec<String>>,
    /// Registry hosts reached over plain http (as `--allow-http` does for every registry).
    pub plain_http: Vec<String>,
    /// The docker-format auth file to read and `registry login` writes; default: the first
    /// that exists of `$DOCKER_CONFIG/config.json`, `~/.docker/config.json`,
    /// `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`.
    pub auth_file: Option<PathBuf>,
    /// Blobs larger than this many bytes are pushed in chunks of this size (`PATCH`es);
    /// 0, the default, pushes each blob in one `PUT` (for registries that cap a request).
    #[serde(deserialize_with = "byte_size")]
    pub chunk_size: u64,
}

/// Registry and network policy (Attune's `pack_registry` section, plus attune-pack's
/// network settings).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct RegistryConfig {
    /// Registry references are resolved at all.
    pub enabled: bool,
    /// The indices, searched by priority.
    pub indices: Vec<IndexConfig>,
    /// Seconds a cached index is used without asking its server.
    pub cache_ttl: u64,
    /// Remote indices are cached.
    pub cache_enabled: bool,
    /// Seconds without progress (connect, or no bytes received), not a total.
    pub timeout: u64,
    /// Registry installs must match the index's checksum.
    pub verify_checksums: bool,
    /// When not empty, remote sources must be on these hosts (index hosts always are).
    pub allowed_source_hosts: Vec<String>,
    /// Plain `http://` is allowed.
    pub allow_http: bool,
    /// Extra PEM roots for https.
    pub ca_file: Option<PathBuf>,
    /// An index checksum may also be Attune's own directory checksum (weaker; warned about).
    pub legacy_checksums: bool,
    /// Whether loopback, private, link-local, CGNAT and unique-local addresses may be
    /// contacted (`allow` | `deny`).
    pub private_networks: NetPolicy,
}

/// Which addresses attune-pack connects to (config `pack_registry.private_networks`, or
/// [`InstallerBuilder::net_policy`](crate::InstallerBuilder::net_policy)). Checked on the
/// address each connection is actually made to, after name resolution, so neither DNS
/// rebinding nor a redirect passes it. Cloud metadata addresses (169.254.169.254,
/// fd00:ec2::254, 100.100.100.200) are refused under both; a host listed in
/// `pack_registry.allowed_source_hosts` passes both.
///
/// A server that installs what remote users name should use [`NetPolicy::DenyPrivate`]:
/// otherwise an install argument can reach the server's own network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
pub enum NetPolicy {
    /// Any address but the cloud metadata ones (config `allow`, the default).
    #[default]
    #[serde(rename = "allow")]
    AllowPrivate,
    /// Public addresses only (config `deny`): no loopback, RFC 1918, link-local, CGNAT,
    /// unique-local, multicast or unspecified address.
    #[serde(rename = "deny")]
    DenyPrivate,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            enabled: true,
            indices: Vec::new(),
            cache_ttl: 3600,
            cache_enabled: true,
            timeout: 120,
            verify_checksums: true,
            allowed_source_hosts: Vec::new(),
            allow_http: false,
            ca_file: None,
            legacy_checksums: true,
            private_networks: NetPolicy::AllowPrivate,
        }
    }
}

/// One configured index.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct IndexConfig {
    /// https, http (with `allow_http`), `file://` or a path.
    pub url: String,
    /// The name `index/pack` and `--registry` use (default: the redacted URL).
    #[serde(default)]
    pub name: Option<String>,
    /// Lower is searched first (default 100; ties keep config order).
    #[serde(default = "default_priority")]
    pub priority: i64,
    /// Searched at all.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Sent only to this index's origin; `${VAR}` is read from the environment at load time.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// minisign public keys (`RWQ…`, or paths of `.pub` files); when any is given, the
    /// index's detached signature (`URL.minisig`) must verify with one of them.
    #[serde(default)]
    pub trusted_keys: Vec<String>,
}

fn default_priority() -> i64 {
    100
}

fn yes() -> bool {
    true
}

/// Resource limits for one install; sizes may be written as numbers or as `"1GiB"`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub struct Limits {
    /// Largest download (archive or git pack data).
    #[serde(deserialize_with = "byte_size")]
    pub max_download_bytes: u64,
    /// Most bytes unpacked from one source.
    #[serde(deserialize_with = "byte_size")]
    pub max_unpacked_bytes: u64,
    /// Most entries in one source.
    pub max_entries: u64,
    /// Largest index document read (a larger one makes that index unavailable).
    #[serde(deserialize_with = "byte_size")]
    pub max_index_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_download_bytes: 1 << 30,
            max_unpacked_bytes: 4 << 30,
            max_entries: 100_000,
            max_index_bytes: 64 << 20,
        }
    }
}

fn byte_size<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(u64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Number(n) => Ok(n),
        Raw::Text(s) => parse_byte_size(&s).map_err(serde::de::Error::custom),
    }
}

/// Reads `1024`, `10KB`, `1.5 MiB`, `1GiB`, `2g`: decimal (KB/MB/GB/TB) and binary
/// (KiB/MiB/GiB/TiB) units; a bare `K`/`M`/`G`/`T` is binary, as most tools read it.
pub fn parse_byte_size(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size (examples: 1048576, 500MB, 1GiB)"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        other => return Err(format!("unknown size unit `{other}` in `{s}`")),
    };
    Ok((num * mult as f64) as u64)
}

impl Config {
    /// Loads the config: `explicit` (flag or `ATTUNE_PACK_CONFIG`) must exist; otherwise the
    /// first of `$XDG_CONFIG_HOME/attune-pack/config.yaml` and `/etc/attune/attune-pack.yaml`
    /// that exists, else the defaults.
    /// Returns it with a warning per unknown key (a typo would otherwise pass silently).
    pub fn load(explicit: Option<&Path>) -> Result<(Config, Vec<String>)> {
        let path = match explicit {
            Some(p) => Some(p.to_owned()),
            None => default_config_paths().into_iter().find(|p| p.is_file()),
        };
        let Some(path) = path else {
            return Ok((Config::default(), Vec::new()));
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Error::Usage(format!("cannot read config file {}: {e}", path.display()))
        })?;
        Config::from_yaml_checked(&text, &path.display().to_string())
    }

    /// Parses config text; `origin` names it in errors. `${VAR}` in index headers is expanded.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Config> {
        Ok(Config::from_yaml_checked(text, origin)?.0)
    }

    /// Like [`Config::from_yaml`], with a warning per unknown key, naming the closest known one.
    pub fn from_yaml_checked(text: &str, origin: &str) -> Result<(Config, Vec<String>)> {
        let mut unknown = Vec::new();
        let mut config: Config = if text.trim().is_empty() {
            Config::default()
        } else {
            serde_ignored::deserialize(serde_norway::Deserializer::from_str(text), |path| {
                unknown.push(path.to_string())
            })
            .map_err(|e| Error::Usage(format!("invalid config file {origin}: {e}")))?
        };
        let warnings = unknown
            .iter()
            .map(|path| unknown_key_warning(origin, path))
            .collect();
        for index in &mut config.pack_registry.indices {
            for (name, value) in index.headers.iter_mut() {
                config.header_variables.extend(referenced(value));
                *value = expand_env(value).map_err(|var| {
                    Error::Usage(format!(
                        "config file {origin}: header `{name}` of index {} uses ${{{var}}}, which is not set in the environment",
                        index.name.as_deref().unwrap_or(&index.url)
                    ))
                })?;
            }
        }
        Ok((config, warnings))
    }
}

/// "unknown key `pack_registry.indice` ignored; did you mean `indices`?"
fn unknown_key_warning(origin: &str, path: &str) -> String {
    let (parent, key) = path.rsplit_once('.').unwrap_or(("", path));
    let closest = known_keys(parent)
        .into_iter()
        .map(|k| (strsim::jaro_winkler(key, &k), k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match closest {
        Some((_, k)) => {
            format!("config file {origin}: unknown key `{path}` ignored; did you mean `{k}`?")
        }
        None => format!("config file {origin}: unknown key `{path}` ignored"),
    }
}

/// The keys the config reads under `parent` (`""`, `pack_registry`, `pack_registry.indices.N`,
/// `limits`), taken from the types themselves so the list cannot fall behind them.
fn known_keys(parent: &str) -> Vec<String> {
    let doc = if parent.starts_with("pack_registry.indices.") {
        serde_json::to_value(IndexConfig {
            url: String::new(),
            name: None,
            priority: default_priority(),
            enabled: true,
            headers: BTreeMap::new(),
            trusted_keys: Vec::new(),
        })
    } else {
        serde_json::to_value(Config::default()).map(|c| match parent {
            "" => c,
            section => c[section].clone(),
        })
    };
    match doc {
        Ok(serde_json::Value::Object(keys)) => keys.into_iter().map(|(k, _)| k).collect(),
        _ => Vec::new(),
    }
}

/// The names of the `${VAR}` in `value`.
fn referenced(value: &str) -> Vec<String> {
    value
        .split("${")
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(var, _)| var.to_owned()))
        .collect()
}

/// Replaces `${VAR}` with the variable's value; `Err(VAR)` when it is unset.
fn expand_env(value: &str) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start + 2..].find('}') else {
            break;
        };
        let var = &rest[start + 2..start + 2 + len];
        out.push_str(&rest[..start]);
        out.push_str(&std::env::var(var).map_err(|_| var.to_owned())?);
        rest = &rest[start + 3 + len..];
    }
    out.push_str(rest);
    Ok(out)
}

fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn home() -> Option<PathBuf> {
    env_path("HOME")
}

fn default_config_paths() -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Some(dir) = env_path("XDG_CONFIG_HOME").or_else(|| home().map(|h| h.join(".config"))) {
        paths.push(dir.join("attune-pack").join("config.yaml"));
    }
    paths.push(PathBuf::from("/etc/attune/attune-pack.yaml"));
    paths
}

fn is_root() -> bool {
    #[cfg(unix)]
    {
        std::env::var("USER").map(|u| u == "root").unwrap_or(false)
            || std::fs::metadata("/proc/self")
                .map(|m| {
                    use std::os::unix::fs::MetadataExt;
                    m.uid() == 0
                })
                .unwrap_or(false)
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// The packs dir: flag or environment (already merged by the caller) > config > default.
pub fn resolve_packs_dir(given: Option<&Path>, config: &Config) -> Result<PathBuf> {
    if let Some(p) = given.or(config.packs_dir.as_deref()) {
        return Ok(p.to_owned());
    }
    if is_root() {
        return Ok(PathBuf::from("/var/lib/attune/packs"));
    }
    if let Some(dir) = env_path("XDG_DATA_HOME").or_else(|| home().map(|h| h.join(".local/share")))
    {
        return Ok(dir.join("attune").join("packs"));
    }
    Err(Error::NoPacksDir)
}

/// The cache dir: flag or environment > config > `$XDG_CACHE_HOME/attune-pack`, else under
/// the packs dir (hosts with neither HOME nor XDG).
/// Where packs' Python environments live: `given` (flag or environment), the config's, else
/// Attune's default as root, else under the user's data directory (else beside the packs).
pub fn resolve_runtime_envs_dir(
    given: Option<&Path>,
    config: &Config,
    packs_dir: &Path,
) -> PathBuf {
    if let Some(p) = given.or(config.runtime_envs_dir.as_deref()) {
        return p.to_owned();
    }
    if is_root() {
        return PathBuf::from("/opt/attune/runtime_envs");
    }
    match env_path("XDG_DATA_HOME").or_else(|| home().map(|h| h.join(".local/share"))) {
        Some(dir) => dir.join("attune").join("runtime_envs"),
        None => packs_dir.join(".attune-pack").join("runtime_envs"),
    }
}

pub fn resolve_cache_dir(given: Option<&Path>, config: &Config, packs_dir: &Path) -> PathBuf {
    if let Some(p) = given.or(config.cache_dir.as_deref()) {
        return p.to_owned();
    }
    match env_path("XDG_CACHE_HOME").or_else(|| home().map(|h| h.join(".cache"))) {
        Some(dir) => dir.join("attune-pack"),
        None => packs_dir.join(".attune-pack").join("cache"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_numbers_and_units() {
        assert_eq!(parse_byte_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_byte_size("500MB").unwrap(), 500_000_000);
        assert_eq!(parse_byte_size("1.5 KiB").unwrap(), 1536);
        assert_eq!(parse_byte_size("42").unwrap(), 42);
        assert!(parse_byte_size("12 parsecs").is_err());
    }

    #[test]
    fn config_reads_attune_section_and_limits() {
        std::env::set_var("ATTUNE_PACK_TEST_TOKEN", "s3cret");
        let c = Config::from_yaml(
            "keep_versions: 2\npack_registry:\n  indices:\n    - url: https://r.example/index.json\n      headers: {Authorization: \"Bearer ${ATTUNE_PACK_TEST_TOKEN}\"}\nlimits: {max_download_bytes: 1GiB, max_entries: 10}\n",
            "test",
        )
        .unwrap();
        assert_eq!(c.keep_versions, 2);
        assert_eq!(c.pack_registry.indices[0].priority, 100);
        assert_eq!(
            c.pack_registry.indices[0].headers["Authorization"],
            "Bearer s3cret"
        );
        assert_eq!(c.limits.max_download_bytes, 1 << 30);
        assert_eq!(c.limits.max_unpacked_bytes, 4 << 30);
        assert_eq!(c.limits.max_entries, 10);
        assert_eq!(c.header_variables, ["ATTUNE_PACK_TEST_TOKEN"]);
        let err = Config::from_yaml(
            "pack_registry:\n  indices:\n    - url: x\n      headers: {A: \"${ATTUNE_PACK_SURELY_UNSET_VAR}\"}\n",
            "cfg.yaml",
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("ATTUNE_PACK_SURELY_UNSET_VAR"));
    }

    #[test]
    fn unknown_keys_are_warned_about_with_the_closest_known_key() {
        let (c, warnings) = Config::from_yaml_checked(
            "keep_version: 2\npack_registry:\n  indice: []\n  indices:\n    - url: x\n      priorty: 1\nlimits: {max_entrys: 5}\nfrobnicate: true\n",
            "cfg.yaml",
        )
        .unwrap();
        assert_eq!(c.keep_versions, 1);
        assert_eq!(
            warnings,
            [
                "config file cfg.yaml: unknown key `keep_version` ignored; did you mean `keep_versions`?",
                "config file cfg.yaml: unknown key `pack_registry.indice` ignored; did you mean `indices`?",
                "config file cfg.yaml: unknown key `pack_registry.indices.0.priorty` ignored; did you mean `priority`?",
                "config file cfg.yaml: unknown key `limits.max_entrys` ignored; did you mean `max_entries`?",
                "config file cfg.yaml: unknown key `frobnicate` ignored",
            ]
        );
    }
}
