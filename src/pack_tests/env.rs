//! The environment a pack's tests start with: not attune-pack's, which holds registry tokens,
//! proxy passwords and the like, but an empty one with a few neutral variables, the pack's
//! own `testing.env`, and the caller's variables the config's `test_env` names, less any
//! secret attune-pack holds.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Where a sane `PATH` looks, whatever the caller's says.
const SAFE_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Passed through from the caller's environment: how text and time are shown.
pub fn is_locale(name: &str) -> bool {
    name == "LANG" || name == "TZ" || name.starts_with("LC_")
}

/// A variable attune-pack may hold a secret in, withheld from tests even when the config
/// names it: `header_variables` are what the index headers' `${VAR}` read.
pub fn is_withheld(name: &str, header_variables: &[String]) -> bool {
    let upper = name.to_ascii_uppercase();
    header_variables.iter().any(|v| v == name)
        || upper.ends_with("_PROXY")
        || upper.starts_with("ATTUNE")
        || upper.starts_with("MINISIGN")
        || upper.contains("PASSWORD")
        || upper.contains("PASSWD")
        || upper.contains("TOKEN")
        || upper.contains("SECRET")
        || matches!(
            upper.as_str(),
            "REGISTRY_AUTH_FILE" | "DOCKER_CONFIG" | "SSH_AUTH_SOCK" | "GIT_ASKPASS" | "NETRC"
        )
}

/// What the tests' environment is made of.
pub struct Sources<'a> {
    /// The scratch directory: `HOME`, with `TMPDIR` inside it.
    pub scratch: &'a Path,
    /// The interpreter Python runners use; its directory joins `PATH`.
    pub python: &'a str,
    /// The pack's `testing.env`.
    pub pack: &'a std::collections::BTreeMap<String, String>,
    /// The config's `test_env`.
    pub pass: &'a [String],
    /// The config's `header_variables`.
    pub header_variables: &'a [String],
}

/// The tests' environment, and the names the config asked for that were withheld.
pub fn build(from: &Sources) -> (Vec<(OsString, OsString)>, Vec<String>) {
    let mut env: Vec<(OsString, OsString)> = vec![
        ("PATH".into(), search_path(from.python)),
        ("HOME".into(), from.scratch.into()),
        ("TMPDIR".into(), from.scratch.join("tmp").into()),
        ("PYTHONDONTWRITEBYTECODE".into(), "1".into()),
    ];
    env.extend(std::env::vars_os().filter(|(k, _)| k.to_str().is_some_and(is_locale)));
    env.extend(from.pack.iter().map(|(k, v)| (k.into(), v.into())));
    let mut withheld = Vec::new();
    for name in from.pass {
        if is_withheld(name, from.header_variables) {
            withheld.push(name.clone());
        } else if let Some(value) = std::env::var_os(name) {
            env.push((name.into(), value));
        }
    }
    (env, withheld)
}

/// [`SAFE_PATH`], with the directory `python` is in (found on the caller's `PATH` when it is
/// a bare name) first, so Python runners find the interpreter the config names.
pub fn search_path(python: &str) -> OsString {
    let dir = match python.contains('/') {
        true => Path::new(python).parent().map(Path::to_owned),
        false => std::env::var_os("PATH")
            .and_then(|path| std::env::split_paths(&path).find(|dir| dir.join(python).is_file())),
    };
    let safe = std::env::split_paths(SAFE_PATH).collect::<Vec<PathBuf>>();
    let dirs = dir.filter(|d| !safe.contains(d)).into_iter().chain(safe);
    std::env::join_paths(dirs).unwrap_or_else(|_| SAFE_PATH.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_withheld_whatever_their_case() {
        let headers = ["REGISTRY_KEY".to_owned()];
        for name in [
            "REGISTRY_KEY",
            "https_proxy",
            "ALL_PROXY",
            "ATTUNE_API_TOKEN",
            "MINISIGN_KEY_PASSWORD",
            "DOCKER_CONFIG",
            "GITHUB_TOKEN",
        ] {
            assert!(is_withheld(name, &headers), "{name}");
        }
        for name in ["CI", "JAVA_HOME", "NO_COLOR"] {
            assert!(!is_withheld(name, &headers), "{name}");
        }
    }
}
