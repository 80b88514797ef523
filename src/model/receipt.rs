//! The install receipt: what is installed, from where, with which checksums and test results.
//! Its JSON form is the receipt document of the reference.

use std::path::PathBuf;

use semver::Version;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::model::checksum::Checksum;
use crate::model::pack_ref::PackRef;

/// The kind of source a pack was installed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A git repository.
    Git,
    /// An archive URL.
    Archive,
    /// A directory on this host.
    LocalDirectory,
    /// An archive file on this host.
    LocalArchive,
    /// A registry reference (resolved through an index).
    Registry,
    /// A pack of an offline bundle (`install --bundle`).
    Bundle,
    /// An OCI artifact in a registry.
    Oci,
    /// An OCI image layout directory on this host.
    OciLayout,
}

/// Where a pack came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ReceiptSource {
    /// The kind of source (none for a pack that was placed by hand).
    pub kind: Option<SourceKind>,
    /// The URL, credentials and query strings redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The path, for local sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The git ref asked for.
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    /// The git commit installed.
    pub commit: Option<String>,
    /// The manifest digest of an OCI artifact (`sha256:…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The index a registry reference was resolved in.
    pub index: Option<String>,
    /// The directory of the pack inside a repository or archive of many.
    #[serde(default)]
    pub subdir: Option<String>,
    /// The minisign key id (hex, as minisign prints it) that verified the signature of the
    /// index or bundle the pack was resolved in; none when it was not signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// A bundled pack's original source (redacted, with its commit): where the bundle's
    /// creator fetched it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Box<ReceiptSource>>,
}

/// The checksums an install measured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptChecksums {
    /// The sha256 of the archive's bytes (archive sources).
    pub archive: Option<Checksum>,
    /// The content checksum of the installed pack.
    pub content: Checksum,
}

/// How a pack's own tests went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TestStatus {
    /// Every test passed.
    Passed,
    /// Some failed (and `on_failure: warn` let the install go on).
    Failed,
    /// Not run, as asked (or disabled in pack.yaml).
    Skipped,
    /// The pack declares no tests.
    #[default]
    None,
}

/// The counts of a pack's tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TestSummary {
    /// How they went.
    pub status: TestStatus,
    /// Tests that passed.
    pub passed: u32,
    /// Tests that failed.
    pub failed: u32,
    /// Tests skipped by their runner.
    pub skipped: u32,
    /// What confined them; none when no test ran (and in receipts written before it was
    /// recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<Sandbox>,
}

/// What kept a pack's tests from writing outside their scratch copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sandbox {
    /// Landlock: the file system read-only but for the scratch copy (and `/dev/null`).
    Landlock,
    /// No Landlock; the tests ran as another user (`test_user`), with the staged pack
    /// made read-only.
    Readonly,
    /// No Landlock, and the tests ran as the installing user: only the re-hash of the staged
    /// pack before its commit stands between them and what is installed.
    None,
}

impl Sandbox {
    /// The name receipts give it.
    pub fn name(self) -> &'static str {
        match self {
            Sandbox::Landlock => "landlock",
            Sandbox::Readonly => "readonly",
            Sandbox::None => "none",
        }
    }
}

/// One installed pack version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The pack's ref.
    #[serde(rename = "ref")]
    pub pack_ref: PackRef,
    /// Its version.
    pub version: Version,
    /// Its label (pack.yaml `label`, else `name`, else the ref).
    pub label: String,
    /// Where it is installed.
    pub path: PathBuf,
    /// When it was installed (RFC 3339 in JSON).
    #[serde(with = "time::serde::rfc3339")]
    pub installed_at: OffsetDateTime,
    /// The version requirement it was installed with (`^2` for `slack@^2`, `=2.1.0` for
    /// `slack@2.1.0`); none for a bare name and for sources that are not registry references.
    #[serde(default)]
    pub requirement: Option<String>,
    /// Where it came from.
    pub source: ReceiptSource,
    /// What was measured of it.
    pub checksum: ReceiptChecksums,
    /// How its tests went.
    pub tests: TestSummary,
    /// The pack's `dependencies` (`ref@req`, git URLs as `URL` or `URL=REF`), so that `uninstall` can find dependents without
    /// reading every pack.yaml.
    #[serde(default)]
    pub dependencies: Vec<String>,
    /// The StackStorm versions pack.yaml says it runs on (`stackstorm_version`), when it says:
    /// shown, never checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stackstorm_version: Option<String>,
    /// Its Python environment (none in receipts written before environments were built).
    #[serde(default)]
    pub env: ReceiptEnv,
}

/// The file in a built environment that says its requirements are installed: the sha256 hex
/// of `requirements.txt`, no newline, as Attune's workers compare it.
pub const ENV_MARKER: &str = ".attune_deps_installed";

/// Whether a pack's Python environment was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EnvStatus {
    /// Built (or reused) and active with the pack.
    Ready,
    /// The pack needs none (no `requirements.txt`, no python in `runtime_deps`).
    #[default]
    None,
    /// Not built, as asked (`--skip-env`, config `build_envs: false`): its actions may not
    /// run until one is.
    Skipped,
}

impl EnvStatus {
    /// The name receipts give it.
    pub fn name(self) -> &'static str {
        match self {
            EnvStatus::Ready => "ready",
            EnvStatus::None => "none",
            EnvStatus::Skipped => "skipped",
        }
    }
}

/// A pack's Python environment, as its receipt records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ReceiptEnv {
    /// Where Attune's workers look for it: `RUNTIME_ENVS_DIR/REF/python` (a link to `dir`
    /// while this version is active).
    pub path: Option<PathBuf>,
    /// The interpreter's version (`3.11.2`).
    pub python: Option<String>,
    /// The sha256 of the `requirements.txt` it was built from (`sha256:HEX`), which its
    /// marker file `.attune_deps_installed` holds (as bare hex).
    pub requirements: Option<Checksum>,
    /// Whether it was built.
    pub status: EnvStatus,
    /// The directory it was built in (`RUNTIME_ENVS_DIR/REF/.versions/KEY`), kept while this
    /// version is active or kept for rollback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
}

/// Now, to the second, in UTC.
pub fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

/// Now, as RFC 3339 in UTC.
pub fn now_rfc3339() -> String {
    now()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
