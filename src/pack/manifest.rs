//! pack.yaml: Attune's and StackStorm's forms, read into one validated [`Manifest`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use semver::{Version, VersionReq};
use serde::Deserialize;
use serde_norway::Value;

use std::io::Read;

use crate::error::{Error, Result};
use crate::model::pack_ref::{PackRef, REF_RULE};
use crate::pack::python::PythonRequirement;
use crate::util::redact::redact_url;
use crate::util::yaml_depth;

/// A validated pack.yaml.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The pack's ref (the directory it is installed in).
    pub pack_ref: PackRef,
    /// Its version (StackStorm's `1.0` read as `1.0.0`).
    pub version: Version,
    /// `label`, else `name`, else the ref.
    pub label: String,
    /// What it is for.
    pub description: Option<String>,
    /// Who wrote it.
    pub author: Option<String>,
    /// Its author's email.
    pub email: Option<String>,
    /// `keywords`, or StackStorm's `tags`.
    pub keywords: Vec<String>,
    /// What it needs on the host (free text).
    pub runtime_deps: Vec<String>,
    /// The packs it needs.
    pub dependencies: Vec<Dependency>,
    /// The packs it needs from git repositories (StackStorm's `URL` or `URL=REF`).
    pub git_dependencies: Vec<GitDependency>,
    /// The Python it runs on: each requirement must be met (`python_versions`, `python`,
    /// `python_version`, as present).
    pub python: Vec<PythonRequirement>,
    /// The StackStorm versions it runs on (shown, never checked: Attune is not StackStorm).
    pub stackstorm_version: Option<String>,
    /// The Attune versions it runs on.
    pub attune_version: Option<VersionReq>,
    /// Its own tests.
    pub testing: Option<Testing>,
    /// Things worth telling the user that do not stop the install (e.g. `version: "1.0"`).
    pub warnings: Vec<String>,
}

/// A dependency on another pack: `ref@req`, or a bare `ref` for any version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// The pack needed.
    pub pack_ref: PackRef,
    /// The versions that will do (`*` for any).
    pub req: VersionReq,
}

impl fmt::Display for Dependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.req == VersionReq::STAR {
            f.write_str(&self.pack_ref)
        } else {
            write!(f, "{}@{}", self.pack_ref, self.req)
        }
    }
}

/// A dependency on the pack a git repository holds: `URL`, or `URL=REF` for a branch, tag or
/// commit (StackStorm's form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitDependency {
    /// The repository, as written.
    pub url: String,
    /// The branch, tag or commit; the default branch when none.
    pub git_ref: Option<String>,
}

impl fmt::Display for GitDependency {
    /// The URL with any credentials hidden: this is what messages and receipts show.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(&self.url))?;
        match &self.git_ref {
            Some(r) => write!(f, "={r}"),
            None => Ok(()),
        }
    }
}

/// Reads a dependency written as a git URL (`https://…`, `http://…`, `ssh://…`, `git://…`,
/// `file://…`, scp-like `user@host:path`), with an optional `=REF`; `None` for anything else.
pub fn parse_git_dependency(s: &str) -> Option<GitDependency> {
    let s = s.trim();
    if !is_git_url(s) {
        return None;
    }
    // The first `=` ends the URL: git URLs have none in their path, and an scp-like
    // `git@host:x=y` must split after `x`. One in a query string is part of the URL.
    let (url, git_ref) = match s.find('=') {
        Some(i) if !s[..i].contains('?') => (&s[..i], Some(&s[i + 1..])),
        _ => (s, None),
    };
    Some(GitDependency {
        url: url.to_owned(),
        git_ref: git_ref.filter(|r| !r.is_empty()).map(str::to_owned),
    })
}

fn is_git_url(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    let scheme = ["https://", "http://", "ssh://", "git://", "file://"]
        .iter()
        .any(|p| lower.starts_with(p));
    // `user@host:path`: a `ref@req` never has a `:` right after a host-like part.
    let scp = s.split_once('@').is_some_and(|(user, rest)| {
        !user.is_empty()
            && !user.contains(['/', ':'])
            && rest.split_once(':').is_some_and(|(host, path)| {
                !host.is_empty() && !host.contains('/') && !path.is_empty()
            })
    });
    scheme || scp
}

/// The `testing` section.
#[derive(Debug, Clone, Deserialize)]
pub struct Testing {
    /// Whether the tests run at all (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The runners, by name.
    #[serde(default)]
    pub runners: BTreeMap<String, Runner>,
    /// The share of tests that must pass, from 0 to 1 (default 1).
    #[serde(default = "full_pass")]
    pub min_pass_rate: f64,
    /// What a lower pass rate does to the install.
    #[serde(default)]
    pub on_failure: OnFailure,
    /// Variables set for the tests, as `NAME: value`: the pack's own values, never names to
    /// take from the installer's environment (which only the config's `test_env` passes).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// One test runner.
#[derive(Debug, Clone, Deserialize)]
pub struct Runner {
    /// How it runs.
    #[serde(rename = "type")]
    pub kind: RunnerKind,
    /// What it runs, relative to the pack root.
    pub entry_point: String,
    /// Seconds; default 300.
    #[serde(default)]
    pub timeout: Option<u64>,
}

/// How a test runner runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunnerKind {
    /// An executable (or `sh` script); passes when it exits 0.
    Script,
    /// `python3 -m unittest`.
    Unittest,
    /// `python3 -m pytest`.
    Pytest,
}

/// What failing tests do to an install.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    /// Refuse it ([`crate::Error::TestsFailed`]).
    #[default]
    Block,
    /// Install with a warning.
    Warn,
}

fn yes() -> bool {
    true
}

fn full_pass() -> f64 {
    1.0
}

/// Largest pack.yaml read: 1 MiB.
pub const MAX_PACK_YAML_BYTES: u64 = 1 << 20;

/// Longest version accepted, so that every name derived from it fits the file system.
pub const MAX_VERSION_CHARS: usize = 128;

fn too_large(origin: &str, len: u64) -> Error {
    Error::InvalidPack(format!(
        "{origin}: {len} bytes; pack.yaml is limited to {MAX_PACK_YAML_BYTES} bytes (1 MiB)"
    ))
}

/// Reads a version the way packs write it: semver, or StackStorm's `1.0` / `1` (read as
/// `1.0.0`, with a warning), with an optional leading `v`.
pub fn parse_lenient_version(raw: &str) -> std::result::Result<(Version, Option<String>), String> {
    if raw.len() > MAX_VERSION_CHARS {
        return Err(format!(
            "{} characters long; a version is at most {MAX_VERSION_CHARS} (it names a directory of kept versions)",
            raw.len()
        ));
    }
    if let Ok(v) = Version::parse(raw) {
        return Ok((v, None));
    }
    let trimmed = raw.strip_prefix('v').unwrap_or(raw);
    let parts: Vec<&str> = trimmed.split('.').collect();
    let numeric = !parts.is_empty()
        && parts.len() <= 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if numeric || Version::parse(trimmed).is_ok() {
        let mut full = parts.clone();
        while full.len() < 3 {
            full.push("0");
        }
        let v = Version::parse(&full.join("."))
            .or_else(|_| Version::parse(trimmed))
            .map_err(|e| e.to_string())?;
        return Ok((
            v.clone(),
            Some(format!("version `{raw}` is not semver; read as {v}")),
        ));
    }
    Err(format!(
        "`{raw}` is not a semantic version (expected MAJOR.MINOR.PATCH, e.g. 1.2.0)"
    ))
}

/// Parses `ref@req` / `ref` (StackStorm's `ref=version` too).
pub fn parse_dependency(s: &str) -> std::result::Result<Dependency, String> {
    let s = s.trim();
    let (name, req) = match s.split_once('@').or_else(|| s.split_once('=')) {
        Some((n, r)) => (n, Some(r)),
        None => (s, None),
    };
    let Some(pack_ref) = PackRef::new(name) else {
        return Err(format!("`{s}`: `{name}` is not a pack ref ({REF_RULE})"));
    };
    // A leading `v` (a tag's spelling, `slack=v2.3.0`) is ignored, as in `version`.
    let req = req.map(|r| match r.strip_prefix(['v', 'V']) {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
        _ => r,
    });
    let req = match req {
        None | Some("") | Some("latest") | Some("*") => VersionReq::STAR,
        Some(r) => match Version::parse(r) {
            Ok(v) => VersionReq::parse(&format!("={v}")).map_err(|e| e.to_string())?,
            Err(_) => {
                VersionReq::parse(r).map_err(|e| format!("`{s}`: bad version requirement: {e}"))?
            }
        },
    };
    Ok(Dependency { pack_ref, req })
}

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "ref")]
    pack_ref: Option<Value>,
    version: Option<Value>,
    label: Option<String>,
    name: Option<String>,
    description: Option<String>,
    author: Option<Value>,
    email: Option<String>,
    keywords: Option<Vec<String>>,
    tags: Option<Vec<String>>,
    runtime_deps: Option<Vec<String>>,
    dependencies: Option<Value>,
    attune_version: Option<Value>,
    testing: Option<Value>,
    python_versions: Option<Value>,
    python: Option<Value>,
    python_version: Option<Value>,
    stackstorm_version: Option<Value>,
}

/// Text of a YAML scalar (string or number).
pub(crate) fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Manifest {
    /// Reads and validates a pack.yaml file.
    pub fn load(path: &Path) -> Result<Manifest> {
        Manifest::load_as(path, &path.display().to_string())
    }

    /// Reads and validates a pack.yaml file, naming it `origin` in errors and warnings.
    pub fn load_as(path: &Path, origin: &str) -> Result<Manifest> {
        Manifest::parse(&Manifest::read_text(path, origin)?, origin)
    }

    /// The text of a pack.yaml file, for callers that read more of it than [`Manifest`] holds.
    /// A file over 1 MiB is refused before it is read.
    pub fn read_text(path: &Path, origin: &str) -> Result<String> {
        let cannot = |e: std::io::Error| Error::InvalidPack(format!("{origin}: cannot read: {e}"));
        let file = std::fs::File::open(path).map_err(cannot)?;
        let len = file.metadata().map_err(cannot)?.len();
        if len > MAX_PACK_YAML_BYTES {
            return Err(too_large(origin, len));
        }
        let mut text = String::new();
        // Bounded even if the file grows after it was measured.
        let read = file
            .take(MAX_PACK_YAML_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(cannot)?;
        if read as u64 > MAX_PACK_YAML_BYTES {
            return Err(too_large(origin, read as u64));
        }
        Ok(text)
    }

    /// Parses pack.yaml text; `origin` names the file in errors. Text over 1 MiB or nested
    /// deeper than 128 levels is refused before it is parsed.
    pub fn parse(text: &str, origin: &str) -> Result<Manifest> {
        check_limits(text, origin)?;
        let raw: Raw = serde_norway::from_str(text)
            .map_err(|e| Error::InvalidPack(format!("{origin}: not a valid pack.yaml: {e}")))?;
        let bad = |(field, why): (&str, String)| {
            Error::InvalidPack(format!("{origin}: field `{field}`: {why}"))
        };
        let pack_ref = parse_ref(raw.pack_ref.as_ref(), raw.name.as_deref()).map_err(bad)?;
        let (version, warning) = parse_version(raw.version.as_ref()).map_err(bad)?;
        let mut warnings: Vec<String> = warning.into_iter().collect();
        let python = parse_python(&raw, &mut warnings);
        let deps = parse_dependencies(raw.dependencies.as_ref()).map_err(bad)?;
        Ok(Manifest {
            label: raw
                .label
                .or(raw.name)
                .unwrap_or_else(|| pack_ref.to_string()),
            pack_ref,
            version,
            description: raw.description,
            author: raw.author.as_ref().and_then(scalar_text),
            email: raw.email,
            keywords: raw.keywords.or(raw.tags).unwrap_or_default(),
            runtime_deps: raw.runtime_deps.unwrap_or_default(),
            dependencies: deps.packs,
            git_dependencies: deps.git,
            python,
            stackstorm_version: raw.stackstorm_version.as_ref().and_then(scalar_text),
            attune_version: parse_attune_version(raw.attune_version.as_ref()).map_err(bad)?,
            testing: parse_testing(raw.testing).map_err(bad)?,
            warnings: warnings
                .into_iter()
                .map(|w| format!("{origin}: {w}"))
                .collect(),
        })
    }
}

/// A field that cannot be read: its name and why.
type Field<T> = std::result::Result<T, (&'static str, String)>;

/// The limits checked before the text is parsed: its size and its nesting.
fn check_limits(text: &str, origin: &str) -> Result<()> {
    if text.len() as u64 > MAX_PACK_YAML_BYTES {
        return Err(too_large(origin, text.len() as u64));
    }
    if let Err(line) = yaml_depth::check(text.as_bytes(), yaml_depth::MAX_DEPTH) {
        return Err(Error::InvalidPack(format!(
            "{origin}: line {line}: nested more than {} levels deep; pack.yaml is refused before it is parsed",
            yaml_depth::MAX_DEPTH
        )));
    }
    Ok(())
}

/// A required scalar field as text.
fn required(value: Option<&Value>, field: &'static str, missing: &str) -> Field<String> {
    let value = value.ok_or_else(|| (field, format!("missing ({missing})")))?;
    scalar_text(value).ok_or_else(|| (field, "must be a string".to_owned()))
}

/// `ref`, or, as StackStorm does for packs that have none, `name`.
fn parse_ref(value: Option<&Value>, name: Option<&str>) -> Field<PackRef> {
    if let (None, Some(name)) = (value, name) {
        return PackRef::new(name).ok_or_else(|| {
            (
                "name",
                format!(
                    "pack.yaml has no `ref`, so its `name` is the ref (as StackStorm reads it), but `{}` is not a valid ref: {REF_RULE}; add a `ref`",
                    crate::model::terminal::escape(name)
                ),
            )
        });
    }
    let text = required(value, "ref", "required, or a `name` that is a valid ref")?;
    PackRef::new(&text).ok_or_else(|| ("ref", format!("`{text}` is not valid: {REF_RULE}")))
}

fn parse_version(value: Option<&Value>) -> Field<(Version, Option<String>)> {
    let text = required(value, "version", "required, e.g. `version: 1.0.0`")?;
    parse_lenient_version(&text).map_err(|why| ("version", why))
}

/// The entries of `dependencies`, by kind.
#[derive(Default)]
struct Dependencies {
    packs: Vec<Dependency>,
    git: Vec<GitDependency>,
}

/// `dependencies`: a list of `ref@req` (or git URLs), or Attune's mapping with a `packs` list.
fn parse_dependencies(value: Option<&Value>) -> Field<Dependencies> {
    let list = "must be a list of `ref@requirement` or git URLs".to_owned();
    match value {
        None | Some(Value::Null) => Ok(Dependencies::default()),
        Some(Value::Sequence(items)) => dependency_list(items).map_err(|why| ("dependencies", why)),
        Some(Value::Mapping(m)) => match m.get("packs") {
            Some(Value::Sequence(items)) => {
                dependency_list(items).map_err(|why| ("dependencies.packs", why))
            }
            None | Some(Value::Null) => Ok(Dependencies::default()),
            Some(_) => Err(("dependencies.packs", list)),
        },
        Some(_) => Err(("dependencies", list)),
    }
}

fn parse_attune_version(value: Option<&Value>) -> Field<Option<VersionReq>> {
    value
        .and_then(scalar_text)
        .map(|s| VersionReq::parse(&s).map_err(|e| ("attune_version", format!("`{s}`: {e}"))))
        .transpose()
}

fn parse_testing(value: Option<Value>) -> Field<Option<Testing>> {
    let testing = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(v) => {
            serde_norway::from_value::<Testing>(v).map_err(|e| ("testing", e.to_string()))?
        }
    };
    if !(0.0..=1.0).contains(&testing.min_pass_rate) {
        return Err((
            "testing.min_pass_rate",
            format!("{} is not between 0 and 1", testing.min_pass_rate),
        ));
    }
    let unusable = testing.env.iter().find(|(name, value)| {
        name.is_empty() || name.contains(['=', '\0']) || value.contains('\0')
    });
    if let Some((name, _)) = unusable {
        return Err((
            "testing.env",
            format!(
                "`{}`: a variable's name must be non-empty without `=` or NUL, and its value without NUL",
                crate::model::terminal::escape(name)
            ),
        ));
    }
    Ok(Some(testing))
}

fn dependency_list(items: &[Value]) -> std::result::Result<Dependencies, String> {
    let mut deps = Dependencies::default();
    for v in items {
        let s =
            scalar_text(v).ok_or_else(|| "entries must be strings like `core@^1`".to_owned())?;
        match parse_git_dependency(&s) {
            Some(git) => deps.git.push(git),
            None => deps.packs.push(parse_dependency(&s)?),
        }
    }
    Ok(deps)
}

/// The Python requirements of `python_versions` (a list), `python` and `python_version`; one
/// that cannot be read is a warning, and not checked.
fn parse_python(raw: &Raw, warnings: &mut Vec<String>) -> Vec<PythonRequirement> {
    let fields = [
        ("python_versions", &raw.python_versions),
        ("python", &raw.python),
        ("python_version", &raw.python_version),
    ];
    let mut requirements = Vec::new();
    for (field, value) in fields {
        let written: Vec<String> = match value {
            None | Some(Value::Null) => continue,
            Some(Value::Sequence(items)) => items.iter().filter_map(scalar_text).collect(),
            Some(v) => scalar_text(v).into_iter().collect(),
        };
        if written.is_empty() {
            continue;
        }
        match PythonRequirement::parse(field, written) {
            Ok(req) => requirements.push(req),
            Err(why) => warnings.push(format!("field `{field}`: {why}; not checked")),
        }
    }
    requirements
}

#[cfg(test)]
mod tests {
    #[test]
    fn testing_env_holds_the_packs_own_values_and_refuses_unusable_names() {
        let base = "ref: p\nversion: 1.0.0\ntesting:\n  env: ";
        let m = Manifest::parse(&format!("{base}{{MODE: ci}}\n"), "pack.yaml").unwrap();
        assert_eq!(m.testing.unwrap().env["MODE"], "ci");
        let err = Manifest::parse(&format!("{base}{{\"A=B\": x}}\n"), "pack.yaml").unwrap_err();
        assert!(err.to_string().contains("testing.env"), "{err}");
    }

    use super::*;

    #[test]
    fn attune_form() {
        let m = Manifest::parse(
            "ref: slack\nlabel: Slack\nversion: 2.1.0\ndependencies: [\"core@^1\", http]\ntesting:\n  runners:\n    smoke: {type: script, entry_point: tests/run.sh}\n",
            "pack.yaml",
        )
        .unwrap();
        assert_eq!(m.pack_ref, "slack");
        assert_eq!(m.version, Version::new(2, 1, 0));
        assert_eq!(m.label, "Slack");
        assert_eq!(m.dependencies[0].to_string(), "core@^1");
        assert_eq!(m.dependencies[1].req, VersionReq::STAR);
        assert!(m.testing.unwrap().enabled);
        assert!(m.warnings.is_empty());
    }

    #[test]
    fn stackstorm_form_with_short_version_warns() {
        let m = Manifest::parse(
            "ref: st2pack\nname: St2 Pack\nversion: 1.0\npython_versions: [\"3\"]\ntags: [a]\nauthor: someone\n",
            "p/pack.yaml",
        )
        .unwrap();
        assert_eq!(m.version, Version::new(1, 0, 0));
        assert_eq!(m.label, "St2 Pack");
        assert_eq!(m.keywords, vec!["a"]);
        assert!(m.warnings[0].contains("p/pack.yaml"), "{:?}", m.warnings);
    }

    #[test]
    fn stackstorm_ref_comes_from_name() {
        let m = Manifest::parse(
            "name: jira
version: 2.3.0
",
            "pack.yaml",
        )
        .unwrap();
        assert_eq!((m.pack_ref.as_str(), m.label.as_str()), ("jira", "jira"));
        let e = Manifest::parse(
            "name: My Pack
version: 1.0.0
",
            "p/pack.yaml",
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("`name`") && msg.contains("My Pack") && msg.contains("add a `ref`"),
            "{msg}"
        );
        assert_eq!(e.exit_code(), 6);
        let m = Manifest::parse(
            "ref: jira2
name: Jira
version: 1.0.0
",
            "pack.yaml",
        )
        .unwrap();
        assert_eq!(m.pack_ref, "jira2", "a ref wins over the name");
    }

    #[test]
    fn stackstorm_dependencies_python_and_stackstorm_version() {
        let m = Manifest::parse(
            "name: aws_plus\nversion: 1.0.0\nstackstorm_version: \">=3.0\"\npython_versions: [\"2\", 3]\npython: \">=3.9\"\ndependencies:\n  - slack=v2.3.0\n  - https://github.com/StackStorm-Exchange/stackstorm-aws.git=v1.2.0\n  - git@host:x=y\n  - ssh://git@host/org/repo.git\n  - core@^1\n",
            "pack.yaml",
        )
        .unwrap();
        let packs: Vec<String> = m.dependencies.iter().map(ToString::to_string).collect();
        assert_eq!(packs, ["slack@=2.3.0", "core@^1"]);
        let git: Vec<(&str, Option<&str>)> = m
            .git_dependencies
            .iter()
            .map(|d| (d.url.as_str(), d.git_ref.as_deref()))
            .collect();
        assert_eq!(
            git,
            [
                (
                    "https://github.com/StackStorm-Exchange/stackstorm-aws.git",
                    Some("v1.2.0")
                ),
                ("git@host:x", Some("y")),
                ("ssh://git@host/org/repo.git", None),
            ]
        );
        assert_eq!(m.stackstorm_version.as_deref(), Some(">=3.0"));
        let fields: Vec<&str> = m.python.iter().map(|p| p.field).collect();
        assert_eq!(fields, ["python_versions", "python"]);
        let d = parse_git_dependency("https://u:tok@h.example/r.git=main").unwrap();
        assert_eq!(d.to_string(), "https://***@h.example/r.git=main");
    }

    #[test]
    fn errors_quote_file_and_field() {
        let e = Manifest::parse("ref: ../evil\nversion: 1.0.0\n", "x/pack.yaml").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("x/pack.yaml") && msg.contains("`ref`"),
            "{msg}"
        );
        assert_eq!(e.exit_code(), 6);
        let e = Manifest::parse("ref: ok\nversion: banana\n", "x/pack.yaml").unwrap_err();
        assert!(e.to_string().contains("`version`"));
        let e = Manifest::parse("version: 1.0.0\n", "x/pack.yaml").unwrap_err();
        assert!(e.to_string().contains("`ref`: missing"));
        assert!(Manifest::parse("ref: Upper\nversion: 1.0.0\n", "p").is_err());
        assert!(
            Manifest::parse(&format!("ref: {}\nversion: 1.0.0\n", "a".repeat(65)), "p").is_err()
        );
    }
}
