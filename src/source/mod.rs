//! Where a pack comes from. [`PackSource::detect`] reads an install argument by the reference's
//! ordered rules; each source kind has a module that only materializes it into staging.

pub mod archive;
mod decompress;
mod extract;
pub mod git;
pub mod http_archive;
pub mod local_dir;
pub mod oci;
pub mod oci_layout;
mod pipe;
pub mod unzip;
mod writers;

use std::fmt;
use std::path::{Path, PathBuf};

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::error::{Error, IoContext, Result};
use crate::fs::fsutil::Durability;
use crate::model::checksum::{Algorithm, Checksum};
use crate::model::pack_ref::{PackRef, REF_RULE};
use crate::model::receipt::{ReceiptSource, SourceKind};
use crate::safety::{Tree, TreeWriter};
use crate::util::redact::redact_url;

/// A source materialized into staging: the tree written, the checksums of the archive's
/// bytes (archive sources), and what the receipt records of where it came from.
pub(crate) struct Fetched {
    pub tree: Tree,
    pub archive: Vec<Checksum>,
    pub record: ReceiptSource,
    /// What an archive URL's server said identifies what it served.
    pub validators: Validators,
}

/// An archive URL's `ETag` and `Last-Modified`, kept so that `outdated --check-sources` can
/// ask whether it changed without downloading it again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// The store's private record of where a build came from: the source as given, unredacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Remembered {
    pub source: PackSource,
    #[serde(default)]
    pub validators: Validators,
}

/// A local source's path, made absolute, and the receipt's record of it.
fn local_record(path: &Path, kind: SourceKind) -> Result<(PathBuf, ReceiptSource)> {
    let path = std::path::absolute(path).ctx(|| format!("resolving {}", path.display()))?;
    let record = ReceiptSource {
        kind: Some(kind),
        path: Some(path.display().to_string()),
        ..Default::default()
    };
    Ok((path, record))
}

/// Materializes `source` (any kind but a registry reference, which the registry resolves
/// into these first) into `tree_root`, an empty directory inside `staging`; archives are
/// hashed with `algorithms` as they are read, and with `keep` their bytes are also written
/// to that file (what was hashed is what is kept).
pub(crate) async fn fetch(
    ctx: &Context,
    source: &PackSource,
    tree_root: &Path,
    staging: &Path,
    algorithms: &[Algorithm],
    keep: Option<&Path>,
) -> Result<Fetched> {
    let writer = || {
        TreeWriter::new(
            tree_root,
            source.display_name(),
            ctx.config().limits,
            ctx.interrupt().clone(),
            Durability::from_config(ctx.config().sync),
        )
    };
    match source {
        PackSource::LocalDirectory { path } => local_dir::materialize(ctx, path, writer()).await,
        PackSource::LocalArchive { path } => {
            archive::materialize(ctx, path, writer(), algorithms, keep).await
        }
        PackSource::Archive { url } => {
            use http_archive::Downloaded;
            let fetched = http_archive::materialize(ctx, url, writer(), staging, algorithms, keep);
            match fetched.await? {
                Downloaded::Archive(fetched) => Ok(*fetched),
                Downloaded::NotAnArchive(why) => {
                    http_archive::as_git_repository(ctx, url, why, writer(), staging).await
                }
            }
        }
        PackSource::Git { url, git_ref } => {
            git::materialize(ctx, url, git_ref.as_deref(), writer(), staging).await
        }
        PackSource::Oci { reference } => {
            oci::materialize(ctx, reference, writer(), staging, algorithms).await
        }
        PackSource::OciLayout { path, name } => {
            oci_layout::materialize(ctx, path, name.as_deref(), writer(), algorithms).await
        }
        PackSource::Registry { .. } => Err(Error::Internal(
            "a registry reference is resolved before it is fetched".into(),
        )),
    }
}

/// What a version part of a registry reference asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionSpec {
    /// No version or `@latest`: the highest release.
    Latest,
    /// `@1.2.3`: exactly that version.
    Exact(Version),
    /// `@1.2`, `@^1`, `@~1.2`, `@>=1,<2`.
    Req(VersionReq),
}

impl VersionSpec {
    /// Reads the version part of `name@…` (`latest`, `1.2.3`, or a requirement).
    pub fn parse(s: &str) -> std::result::Result<VersionSpec, String> {
        if s.is_empty() || s == "latest" {
            return Ok(VersionSpec::Latest);
        }
        // `=1.2.3` (what a receipt records for `@1.2.3`) is the same as `1.2.3`, and a
        // leading `v` (`v2.3.0`, a tag's spelling) is ignored, as in pack.yaml.
        let exact = s.strip_prefix('=').unwrap_or(s);
        if let Ok(v) = Version::parse(without_v(exact)) {
            return Ok(VersionSpec::Exact(v));
        }
        let s = without_v(s);
        VersionReq::parse(s)
            .map(VersionSpec::Req)
            .map_err(|e| format!("`{s}` is neither a version nor a version requirement: {e}"))
    }

    /// A dependency's requirement (`*`: the latest release).
    pub fn from_req(req: &VersionReq) -> VersionSpec {
        if *req == VersionReq::STAR {
            VersionSpec::Latest
        } else {
            VersionSpec::Req(req.clone())
        }
    }

    /// The requirement as a receipt records it: `=1.2.3`, `^2`; none for the latest.
    pub fn requirement(&self) -> Option<String> {
        match self {
            VersionSpec::Latest => None,
            other => Some(other.to_string()),
        }
    }

    /// Whether `v` is a version this asks for.
    pub fn matches(&self, v: &Version) -> bool {
        match self {
            VersionSpec::Latest => v.pre.is_empty(),
            VersionSpec::Exact(want) => v == want,
            VersionSpec::Req(req) => req.matches(v),
        }
    }
}

/// `v2.3.0` → `2.3.0` (a `v` before a digit only).
fn without_v(s: &str) -> &str {
    match s.strip_prefix(['v', 'V']) {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
        _ => s,
    }
}

impl Serialize for VersionSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for VersionSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        VersionSpec::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for VersionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionSpec::Latest => f.write_str("latest"),
            VersionSpec::Exact(v) => write!(f, "={v}"),
            VersionSpec::Req(r) => write!(f, "{r}"),
        }
    }
}

/// A pack source, as detected from an install argument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PackSource {
    /// A git repository (https, ssh, git://, file:// or a local repository path).
    Git {
        /// The repository.
        url: String,
        /// The branch, tag or (abbreviated) commit; the default branch when none.
        git_ref: Option<String>,
    },
    /// An archive URL (.zip, .tar, .tar.gz, .tar.xz, .tar.zst, .tar.bz2 and their short
    /// spellings, or any URL serving one).
    Archive {
        /// Where it is.
        url: String,
    },
    /// A directory on this host.
    LocalDirectory {
        /// Its path.
        path: PathBuf,
    },
    /// An archive file on this host (its format read from its first bytes).
    LocalArchive {
        /// Its path.
        path: PathBuf,
    },
    /// An OCI artifact in a registry (`oci://HOST/REPO[:TAG][@DIGEST]`, `…@REQ`).
    Oci {
        /// The reference as given.
        reference: String,
    },
    /// An OCI image layout directory on this host (`oci-layout:DIR[:NAME]`).
    OciLayout {
        /// The layout's directory.
        path: PathBuf,
        /// The manifest's name (`REF_TAG`); none when the layout holds one.
        name: Option<String>,
    },
    /// A pack in the configured registry indices.
    Registry {
        /// The pack.
        pack_ref: PackRef,
        /// The versions wanted.
        version: VersionSpec,
        /// Only this index (`index/name`, `--registry`).
        index: Option<String>,
    },
}

impl PackSource {
    /// The kind's name as the reference prints it.
    pub fn kind_name(&self) -> &'static str {
        match self {
            PackSource::Git { .. } => "git repository",
            PackSource::Archive { .. } => "archive URL",
            PackSource::LocalDirectory { .. } => "local directory",
            PackSource::LocalArchive { .. } => "local archive",
            PackSource::Oci { .. } => "OCI artifact",
            PackSource::OciLayout { .. } => "OCI image layout",
            PackSource::Registry { .. } => "registry reference",
        }
    }

    /// The pack a registry reference names (other sources say which pack they hold only once
    /// fetched).
    pub fn pack_ref(&self) -> Option<&PackRef> {
        match self {
            PackSource::Registry { pack_ref, .. } => Some(pack_ref),
            _ => None,
        }
    }

    /// The source as it may be shown: URLs with credentials and query strings redacted.
    pub fn display_name(&self) -> String {
        match self {
            PackSource::Git {
                url,
                git_ref: Some(r),
            } => format!("{} (ref {r})", redact_url(url)),
            PackSource::Git { url, .. } | PackSource::Archive { url } => redact_url(url),
            PackSource::LocalDirectory { path } | PackSource::LocalArchive { path } => {
                path.display().to_string()
            }
            PackSource::Oci { reference } => redact_url(reference),
            PackSource::OciLayout { path, name } => match name {
                Some(n) => format!("oci-layout:{}:{n}", path.display()),
                None => format!("oci-layout:{}", path.display()),
            },
            PackSource::Registry {
                pack_ref,
                version: VersionSpec::Latest,
                index,
            } => {
                format!(
                    "{}{pack_ref}",
                    index.as_ref().map(|i| format!("{i}/")).unwrap_or_default()
                )
            }
            PackSource::Registry {
                pack_ref,
                version,
                index,
            } => format!(
                "{}{pack_ref}@{}",
                index.as_ref().map(|i| format!("{i}/")).unwrap_or_default(),
                match version {
                    VersionSpec::Exact(v) => v.to_string(),
                    other => other.to_string(),
                }
            ),
        }
    }

    /// Reads an install argument by the source detection rules (docs/reference.md), looking at
    /// the real file system for paths.
    ///
    /// ```
    /// use attune_pack::{DetectOptions, PackSource, VersionSpec};
    /// let opts = DetectOptions::new();
    /// let source = PackSource::detect("slack@^2", &opts)?;
    /// assert!(matches!(source, PackSource::Registry { version: VersionSpec::Req(_), .. }));
    /// let source = PackSource::detect("https://example.com/slack-2.1.0.tar.gz", &opts)?;
    /// assert!(matches!(source, PackSource::Archive { .. }));
    /// let source = PackSource::detect("git@github.com:org/slack.git", &opts)?;
    /// assert!(matches!(source, PackSource::Git { .. }));
    /// # Ok::<(), attune_pack::Error>(())
    /// ```
    pub fn detect(input: &str, opts: &DetectOptions) -> Result<PackSource> {
        detect_with(input, opts, &RealFs)
    }
}

/// Flags that change how an argument is read, set with builder methods.
///
/// ```
/// use attune_pack::{DetectOptions, PackSource};
/// let opts = DetectOptions::new().git_ref("v1.2.0");
/// let source = PackSource::detect("https://example.com/org/pack", &opts)?;
/// assert!(matches!(source, PackSource::Git { .. }));
/// # Ok::<(), attune_pack::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct DetectOptions {
    git_ref: Option<String>,
    registry: Option<String>,
    refuse_registry: bool,
}

impl DetectOptions {
    /// The rules as they are.
    pub fn new() -> Self {
        Self::default()
    }

    /// A git ref (branch, tag or commit): makes an http(s) URL a git repository (`--ref`).
    pub fn git_ref(mut self, git_ref: impl Into<String>) -> Self {
        self.git_ref = Some(git_ref.into());
        self
    }

    /// Pins registry references to the index of this name (`--registry`).
    pub fn registry(mut self, name: impl Into<String>) -> Self {
        self.registry = Some(name.into());
        self
    }

    /// A registry reference is an error ([`Error::RegistryRefused`]; `--no-registry`).
    pub fn refuse_registry(mut self) -> Self {
        self.refuse_registry = true;
        self
    }
}

/// What detection needs to know about local paths; a trait so the rules are testable
/// without touching the disk.
pub trait PathProbe {
    fn is_file(&self, path: &Path) -> bool;
    fn is_dir(&self, path: &Path) -> bool;
    /// A git repository: a work tree with `.git`, or a bare repository.
    fn is_git_repo(&self, path: &Path) -> bool;
    /// A git work tree (it has `.git`); a repository that is not one is bare.
    fn is_work_tree(&self, path: &Path) -> bool;
}

struct RealFs;

impl PathProbe for RealFs {
    fn is_file(&self, path: &Path) -> bool {
        path.is_file()
    }
    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }
    fn is_git_repo(&self, path: &Path) -> bool {
        self.is_work_tree(path) || (path.join("HEAD").is_file() && path.join("objects").is_dir())
    }
    fn is_work_tree(&self, path: &Path) -> bool {
        path.join(".git").exists()
    }
}

fn strip_query_fragment(s: &str) -> &str {
    let end = s.find(['?', '#']).unwrap_or(s.len());
    &s[..end]
}

/// An `http://` or `https://` URL (any case).
pub(crate) fn is_http(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// `git@host:path` (scp-like ssh syntax).
fn is_scp_like(s: &str) -> bool {
    s.strip_prefix("git@")
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(host, _)| !host.is_empty() && !host.contains('/'))
}

/// A `#REF` fragment on a git URL names the ref, as pip and cargo read it.
fn split_fragment(s: &str, git_ref: Option<String>) -> (String, Option<String>) {
    match s.split_once('#') {
        Some((url, frag)) if !frag.is_empty() => {
            (url.to_owned(), git_ref.or(Some(frag.to_owned())))
        }
        _ => (s.to_owned(), git_ref),
    }
}

/// The path part of a URL (without scheme, authority, query and fragment), or a plain file
/// name as it is.
pub(crate) fn url_path_or_name(url: &str) -> &str {
    match url.split_once("://") {
        Some((_, rest)) => strip_query_fragment(rest.find('/').map(|i| &rest[i..]).unwrap_or("")),
        None => url,
    }
}

/// Detection against any [`PathProbe`] (see [`PackSource::detect`]).
pub fn detect_with(input: &str, opts: &DetectOptions, fs: &dyn PathProbe) -> Result<PackSource> {
    let source = detect_kind(input, opts, fs)?;
    match (&opts.git_ref, &source) {
        // A ref that would be silently ignored installs other files than the ones asked for.
        (Some(r), source) if !matches!(source, PackSource::Git { .. }) => {
            Err(Error::Usage(format!(
                "--ref {r}: `{}` is a {}, which has no refs; --ref applies to git repositories (a URL, a bare repository or a work tree)",
                input.trim(),
                source.kind_name()
            )))
        }
        _ => Ok(source),
    }
}

fn detect_kind(input: &str, opts: &DetectOptions, fs: &dyn PathProbe) -> Result<PackSource> {
    let s = input.trim();
    if s.is_empty() {
        return Err(Error::Usage("empty pack source".into()));
    }
    let lower = s.to_ascii_lowercase();

    // Rule 0: an OCI artifact.
    if lower.starts_with("oci://") {
        let reference = oci::OciReference::parse(s)?;
        return Ok(PackSource::Oci {
            reference: reference.to_string(),
        });
    }
    if let Some(spec) = s.strip_prefix("oci-layout:") {
        let (path, name) = oci_layout::split_layout(spec);
        return Ok(PackSource::OciLayout { path, name });
    }
    // Rule 1: unmistakably git.
    if is_scp_like(s)
        || lower.starts_with("ssh://")
        || lower.starts_with("git://")
        || strip_query_fragment(&lower).ends_with(".git")
    {
        let (url, git_ref) = split_fragment(s, opts.git_ref.clone());
        return Ok(PackSource::Git { url, git_ref });
    }
    // Rule 2: a web URL with --ref.
    if is_http(s) && opts.git_ref.is_some() {
        let (url, git_ref) = split_fragment(s, opts.git_ref.clone());
        return Ok(PackSource::Git { url, git_ref });
    }
    // Rule 3: file:// names a git repository, or else a local file or directory.
    if lower.starts_with("file://") {
        let path = PathBuf::from(strip_query_fragment(&s[7..]));
        if fs.is_dir(&path) && fs.is_git_repo(&path) {
            let (url, git_ref) = split_fragment(s, opts.git_ref.clone());
            return Ok(PackSource::Git { url, git_ref });
        }
        return local(&path, opts, fs).ok_or_else(|| {
            Error::NotFound(format!(
                "{s}: no such file or directory `{}`",
                path.display()
            ))
        });
    }
    // Rules 4 and 5: web archives (rule 5 sniffs the first bytes, and tries git after).
    if is_http(s) {
        return Ok(PackSource::Archive { url: s.to_owned() });
    }
    // Rule 6: a path that says it is one (`./`, `../`, `/`, `~`) is never a registry name;
    // any other local path wins over a registry name of the same spelling.
    if let Some(path) = explicit_path(s) {
        return local(&path, opts, fs).ok_or_else(|| {
            Error::NotFound(format!("no such file or directory: {}", path.display()))
        });
    }
    if let Some(src) = local(Path::new(s), opts, fs) {
        return Ok(src);
    }
    // Rule 7: a registry reference.
    if let Some(src) = registry_ref(s, opts.registry.as_deref())? {
        if opts.refuse_registry {
            return Err(Error::RegistryRefused {
                input: s.to_owned(),
            });
        }
        return Ok(src);
    }
    let looks_like_path = s.contains('/') || s.starts_with('.') || s.starts_with('~');
    Err(Error::Usage(format!(
        "cannot read `{s}` as a pack source; tried:\n  - git URL (git@host:path, ssh://, git://, …/x.git): no\n  - http(s) archive or git URL: no\n  - local file or directory: {}\n  - registry reference (name, name@version, index/name): {}",
        if looks_like_path { "no such file or directory" } else { "does not exist" },
        "not a valid pack name (".to_owned() + REF_RULE + ")"
    )))
}

/// The path an argument names when it can only be a path: `.`, `..`, `./…`, `../…`, `/…`,
/// or `~…` (`~` and `~/…` are the home directory, for an argument the shell did not expand).
fn explicit_path(s: &str) -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    if let (Some(rest), Some(home)) = (s.strip_prefix('~'), home) {
        if rest.is_empty() || rest.starts_with('/') {
            return Some(home.join(rest.trim_start_matches('/')));
        }
    }
    let explicit = matches!(s, "." | "..")
        || ["./", "../", "/", "~"]
            .iter()
            .any(|prefix| s.starts_with(prefix));
    explicit.then(|| PathBuf::from(s))
}

/// A local path: a bare repository is read as git, and so is a work tree given a ref (its
/// files as they are on disk are what a directory install takes).
fn local(path: &Path, opts: &DetectOptions, fs: &dyn PathProbe) -> Option<PackSource> {
    let git = fs.is_dir(path)
        && fs.is_git_repo(path)
        && (opts.git_ref.is_some() || !fs.is_work_tree(path));
    if git {
        Some(PackSource::Git {
            url: path.display().to_string(),
            git_ref: opts.git_ref.clone(),
        })
    } else if fs.is_file(path) {
        Some(PackSource::LocalArchive {
            path: path.to_owned(),
        })
    } else if fs.is_dir(path) {
        Some(PackSource::LocalDirectory {
            path: path.to_owned(),
        })
    } else {
        None
    }
}

/// `name`, `name@version`, `name=version` (StackStorm's spelling), `index/name@…`; `None`
/// when the text is not of that form.
fn registry_ref(s: &str, pinned: Option<&str>) -> Result<Option<PackSource>> {
    let (path, version) = match s.split_once('@').or_else(|| s.split_once('=')) {
        Some((p, v)) => (p, Some(v)),
        None => (s, None),
    };
    let (index, name) = match path.split_once('/') {
        Some((i, n)) if !i.is_empty() && !n.contains('/') => (Some(i.to_owned()), n),
        Some(_) => return Ok(None),
        None => (None, path),
    };
    let Some(pack_ref) = PackRef::new(name) else {
        return Ok(None);
    };
    if let (Some(i), Some(p)) = (&index, pinned) {
        if i != p {
            return Err(Error::Usage(format!(
                "`{s}` names index `{i}`, but the index asked for is `{p}`"
            )));
        }
    }
    let version = match version {
        None => VersionSpec::Latest,
        Some(v) => VersionSpec::parse(v).map_err(|why| Error::Usage(format!("`{s}`: {why}")))?,
    };
    Ok(Some(PackSource::Registry {
        pack_ref,
        version,
        index: index.or_else(|| pinned.map(str::to_owned)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[derive(Default)]
    struct FakeFs {
        files: HashSet<PathBuf>,
        dirs: HashSet<PathBuf>,
        repos: HashSet<PathBuf>,
        work_trees: HashSet<PathBuf>,
    }

    impl PathProbe for FakeFs {
        fn is_file(&self, p: &Path) -> bool {
            self.files.contains(p)
        }
        fn is_dir(&self, p: &Path) -> bool {
            self.dirs.contains(p) || self.repos.contains(p) || self.work_trees.contains(p)
        }
        fn is_git_repo(&self, p: &Path) -> bool {
            self.repos.contains(p) || self.work_trees.contains(p)
        }
        fn is_work_tree(&self, p: &Path) -> bool {
            self.work_trees.contains(p)
        }
    }

    fn fs() -> FakeFs {
        let mut f = FakeFs::default();
        f.files.insert("pack.tgz".into());
        f.files.insert("slack".into());
        f.dirs.insert("/srv/packs/hello".into());
        f.dirs.insert("/srv/plain".into());
        f.repos.insert("/srv/repo".into());
        f.work_trees.insert("/srv/checkout".into());
        f
    }

    fn detect(s: &str) -> Result<PackSource> {
        detect_with(s, &DetectOptions::default(), &fs())
    }

    #[test]
    fn paths_that_say_so_are_never_registry_names() {
        for arg in [
            "./nope",
            "../nope",
            "/no/such/pack",
            ".",
            "..",
            "~nobody/pack",
        ] {
            match detect(arg) {
                // `.` and `..` exist: they are directories, never names.
                Ok(PackSource::LocalDirectory { .. }) => {}
                Err(e @ Error::NotFound(_)) => assert!(e.to_string().contains(arg), "{e}"),
                other => panic!("{arg}: {other:?}"),
            }
        }
    }

    #[test]
    fn stackstorm_and_tag_spellings_of_versions() {
        let exact = |s: &str| VersionSpec::Exact(s.parse().unwrap());
        for (arg, version) in [
            ("slack=2.3.0", exact("2.3.0")),
            ("slack@v2.3.0", exact("2.3.0")),
            ("slack=v2.3.0", exact("2.3.0")),
            ("slack@=2.3.0", exact("2.3.0")),
            ("slack@v2", VersionSpec::Req("2".parse().unwrap())),
        ] {
            match detect(arg).unwrap() {
                PackSource::Registry { version: v, .. } => assert_eq!(v, version, "{arg}"),
                other => panic!("{arg}: {other:?}"),
            }
        }
    }

    fn git(url: &str, r: Option<&str>) -> PackSource {
        PackSource::Git {
            url: url.into(),
            git_ref: r.map(Into::into),
        }
    }

    #[test]
    fn rule1_git_syntaxes() {
        assert_eq!(
            detect("git@github.com:org/pack.git").unwrap(),
            git("git@github.com:org/pack.git", None)
        );
        assert_eq!(
            detect("git@host:org/pack").unwrap(),
            git("git@host:org/pack", None)
        );
        assert_eq!(
            detect("ssh://git@host/x").unwrap(),
            git("ssh://git@host/x", None)
        );
        assert_eq!(detect("git://host/x").unwrap(), git("git://host/x", None));
        assert_eq!(
            detect("https://h/x.git").unwrap(),
            git("https://h/x.git", None)
        );
        assert_eq!(
            detect("https://h/x.git?foo=1").unwrap(),
            git("https://h/x.git?foo=1", None)
        );
        assert_eq!(
            detect("https://h/x.git#v1.2").unwrap(),
            git("https://h/x.git", Some("v1.2"))
        );
        // .git wins over rule 6 (a local bare repository named x.git).
        assert_eq!(detect("/srv/x.git").unwrap(), git("/srv/x.git", None));
    }

    #[test]
    fn rule2_http_with_ref_is_git() {
        let opts = DetectOptions::new().git_ref("main");
        assert_eq!(
            detect_with("https://h/pack.zip", &opts, &fs()).unwrap(),
            git("https://h/pack.zip", Some("main"))
        );
        // --ref wins over a #fragment.
        assert_eq!(
            detect_with("https://h/x.git#dev", &opts, &fs()).unwrap(),
            git("https://h/x.git", Some("main"))
        );
    }

    #[test]
    fn rule3_file_urls() {
        assert_eq!(
            detect("file:///srv/repo").unwrap(),
            git("file:///srv/repo", None)
        );
        assert_eq!(
            detect("file:///srv/packs/hello").unwrap(),
            PackSource::LocalDirectory {
                path: "/srv/packs/hello".into()
            }
        );
        assert_eq!(detect("file:///nope").unwrap_err().exit_code(), 4);
    }

    #[test]
    fn rules4_and_5_web_archives() {
        for url in [
            "https://h/p.zip",
            "https://h/p.tar.gz?sig=1",
            "http://h/p.tgz",
            "https://h/p.tar",
            "https://h/p.tar.xz",
            "https://h/p.tzst",
            "https://h/p.tbz2",
            "https://h/archive/main",
            "https://h/download?id=3",
        ] {
            assert_eq!(
                detect(url).unwrap(),
                PackSource::Archive { url: url.into() },
                "{url}"
            );
        }
    }

    #[test]
    fn rule6_local_paths_win_over_registry_names() {
        assert_eq!(
            detect("pack.tgz").unwrap(),
            PackSource::LocalArchive {
                path: "pack.tgz".into()
            }
        );
        assert_eq!(
            detect("slack").unwrap(),
            PackSource::LocalArchive {
                path: "slack".into()
            }
        );
        assert_eq!(
            detect("/srv/plain").unwrap(),
            PackSource::LocalDirectory {
                path: "/srv/plain".into()
            }
        );
        // A git work tree given as a path is read as a directory; a bare repository as git.
        assert_eq!(
            detect("/srv/checkout").unwrap(),
            PackSource::LocalDirectory {
                path: "/srv/checkout".into()
            }
        );
        assert_eq!(detect("/srv/repo").unwrap(), git("/srv/repo", None));
    }

    #[test]
    fn a_ref_is_never_ignored() {
        let opts = DetectOptions::new().git_ref("v2.2.1");
        let with_ref = |s: &str| detect_with(s, &opts, &fs());
        assert_eq!(
            with_ref("/srv/checkout").unwrap(),
            git("/srv/checkout", Some("v2.2.1"))
        );
        assert_eq!(
            with_ref("/srv/repo").unwrap(),
            git("/srv/repo", Some("v2.2.1"))
        );
        for no_refs in ["/srv/plain", "pack.tgz", "slack@1.0.0"] {
            let err = with_ref(no_refs).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{no_refs}: {err}");
            assert!(err.to_string().contains("has no refs"), "{err}");
        }
    }

    #[test]
    fn rule7_registry_references() {
        let reg = |r: &str, v: VersionSpec, i: Option<&str>| PackSource::Registry {
            pack_ref: PackRef::new(r).unwrap(),
            version: v,
            index: i.map(Into::into),
        };
        assert_eq!(
            detect("github").unwrap(),
            reg("github", VersionSpec::Latest, None)
        );
        assert_eq!(
            detect("github@latest").unwrap(),
            reg("github", VersionSpec::Latest, None)
        );
        assert_eq!(
            detect("github@2.1.0").unwrap(),
            reg("github", VersionSpec::Exact(Version::new(2, 1, 0)), None)
        );
        assert_eq!(
            detect("github@^2").unwrap(),
            reg("github", VersionSpec::Req("^2".parse().unwrap()), None)
        );
        assert_eq!(
            detect("github@1.2").unwrap(),
            reg("github", VersionSpec::Req("1.2".parse().unwrap()), None)
        );
        assert_eq!(
            detect("github@>=1,<2").unwrap(),
            reg("github", VersionSpec::Req(">=1,<2".parse().unwrap()), None)
        );
        assert_eq!(
            detect("main/github@~2.1").unwrap(),
            reg(
                "github",
                VersionSpec::Req("~2.1".parse().unwrap()),
                Some("main")
            )
        );
        let pinned = DetectOptions::new().registry("corp");
        assert_eq!(
            detect_with("github", &pinned, &fs()).unwrap(),
            reg("github", VersionSpec::Latest, Some("corp"))
        );
        assert_eq!(
            detect_with("main/github", &pinned, &fs())
                .unwrap_err()
                .exit_code(),
            2
        );
        assert_eq!(detect("github@banana").unwrap_err().exit_code(), 2);
        let no_reg = DetectOptions::new().refuse_registry();
        let e = detect_with("github", &no_reg, &fs()).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(matches!(e, Error::RegistryRefused { .. }), "{e:?}");
    }

    #[test]
    fn unrecognised_inputs_are_usage_errors_listing_what_was_tried() {
        for s in ["Not A Pack", "a/b/c", "UPPER", ""] {
            let e = detect(s).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{s}");
        }
        assert!(detect("Not A Pack")
            .unwrap_err()
            .to_string()
            .contains("registry reference"));
    }

    #[test]
    fn version_specs() {
        assert!(VersionSpec::Latest.matches(&Version::new(1, 0, 0)));
        assert!(!VersionSpec::Latest.matches(&"2.0.0-rc.1".parse().unwrap()));
        assert!(VersionSpec::Req("^2.0.0-rc.1".parse().unwrap())
            .matches(&"2.0.0-rc.1".parse().unwrap()));
    }
}
