//! The library's error type: one variant per kind of failure, with typed fields where a
//! caller (or the command line) decides something from them. Every variant has one
//! `error.code` and one exit code ([`Error::exit_code`], the one place that maps them);
//! library logic asks predicates ([`Error::is_fetch_failure`], [`Error::is_refusal`]),
//! never codes or message text. Messages state what happened; what to do about it (the
//! hints, with their flag names) is the command line's to add.

pub mod rule;

use std::path::PathBuf;

use crate::model::checksum::{Checksum, ParseChecksumError};
use crate::model::pack_ref::{InvalidRef, PackRef};

pub use rule::Rule;

/// The archive formats attune-pack reads, as an error tells a file or download it is not one.
pub(crate) const KNOWN_ARCHIVE_FORMATS: &str =
    "a zip or tar archive (plain, or compressed with gzip, xz, zstd or bzip2)";

/// `Result` with attune-pack's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A failure of an attune-pack operation, with the context needed to act on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request cannot be carried out as given (a bad argument, config or combination).
    #[error("{0}")]
    Usage(String),

    /// A registry reference while registry references are refused
    /// ([`crate::DetectOptions::refuse_registry`]).
    #[error("`{input}` is a registry reference, and registry references are refused")]
    RegistryRefused {
        /// The argument as given.
        input: String,
    },

    /// A registry reference names an index (`index/name`, `--registry`) the config does not
    /// have.
    #[error("no index named `{name}` in the config (configured: {})", if configured.is_empty() { "none".to_owned() } else { configured.join(", ") })]
    UnknownIndex {
        /// The name asked for.
        name: String,
        /// The names of the configured indices.
        configured: Vec<String>,
    },

    /// Registry installs are off in the config, or no index is configured.
    #[error("{}", if *.disabled { "registry installs are disabled (pack_registry.enabled: false in the config)" } else { "no registry index is configured" })]
    NoRegistry {
        /// `pack_registry.enabled` is false (else: no index is configured).
        disabled: bool,
    },

    /// No packs directory can be chosen: neither `HOME` nor `XDG_DATA_HOME` is set and the
    /// process does not run as root.
    #[error("no packs directory: neither HOME nor XDG_DATA_HOME is set and not running as root")]
    NoPacksDir,

    /// A download or request failed.
    #[error("{message}: {url}")]
    Network {
        /// The URL, credentials and query redacted.
        url: String,
        /// What went wrong.
        message: String,
        /// The HTTP status, when the server answered with an unaccepted one.
        status: Option<u16>,
        /// The underlying error, when there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// Something needs the network while working offline.
    #[error("cannot fetch {what} while offline")]
    Offline {
        /// What could not be fetched (with its redacted URL).
        what: String,
    },

    /// A file-system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// A git operation failed.
    #[error("git: {message} ({url})")]
    Git {
        /// The repository URL, credentials redacted.
        url: String,
        /// What went wrong (gix's cause chain, redacted).
        message: String,
        /// gix's error, when the URL carries no credentials it could quote.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// A ref or commit id that names no commit of a repository (or more than one).
    #[error("git: no branch, tag or commit `{spec}` found {place}{} ({url})", ambiguity(.candidates))]
    CommitNotFound {
        /// The repository URL, credentials redacted.
        url: String,
        /// The ref or (abbreviated) commit id asked for.
        spec: String,
        /// `in the repository` or `on the remote`.
        place: &'static str,
        /// The commits an ambiguous abbreviation matches (empty when none).
        candidates: Vec<String>,
    },

    /// An archive that is truncated or cannot be decoded.
    #[error("corrupt archive {archive}: {message}")]
    ArchiveCorrupt {
        /// Which archive (a redacted URL or a path).
        archive: String,
        /// What is wrong with it.
        message: String,
    },

    /// A download that is not an archive.
    #[error("corrupt archive {url}: the download is not {KNOWN_ARCHIVE_FORMATS}{}", content_type.as_ref().map(|t| format!(" (the server sent {t})")).unwrap_or_default())]
    NotAnArchive {
        /// The URL, redacted.
        url: String,
        /// The `Content-Type` the server sent.
        content_type: Option<String>,
    },

    /// A web URL that is neither an archive nor a git repository: both attempts' errors.
    #[error("{archive}\n  also tried as a git repository (smart HTTP): {git}")]
    NeitherArchiveNorGit {
        /// Why it is not an archive.
        archive: Box<Error>,
        /// Why it is not a git repository either.
        git: Box<Error>,
    },

    /// No index could be read.
    #[error("no package index could be read: {0}")]
    IndexUnavailable(String),

    /// A bug, or a state attune-pack did not expect.
    #[error("internal error: {0}")]
    Internal(String),

    /// A checksum did not match.
    #[error("checksum mismatch for {} {subject} ({from})\n  expected: {expected}\n  actual:   {actual}", match .checked { Checked::Archive => "archive", Checked::Content => "content of", Checked::AnyForm => "archive, content or Attune directory checksum of", Checked::ContentOrAttune => "content or Attune directory checksum of" })]
    ChecksumMismatch {
        /// What was hashed: the archive's bytes or the content.
        checked: Checked,
        /// The source, as shown.
        subject: String,
        /// Where the expected checksum comes from (`--checksum`, an index entry).
        from: String,
        /// The checksum required.
        expected: Box<Checksum>,
        /// The checksum measured.
        actual: Box<Checksum>,
    },

    /// A signed index or bundle whose signature is missing, bad, by a key not trusted, or
    /// older than one already seen.
    #[error("signature of {subject} refused: {reason}")]
    SignatureInvalid {
        /// The index (by name) or bundle (by path).
        subject: String,
        /// Why.
        reason: String,
    },

    /// A bundle file whose bytes do not hold together: altered, truncated or not a bundle.
    #[error("bundle {path} is corrupt or was altered: {reason}\n  nothing was installed")]
    BundleTampered {
        /// The bundle's path.
        path: String,
        /// What does not match.
        reason: String,
    },

    /// Bytes from an OCI registry that do not hash to the digest that names them.
    #[error("digest mismatch for {what} from {reference}\n  expected: {expected}\n  actual:   {actual}\n  nothing was installed; the registry (or a mirror) served other bytes than the digest names")]
    DigestMismatch {
        /// What was checked: the manifest, the layer, the config blob.
        what: String,
        /// The OCI reference, as shown.
        reference: String,
        /// The digest asked for or announced.
        expected: String,
        /// The digest of the bytes received.
        actual: String,
    },

    /// An OCI registry answered in a way the distribution protocol does not allow, or served
    /// something that is not a pack.
    #[error("{reference}: {message}")]
    Oci {
        /// The OCI reference or registry, as shown.
        reference: String,
        /// What was wrong.
        message: String,
    },

    /// A checksum is required and there is none.
    #[error("no checksum for {0}")]
    ChecksumMissing(String),

    /// An entry that breaks a rule of path safety; nothing was installed.
    #[error("unsafe entry `{entry}` in {origin}: {rule}\n  nothing was installed; the source must be fixed by its publisher")]
    UnsafeArchive {
        /// The source, as shown.
        origin: String,
        /// The entry's name, shortened and escaped.
        entry: String,
        /// The rule it breaks.
        rule: Rule,
    },

    /// A source on a host outside `allowed_source_hosts`.
    #[error("host `{host}` is not in allowed_source_hosts ({url})")]
    HostNotAllowed {
        /// The host, lowercase.
        host: String,
        /// The URL, redacted.
        url: String,
    },

    /// A connection to an address the network policy refuses (checked after name
    /// resolution, on every hop).
    #[error("refusing to connect to {host} at {address}, a {what} address: {remedy}")]
    AddressNotAllowed {
        /// The host, as named in the URL.
        host: String,
        /// The address it resolved to.
        address: String,
        /// What kind of address that is (loopback, private, cloud metadata, …).
        what: &'static str,
        /// The setting to change to allow it.
        remedy: String,
    },

    /// A URL with credentials in it, named by an index: an index may not make this host
    /// send credentials anywhere.
    #[error("{url} carries credentials, and sources named by an index may not")]
    CredentialsInIndexUrl {
        /// The URL, redacted.
        url: String,
    },

    /// A source on this host named by an index fetched over http(s).
    #[error("{url} is on this host, and a remote index may only name remote sources")]
    LocalSourceFromRemoteIndex {
        /// The source, redacted.
        url: String,
    },

    /// A pack fetched from another host names a git dependency on this one.
    #[error("`{pack}` came from another host and names a dependency on this one ({url}); a remote pack may only depend on remote repositories")]
    LocalDependencyOfRemotePack {
        /// The pack that names it.
        pack: PackRef,
        /// The dependency's repository, redacted.
        url: String,
    },

    /// Plain `http://` while it is not allowed.
    #[error("refusing plain http:// for {0}")]
    InsecureHttp(String),

    /// A path, pack or version that does not exist.
    #[error("{0}")]
    NotFound(String),

    /// No index has the pack at a version the requirement accepts.
    #[error("{detail}")]
    PackNotFound {
        /// The pack asked for.
        pack_ref: PackRef,
        /// The requirement, the indices searched and the versions that exist.
        detail: String,
        /// Only pre-releases exist, and a release was asked for.
        only_prereleases: bool,
    },

    /// A pack that is not installed.
    #[error("pack `{0}` is not installed")]
    NotInstalled(PackRef),

    /// No pack.yaml where one was looked for.
    #[error("no pack.yaml found in {origin}; searched:\n{}{}", searched.iter().map(|p| format!("  {}", p.display())).collect::<Vec<_>>().join("\n"), match deeper.is_empty() { true => String::new(), false => format!("\n  deeper in it: {}", deeper.join(", ")) })]
    PackYamlMissing {
        /// The source, as shown.
        origin: String,
        /// Every path searched, relative to the source.
        searched: Vec<PathBuf>,
        /// Directories deeper in the source that hold a pack.yaml (a repository of many
        /// packs), relative to it: each one `--subdir` can name.
        deeper: Vec<String>,
    },

    /// pack.yaml in more than one of the places looked at: which pack is meant is not said.
    #[error("{origin}: ambiguous pack location: pack.yaml found in {}; a source must hold one pack", found.iter().map(|f| format!("`{f}/`")).collect::<Vec<_>>().join(" and "))]
    AmbiguousPackLocation {
        /// The source, as shown.
        origin: String,
        /// The directories holding one, relative to the source.
        found: Vec<String>,
    },

    /// The pack is installed already (and replacing it was not asked for).
    #[error("pack `{pack_ref}` {version} is already installed at {path}")]
    AlreadyInstalled {
        /// The pack.
        pack_ref: PackRef,
        /// The installed version.
        version: String,
        /// Where it is.
        path: PathBuf,
    },

    /// The pack needs packs (or an Attune version) that are not installed as required.
    #[error("pack `{pack}` {version} has unmet dependencies:\n  - {}", problems.join("\n  - "))]
    DependencyUnmet {
        /// The pack that needs them.
        pack: PackRef,
        /// Its version.
        version: String,
        /// Each unmet requirement, as a sentence.
        problems: Vec<String>,
    },

    /// A dependency is installed at a version the pack does not accept, and replacing it
    /// was not asked for.
    #[error("pack `{pack}` {version} needs `{dependency}`, but {installed} is installed and other packs may rely on it")]
    DependencyNotReplaced {
        /// The pack that needs it.
        pack: PackRef,
        /// Its version.
        version: String,
        /// The requirement (`ref@req`).
        dependency: String,
        /// What is installed (`ref version`).
        installed: String,
    },

    /// Installed packs depend on the pack to remove.
    #[error("cannot uninstall `{pack_ref}`: installed packs depend on it: {}", dependents.join(", "))]
    DependentsExist {
        /// The pack to remove.
        pack_ref: PackRef,
        /// The packs that need it (`ref version`).
        dependents: Vec<String>,
    },

    /// The pack's own tests failed (or could not run).
    #[error("pack tests failed: {0}")]
    TestsFailed(String),

    /// The pack's Python environment could not be built (the interpreter's venv, or pip
    /// installing its `requirements.txt`); the message ends with what pip said last.
    #[error("the Python environment of pack `{pack_ref}` could not be built: {why}")]
    EnvFailed {
        /// The pack.
        pack_ref: PackRef,
        /// What failed, and the end of its output.
        why: String,
    },

    /// Another command holds the store lock.
    #[error("could not lock the pack store {path} within {secs} s: another attune-pack command holds it")]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// How long was waited.
        secs: u64,
    },

    /// A rollback of a pack that has no kept version.
    #[error("pack `{pack_ref}` has no kept version to roll back to{}", if *.keep_versions == 0 { " (keep_versions is 0: replaced versions are not kept)" } else { "" })]
    NothingToRollBack {
        /// The pack.
        pack_ref: PackRef,
        /// The configured `keep_versions`.
        keep_versions: usize,
    },

    /// An update or a rollback would leave installed packs with a dependency they no longer
    /// meet.
    #[error("changing `{pack_ref}` from {from} to {to} would break installed packs that depend on it: {}", dependents.join("; "))]
    BreaksDependents {
        /// The pack to change.
        pack_ref: PackRef,
        /// Its active version.
        from: String,
        /// The version it would change to.
        to: String,
        /// Each dependent and what it requires (`` `ref` version requires `dep@req` ``).
        dependents: Vec<String>,
    },

    /// What was fetched for a lockfile entry is not what the lockfile records.
    #[error("{pack_ref}: the lockfile records {what} {locked}, but the source gave {found}")]
    LockMismatch {
        /// The pack.
        pack_ref: PackRef,
        /// What differs (`version`, `commit`, `content checksum`, `archive checksum`).
        what: &'static str,
        /// What the lockfile says.
        locked: String,
        /// What was found.
        found: String,
    },

    /// Installed packs whose files are no longer what their receipts record (`verify`).
    #[error("{}", mismatched(.packs))]
    VerifyMismatch {
        /// The packs that differ, sorted.
        packs: Vec<PackRef>,
    },

    /// Two things that must agree do not (conflicting index entries of one version).
    #[error("{0}")]
    Conflict(String),

    /// An embedding program's hook refused the install.
    #[error("vetoed by hook: {0}")]
    HookVeto(String),

    /// pack.yaml is unreadable or invalid, or the pack's location is ambiguous.
    #[error("invalid pack: {0}")]
    InvalidPack(String),

    /// The pack.yaml found is not the pack an index entry promised.
    #[error("invalid pack: pack.yaml says {found}, but {from} promises {promised}")]
    IdentityMismatch {
        /// What pack.yaml says: `` `ref` version ``.
        found: String,
        /// What was promised: `` `ref` version ``.
        promised: String,
        /// Where the promise comes from (index and entry).
        from: String,
    },

    /// Stopped by a signal (or an embedding program's [`crate::Interrupt`]): staging was
    /// removed and the store is unchanged.
    #[error("interrupted by {}", signal_name(*signal))]
    Interrupted {
        /// The signal's number (2 for SIGINT, 15 for SIGTERM, 1 for SIGHUP).
        signal: i32,
    },
}

/// What a checksum covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// The archive's bytes.
    Archive,
    /// The content checksum of the pack (git and directory sources).
    Content,
    /// An index checksum, tried as the archive's, the content checksum and Attune's directory
    /// checksum (an index Attune's CLI may have written); `actual` is the first of them.
    AnyForm,
    /// An index checksum of a git or directory source, tried as the content checksum and as
    /// Attune's directory checksum; `actual` is the content checksum.
    ContentOrAttune,
}

impl Error {
    /// The `error.code` of the reference's table.
    pub fn code(&self) -> &'static str {
        use Error::*;
        match self {
            Usage(_)
            | RegistryRefused { .. }
            | NoRegistry { .. }
            | NoPacksDir
            | UnknownIndex { .. } => "usage",
            Network { .. } | Offline { .. } => "network",
            Io { .. } => "io",
            Git { .. } | CommitNotFound { .. } => "git",
            ArchiveCorrupt { .. } | NotAnArchive { .. } => "archive_corrupt",
            NeitherArchiveNorGit { archive, .. } => archive.code(),
            IndexUnavailable(_) => "index_unavailable",
            Internal(_) => "internal",
            ChecksumMismatch { .. } | BundleTampered { .. } => "checksum_mismatch",
            SignatureInvalid { .. } => "signature_invalid",
            ChecksumMissing(_) => "checksum_missing",
            DigestMismatch { .. } => "digest_mismatch",
            Oci { .. } => "network",
            UnsafeArchive { .. } => "unsafe_archive",
            HostNotAllowed { .. }
            | LocalSourceFromRemoteIndex { .. }
            | LocalDependencyOfRemotePack { .. } => "host_not_allowed",
            InsecureHttp(_) => "insecure_http",
            AddressNotAllowed { .. } => "address_not_allowed",
            CredentialsInIndexUrl { .. } => "credentials_in_url",
            NotFound(_) | NotInstalled(_) | PackNotFound { .. } | NothingToRollBack { .. } => {
                "not_found"
            }
            LockMismatch { .. } => "lock_mismatch",
            VerifyMismatch { .. } => "verify_mismatch",
            PackYamlMissing { .. } => "pack_yaml_missing",
            AlreadyInstalled { .. } => "already_installed",
            DependencyUnmet { .. } | DependencyNotReplaced { .. } | BreaksDependents { .. } => {
                "dependency_unmet"
            }
            DependentsExist { .. } => "dependents_exist",
            TestsFailed(_) => "tests_failed",
            EnvFailed { .. } => "env_failed",
            Locked { .. } => "locked",
            Conflict(_) => "conflict",
            HookVeto(_) => "hook_veto",
            InvalidPack(_) | IdentityMismatch { .. } | AmbiguousPackLocation { .. } => {
                "invalid_pack"
            }
            Interrupted { .. } => "interrupted",
        }
    }

    /// The family of the failure, which decides the exit code.
    pub fn category(&self) -> Category {
        use Error::*;
        match self {
            Usage(_)
            | RegistryRefused { .. }
            | NoRegistry { .. }
            | NoPacksDir
            | UnknownIndex { .. } => Category::Usage,
            ChecksumMismatch { .. }
            | SignatureInvalid { .. }
            | BundleTampered { .. }
            | ChecksumMissing(_)
            | DigestMismatch { .. }
            | UnsafeArchive { .. }
            | HostNotAllowed { .. }
            | LocalSourceFromRemoteIndex { .. }
            | LocalDependencyOfRemotePack { .. }
            | InsecureHttp(_)
            | AddressNotAllowed { .. }
            | CredentialsInIndexUrl { .. }
            | LockMismatch { .. }
            | VerifyMismatch { .. } => Category::Security,
            NotFound(_)
            | NotInstalled(_)
            | PackNotFound { .. }
            | PackYamlMissing { .. }
            | NothingToRollBack { .. } => Category::NotFound,
            AlreadyInstalled { .. }
            | DependencyUnmet { .. }
            | DependencyNotReplaced { .. }
            | BreaksDependents { .. }
            | DependentsExist { .. }
            | TestsFailed(_)
            | EnvFailed { .. }
            | Locked { .. }
            | Conflict(_)
            | HookVeto(_) => Category::Conflict,
            InvalidPack(_) | IdentityMismatch { .. } | AmbiguousPackLocation { .. } => {
                Category::InvalidPack
            }
            Interrupted { .. } => Category::Interrupted,
            NeitherArchiveNorGit { archive, .. } => archive.category(),
            Network { .. }
            | Oci { .. }
            | Offline { .. }
            | Io { .. }
            | Git { .. }
            | CommitNotFound { .. }
            | ArchiveCorrupt { .. }
            | NotAnArchive { .. }
            | IndexUnavailable(_)
            | Internal(_) => Category::Runtime,
        }
    }

    /// The process exit code of the reference's table: the one mapping from kinds to codes.
    pub fn exit_code(&self) -> i32 {
        match self.category() {
            Category::Runtime => 1,
            Category::Usage => 2,
            Category::Security => 3,
            Category::NotFound => 4,
            Category::Conflict => 5,
            Category::InvalidPack => 6,
            Category::Interrupted => match self {
                Error::Interrupted { signal } => 128 + signal,
                _ => 130,
            },
        }
    }

    /// A source could not be fetched (network, transport, a missing or broken file): another
    /// source of the same pack is worth trying. Refusals and interrupts are not.
    pub fn is_fetch_failure(&self) -> bool {
        matches!(self.category(), Category::Runtime | Category::NotFound)
    }

    /// A policy or integrity refusal (exit 3): a configuration to fix or an attack to stop,
    /// never an outage to route around.
    pub fn is_refusal(&self) -> bool {
        self.category() == Category::Security
    }

    /// The download limit (`limits.max_download_bytes`) stopped it.
    pub fn is_download_limit(&self) -> bool {
        matches!(
            self,
            Error::UnsafeArchive {
                rule: Rule::DownloadTooLarge(_),
                ..
            }
        )
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// The family of a failure (`error.category` in JSON): what a program deciding whether to
/// retry, alert or ask needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// Exit 1: network, I/O, git, a corrupt archive, no index, internal.
    Runtime,
    /// Exit 2: the request is wrong.
    Usage,
    /// Exit 3: a checksum, a path-safety rule or a network policy refused it.
    Security,
    /// Exit 4: a path, pack or version does not exist.
    NotFound,
    /// Exit 5: it conflicts with the store's state (installed, dependencies, tests, lock).
    Conflict,
    /// Exit 6: the pack itself is invalid.
    InvalidPack,
    /// Exit 128 + signal.
    Interrupted,
}

impl Category {
    /// The name used in JSON documents.
    pub fn name(self) -> &'static str {
        match self {
            Category::Runtime => "runtime",
            Category::Usage => "usage",
            Category::Security => "security",
            Category::NotFound => "not_found",
            Category::Conflict => "conflict",
            Category::InvalidPack => "invalid_pack",
            Category::Interrupted => "interrupted",
        }
    }
}

impl From<InvalidRef> for Error {
    fn from(e: InvalidRef) -> Self {
        Error::Usage(e.to_string())
    }
}

impl From<ParseChecksumError> for Error {
    fn from(e: ParseChecksumError) -> Self {
        Error::Usage(e.to_string())
    }
}

fn ambiguity(candidates: &[String]) -> String {
    if candidates.is_empty() {
        String::new()
    } else {
        format!(
            ": the abbreviation is ambiguous ({})",
            candidates.join(", ")
        )
    }
}

fn mismatched(packs: &[PackRef]) -> String {
    let names: Vec<String> = packs.iter().map(|p| format!("`{p}`")).collect();
    match names.len() {
        1 => format!("{} differs from its receipt", names[0]),
        _ => format!("{} differ from their receipts", names.join(", ")),
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
