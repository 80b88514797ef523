//! The library's error type. Every variant maps to one `error.code` and one exit code of SPEC.md,
//! so the CLI and embedding programs classify failures the same way.

use std::path::PathBuf;

use crate::safety::Rule;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A failure of an attune-pack operation, with the context needed to act on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{0}")]
    Usage(String),

    #[error("{message}: {url}")]
    Network {
        url: String,
        message: String,
        /// The HTTP status, when the server answered with an unaccepted one.
        status: Option<u16>,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("git: {message} ({url})")]
    Git {
        url: String,
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    #[error("corrupt archive {archive}: {message}")]
    ArchiveCorrupt { archive: String, message: String },

    #[error("no package index could be read: {0}")]
    IndexUnavailable(String),

    #[error("internal error: {0}")]
    Internal(String),

    #[error("checksum mismatch for {source_desc}\n  expected: {expected}\n  actual:   {actual}\n  hint: {hint}")]
    ChecksumMismatch {
        source_desc: String,
        expected: String,
        actual: String,
        hint: String,
    },

    #[error("no checksum for {0}")]
    ChecksumMissing(String),

    #[error("unsafe entry `{entry}` in {origin}: {rule}\n  nothing was installed; the source must be fixed by its publisher")]
    UnsafeArchive {
        origin: String,
        entry: String,
        rule: Rule,
    },

    #[error("host `{host}` is not in allowed_source_hosts ({url})")]
    HostNotAllowed { host: String, url: String },

    /// A source named by a remote index that is not remote (a local path, `file://`).
    #[error("{url} is on this host, and a remote index may only name remote sources\n  hint: sources in an index fetched over http(s) must be http(s), git or ssh URLs")]
    LocalSourceFromRemoteIndex { url: String },

    #[error("refusing plain http:// for {0}\n  hint: use https, or pass --allow-http (config: pack_registry.allow_http) if you trust the network")]
    InsecureHttp(String),

    #[error("{0}")]
    NotFound(String),

    #[error("no pack.yaml found in {origin}; searched:\n{}", searched.iter().map(|p| format!("  {}", p.display())).collect::<Vec<_>>().join("\n"))]
    PackYamlMissing {
        origin: String,
        searched: Vec<PathBuf>,
    },

    #[error("pack `{pack_ref}` {version} is already installed at {path}\n  hint: pass --force to replace it")]
    AlreadyInstalled {
        pack_ref: String,
        version: String,
        path: PathBuf,
    },

    #[error("{0}")]
    DependencyUnmet(String),

    #[error("{0}")]
    DependentsExist(String),

    #[error("pack tests failed: {0}")]
    TestsFailed(String),

    #[error("could not lock the pack store {path} within {secs} s: another attune-pack command holds it\n  hint: wait for it to finish, or raise --lock-timeout")]
    Locked { path: PathBuf, secs: u64 },

    /// Two things that must agree do not (conflicting index entries of one version).
    #[error("{0}")]
    Conflict(String),

    #[error("install vetoed by hook: {0}")]
    HookVeto(String),

    #[error("invalid pack: {0}")]
    InvalidPack(String),

    /// Stopped by a signal (or an embedding program's [`crate::Interrupt`]): staging was
    /// removed and the store is unchanged.
    #[error("interrupted by {}", signal_name(*signal))]
    Interrupted { signal: i32 },
}

impl Error {
    /// The `error.code` of SPEC.md.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Usage(_) => "usage",
            Error::Network { .. } => "network",
            Error::Io { .. } => "io",
            Error::Git { .. } => "git",
            Error::ArchiveCorrupt { .. } => "archive_corrupt",
            Error::IndexUnavailable(_) => "index_unavailable",
            Error::Internal(_) => "internal",
            Error::ChecksumMismatch { .. } => "checksum_mismatch",
            Error::ChecksumMissing(_) => "checksum_missing",
            Error::UnsafeArchive { .. } => "unsafe_archive",
            Error::HostNotAllowed { .. } | Error::LocalSourceFromRemoteIndex { .. } => {
                "host_not_allowed"
            }
            Error::InsecureHttp(_) => "insecure_http",
            Error::NotFound(_) => "not_found",
            Error::PackYamlMissing { .. } => "pack_yaml_missing",
            Error::AlreadyInstalled { .. } => "already_installed",
            Error::DependencyUnmet(_) => "dependency_unmet",
            Error::DependentsExist(_) => "dependents_exist",
            Error::TestsFailed(_) => "tests_failed",
            Error::Locked { .. } => "locked",
            Error::Conflict(_) => "conflict",
            Error::HookVeto(_) => "hook_veto",
            Error::InvalidPack(_) => "invalid_pack",
            Error::Interrupted { .. } => "interrupted",
        }
    }

    /// The process exit code of SPEC.md's table.
    pub fn exit_code(&self) -> i32 {
        if let Error::Interrupted { signal } = self {
            return 128 + signal;
        }
        match self.code() {
            "usage" => 2,
            "checksum_mismatch" | "checksum_missing" | "unsafe_archive" | "host_not_allowed"
            | "insecure_http" => 3,
            "not_found" | "pack_yaml_missing" => 4,
            "already_installed" | "dependency_unmet" | "dependents_exist" | "tests_failed"
            | "locked" | "hook_veto" | "conflict" => 5,
            "invalid_pack" => 6,
            _ => 1,
        }
    }

    /// The family a code belongs to (`conflict` for every exit-5 code), for programs that
    /// only care about the class of failure.
    pub fn category(&self) -> &'static str {
        match self.exit_code() {
            2 => "usage",
            3 => "security",
            4 => "not_found",
            5 => "conflict",
            6 => "invalid_pack",
            129..=192 => "interrupted",
            _ => "runtime",
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

fn signal_name(signal: i32) -> String {
    match signal {
        1 => "SIGHUP".into(),
        2 => "SIGINT (Ctrl-C)".into(),
        15 => "SIGTERM".into(),
        n => format!("signal {n}"),
    }
}

/// Attaches a context sentence to I/O results: `fs::read(p).ctx(|| format!("reading {p}"))`.
pub(crate) trait IoContext<T> {
    fn ctx<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|e| Error::io(f(), e))
    }
}
