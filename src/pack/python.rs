//! The Python a pack needs (StackStorm's `python_versions`, Attune's `python` /
//! `python_version`) against the interpreter this host would run it with: `python3` on
//! `PATH`, or the config's `python`. The interpreter is asked its version and nothing else.

use std::fmt;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::interrupt::Interrupt;

use semver::{Version, VersionReq};

/// One pack.yaml field's Python requirement: met when any of its alternatives matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonRequirement {
    /// The field it comes from (`python_versions`, `python`, `python_version`).
    pub field: &'static str,
    /// The versions as written (`2`, `3`, `>=3.9`).
    pub written: Vec<String>,
    any_of: Vec<VersionReq>,
}

impl PythonRequirement {
    /// Reads the versions of `field`. A bare version names that release line (`3` is any
    /// 3.x, `3.11` any 3.11.x), as StackStorm's major versions mean; Python's `==` is read as
    /// `=`.
    pub fn parse(field: &'static str, written: Vec<String>) -> Result<Self, String> {
        let any_of = written
            .iter()
            .map(|w| parse_one(w))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PythonRequirement {
            field,
            written,
            any_of,
        })
    }

    /// Whether `version` is one this requirement accepts.
    pub fn matches(&self, version: &Version) -> bool {
        self.any_of.iter().any(|req| req.matches(version))
    }
}

impl fmt::Display for PythonRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Python {}", self.written.join(" or "))
    }
}

fn parse_one(written: &str) -> Result<VersionReq, String> {
    let text = written.trim().replace("==", "=");
    let bare = !text.is_empty() && text.split('.').count() <= 3;
    let bare = bare
        && text
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let text = if bare { format!("={text}") } else { text };
    VersionReq::parse(&text)
        .map_err(|e| format!("`{written}` is not a Python version requirement: {e}"))
}

/// What asking the interpreter for its version found.
#[derive(Debug, Clone)]
pub enum Interpreter {
    /// It ran and said its version.
    Found { program: String, version: Version },
    /// It ran, but what it said is not a version.
    Unreadable { program: String, said: String },
    /// It could not be run, or did not answer.
    Missing { program: String, why: String },
    /// No program of that name is on PATH.
    NotOnPath { program: String },
}

/// How long an interpreter may take to say its version (a shim or a stalled mount must not
/// hang an install).
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// What is read of its answer.
const ANSWER_BYTES: u64 = 4096;

/// Runs `program --version` (Python 2 answers on stderr, 3 on stdout), for at most
/// [`ANSWER_WITHIN`], and not past `interrupt`.
pub fn probe(program: &str, interrupt: &Interrupt) -> Interpreter {
    let missing = |why: String| Interpreter::Missing {
        program: program.to_owned(),
        why,
    };
    let spawned = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !program.contains('/') => {
            return Interpreter::NotOnPath {
                program: program.to_owned(),
            }
        }
        Err(e) => return missing(e.to_string()),
    };
    let deadline = Instant::now() + ANSWER_WITHIN;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline && !interrupt.is_triggered() => {
                std::thread::sleep(Duration::from_millis(10))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return missing(format!(
                    "it did not answer `--version` within {} s",
                    ANSWER_WITHIN.as_secs()
                ));
            }
        }
    };
    let mut said = Vec::new();
    if let Some(out) = child.stdout.take() {
        let _ = out.take(ANSWER_BYTES).read_to_end(&mut said);
    }
    if let Some(err) = child.stderr.take() {
        let _ = err.take(ANSWER_BYTES).read_to_end(&mut said);
    }
    let said = String::from_utf8_lossy(&said).into_owned();
    if !status.success() {
        return missing(format!("`--version` exited with {status}"));
    }
    match read_version(&said) {
        Some(version) => Interpreter::Found {
            program: program.to_owned(),
            version,
        },
        None => Interpreter::Unreadable {
            program: program.to_owned(),
            said: crate::model::terminal::escape(said.trim()).into_owned(),
        },
    }
}

/// `Python 3.12.3` → 3.12.3; `Python 3.13.0rc1` → 3.13.0.
fn read_version(said: &str) -> Option<Version> {
    let rest = said.trim().strip_prefix("Python ")?;
    let numeric: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut parts: Vec<&str> = numeric.split('.').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    while parts.len() < 3 {
        parts.push("0");
    }
    Version::parse(&parts.join(".")).ok()
}

/// How the user knows the interpreter: found on `PATH`, or a path from the config.
fn which(program: &str) -> String {
    match program.contains('/') {
        true => format!("`{program}` (config `python`)"),
        false => format!("`{program}` on PATH"),
    }
}

/// Each requirement `found` does not meet, as a sentence saying what was required and what
/// was found.
pub fn unmet(requirements: &[PythonRequirement], found: &Interpreter) -> Vec<String> {
    requirements
        .iter()
        .filter(|req| !matches!(found, Interpreter::Found { version, .. } if req.matches(version)))
        .map(|req| {
            let have = match found {
                Interpreter::Found { program, version } => {
                    format!("{} is Python {version}", which(program))
                }
                Interpreter::Unreadable { program, said } => {
                    format!(
                        "{} did not say its version (`--version` printed `{said}`)",
                        which(program)
                    )
                }
                Interpreter::NotOnPath { program } => {
                    format!("no `{program}` was found on PATH")
                }
                Interpreter::Missing { program, why } => {
                    format!("{} cannot be run: {why}", which(program))
                }
            };
            format!(
                "{req} is required (pack.yaml `{}: {}`), but {have}",
                req.field,
                req.written.join(", ")
            )
        })
        .collect()
}

/// The interpreters this host offers, in the order they are preferred: `configured` (the
/// config's `python`), then each `python3.N` on `PATH`, newest first.
pub fn candidates(configured: &str) -> Vec<String> {
    let mut minors: Vec<u32> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .iter()
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flatten()
        .filter_map(|entry| {
            let name = entry.ok()?.file_name();
            name.to_str()?.strip_prefix("python3.")?.parse::<u32>().ok()
        })
        .collect();
    minors.sort_unstable_by(|a, b| b.cmp(a));
    minors.dedup();
    let mut out = vec![configured.to_owned()];
    out.extend(minors.into_iter().map(|m| format!("python3.{m}")));
    out.dedup();
    out
}

/// The first of [`candidates`] that meets every requirement, with its version; otherwise
/// the unmet requirements, said against `configured`, and what else was found.
pub fn choose(
    requirements: &[PythonRequirement],
    configured: &str,
    interrupt: &Interrupt,
) -> Result<(String, Version), Vec<String>> {
    let mut seen = Vec::new();
    let mut first = None;
    for program in candidates(configured) {
        let found = probe(&program, interrupt);
        if let Interpreter::Found { version, .. } = &found {
            if requirements.iter().all(|r| r.matches(version)) {
                return Ok((program, version.clone()));
            }
            if program != configured {
                seen.push(format!("{} is Python {version}", which(&program)));
            }
        }
        first.get_or_insert(found);
    }
    let mut problems = match &first {
        Some(found) => unmet(requirements, found),
        None => Vec::new(),
    };
    if !seen.is_empty() {
        problems.push(format!("also found: {}", seen.join(", ")));
    }
    Err(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(field: &'static str, written: &[&str]) -> PythonRequirement {
        PythonRequirement::parse(field, written.iter().map(|s| s.to_string()).collect()).unwrap()
    }

    #[test]
    fn majors_and_requirements() {
        let v = |s| Version::parse(s).unwrap();
        assert!(req("python_versions", &["3"]).matches(&v("3.12.3")));
        assert!(!req("python_versions", &["2"]).matches(&v("3.12.3")));
        assert!(req("python_versions", &["2", "3"]).matches(&v("2.7.18")));
        assert!(req("python", &[">=3.9"]).matches(&v("3.12.0")));
        assert!(!req("python", &[">=3.9"]).matches(&v("3.8.10")));
        assert!(req("python_version", &["3.11"]).matches(&v("3.11.9")));
        assert!(!req("python_version", &["3.11"]).matches(&v("3.12.0")));
        assert!(req("python", &["==3.12.3"]).matches(&v("3.12.3")));
        assert!(PythonRequirement::parse("python", vec!["snake".into()]).is_err());
    }

    #[test]
    fn versions_are_read_from_what_python_says() {
        assert_eq!(
            read_version("Python 3.12.3\n"),
            Version::parse("3.12.3").ok()
        );
        assert_eq!(
            read_version("Python 3.13.0rc1"),
            Version::parse("3.13.0").ok()
        );
        assert_eq!(read_version("Python 2.7"), Version::parse("2.7.0").ok());
        assert_eq!(read_version("pyenv: python3: command not found"), None);
    }

    #[test]
    fn messages_say_what_was_required_and_found() {
        let reqs = [req("python_versions", &["2"])];
        let found = Interpreter::Found {
            program: "python3".into(),
            version: Version::new(3, 12, 3),
        };
        assert_eq!(
            unmet(&reqs, &found),
            ["Python 2 is required (pack.yaml `python_versions: 2`), but `python3` on PATH is Python 3.12.3"]
        );
        let missing = Interpreter::NotOnPath {
            program: "python3".into(),
        };
        assert!(unmet(&reqs, &missing)[0].ends_with("but no `python3` was found on PATH"));
        let ok = [req("python_versions", &["2", "3"])];
        assert!(unmet(&ok, &found).is_empty());
    }

    /// An interpreter that never answers does not hang the install: an interrupt (or the
    /// deadline) stops it.
    #[test]
    fn a_silent_interpreter_is_given_up_on() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let script = tmp.path().join("hang");
        std::fs::write(&script, "#!/bin/sh\nexec sleep 30\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let interrupt = Interrupt::new();
        let later = interrupt.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            later.trigger();
        });
        let started = Instant::now();
        let found = probe(script.to_str().unwrap(), &interrupt);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(
            matches!(&found, Interpreter::Missing { why, .. } if why.contains("did not answer")),
            "{found:?}"
        );
    }
}
