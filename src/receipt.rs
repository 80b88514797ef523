//! The install receipt: what is installed, from where, with which checksums and test results.
//! Its JSON form is SPEC.md's receipt document.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::pack_ref::PackRef;

/// The kind of source a pack was installed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Git,
    Archive,
    LocalDirectory,
    LocalArchive,
    Registry,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ReceiptSource {
    pub kind: Option<SourceKind>,
    /// Credentials and query strings redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    pub commit: Option<String>,
    pub index: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ReceiptChecksums {
    pub archive: Option<String>,
    pub content: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TestStatus {
    Passed,
    Failed,
    Skipped,
    #[default]
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TestSummary {
    pub status: TestStatus,
    pub passed: u32,
    pub failed: u32,
    pub skipped: u32,
}

/// One installed pack version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    #[serde(rename = "ref")]
    pub pack_ref: PackRef,
    pub version: String,
    pub label: String,
    pub path: PathBuf,
    /// RFC 3339, UTC.
    pub installed_at: String,
    pub source: ReceiptSource,
    pub checksum: ReceiptChecksums,
    pub tests: TestSummary,
    /// The pack's `dependencies` (`ref@req`), so `uninstall` can find dependents without
    /// reading every pack.yaml.
    #[serde(default)]
    pub dependencies: Vec<String>,
}

/// Now, as RFC 3339 in UTC.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
