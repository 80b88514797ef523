//! Dependency checks: the packs a pack needs must be installed at matching versions (or, for
//! a git URL, from that repository), and its `attune_version` constraint must admit the
//! configured Attune version.

use semver::Version;

use crate::error::{Error, Result};
use crate::model::pack_ref::PackRef;
use crate::model::receipt::Receipt;
use crate::pack::manifest::{
    parse_dependency, parse_git_dependency, Dependency, GitDependency, Manifest,
};

/// The pack dependencies that are not met, with how they stand. `pending` packs are being
/// installed by the caller at those versions (they depend on this one): they count as
/// present when their version matches, so a cycle ends.
fn unsatisfied<'a>(
    manifest: &'a Manifest,
    installed: &'a [Receipt],
    pending: &'a [(PackRef, Version)],
) -> impl Iterator<Item = (&'a Dependency, Standing<'a>)> {
    pack_dependencies(manifest)
        .map(|dep| (dep, standing(dep, installed, pending)))
        .filter(|(_, standing)| !matches!(standing, Standing::Met))
}

/// The packs a pack needs (one listing itself is ignored).
pub fn pack_dependencies(manifest: &Manifest) -> impl Iterator<Item = &Dependency> {
    manifest
        .dependencies
        .iter()
        .filter(|dep| dep.pack_ref != manifest.pack_ref)
}

/// How a dependency stands against the installed and pending packs.
pub enum Standing<'a> {
    Met,
    Missing,
    /// Installed at a version the requirement does not match.
    Other(&'a Receipt),
    /// Being installed by a pack that needs this one, at a version that does not match.
    PendingOther(&'a Version),
}

pub fn standing<'a>(
    dep: &Dependency,
    installed: &'a [Receipt],
    pending: &'a [(PackRef, Version)],
) -> Standing<'a> {
    if let Some((_, version)) = pending.iter().find(|(r, _)| *r == dep.pack_ref) {
        return match dep.req.matches(version) {
            true => Standing::Met,
            false => Standing::PendingOther(version),
        };
    }
    match installed.iter().find(|r| r.pack_ref == dep.pack_ref) {
        None => Standing::Missing,
        Some(r) if dep.req.matches(&r.version) => Standing::Met,
        Some(r) => Standing::Other(r),
    }
}

/// Installing dependencies does not replace an installed version that other packs may rely
/// on, unless replacing is asked for.
pub fn replace_refused(manifest: &Manifest, dep: &Dependency, have: &Receipt) -> Error {
    Error::DependencyNotReplaced {
        pack: manifest.pack_ref.clone(),
        version: manifest.version.to_string(),
        dependency: dep.to_string(),
        installed: format!("{} {}", have.pack_ref, have.version),
    }
}

/// A repository as URLs name it, for comparing them: the host without case, the path
/// without a trailing `.git` or `/`; the scheme, credentials, query and fragment left out
/// (`git@host:o/r.git`, `ssh://git@host/o/r` and `https://host/o/r/` are one repository).
pub fn repository_key(url: &str) -> String {
    let url = &url[..url.find(['?', '#']).unwrap_or(url.len())];
    let (host, path) = match url.split_once("://") {
        Some((_, rest)) => rest.split_at(rest.find('/').unwrap_or(rest.len())),
        None => match url.split_once(':') {
            // scp-like `user@host:path`; anything else without a scheme is a local path.
            Some((authority, path)) if !authority.contains('/') => (authority, path),
            _ => ("", url),
        },
    };
    let host = host.rsplit('@').next().unwrap_or(host).to_ascii_lowercase();
    let path = path.trim_end_matches('/');
    let path = path
        .strip_suffix(".git")
        .unwrap_or(path)
        .trim_end_matches('/');
    format!("{host}/{}", path.trim_start_matches('/'))
}

/// Whether `receipt` records the repository of `dep` (and its ref, when it names one).
fn installed_from(receipt: &Receipt, dep: &GitDependency) -> bool {
    let Some(url) = &receipt.source.url else {
        return false;
    };
    repository_key(url) == repository_key(&dep.url)
        && (dep.git_ref.is_none() || receipt.source.git_ref == dep.git_ref)
}

/// Whether a git dependency is met: an installed pack came from its repository (at its ref),
/// or the pack fetched from it (`resolved`, by `--with-deps`) is installed or pending.
pub fn git_met(
    dep: &GitDependency,
    installed: &[Receipt],
    pending: &[(PackRef, Version)],
    resolved: &[(GitDependency, PackRef)],
) -> bool {
    installed.iter().any(|r| installed_from(r, dep))
        || resolved.iter().any(|(d, pack_ref)| {
            d == dep
                && (installed.iter().any(|r| r.pack_ref == *pack_ref)
                    || pending.iter().any(|(p, _)| p == pack_ref))
        })
}

fn git_unmet(dep: &GitDependency) -> String {
    let at = match &dep.git_ref {
        Some(r) => format!(" at `{r}`"),
        None => String::new(),
    };
    format!("`{dep}` is not installed: no installed pack came from that repository{at} (--with-deps installs it)")
}

/// Returns the unmet requirements as sentences; empty when all are met. `resolved` maps the
/// git dependencies `--with-deps` fetched to the packs they hold.
pub fn unmet(
    manifest: &Manifest,
    installed: &[Receipt],
    pending: &[(PackRef, Version)],
    resolved: &[(GitDependency, PackRef)],
    attune_version: Option<&str>,
) -> Vec<String> {
    let mut problems: Vec<String> = unsatisfied(manifest, installed, pending)
        .map(|(dep, standing)| match standing {
            Standing::Missing | Standing::Met => format!("`{dep}` is not installed"),
            Standing::Other(r) => format!(
                "`{dep}` is required, {} {} is installed",
                r.pack_ref, r.version
            ),
            Standing::PendingOther(v) => format!(
                "`{dep}` is required, {} {v} is being installed (a dependency cycle)",
                dep.pack_ref
            ),
        })
        .collect();
    problems.extend(
        manifest
            .git_dependencies
            .iter()
            .filter(|dep| !git_met(dep, installed, pending, resolved))
            .map(git_unmet),
    );
    if let (Some(req), Some(have)) = (&manifest.attune_version, attune_version) {
        match Version::parse(have) {
            Ok(v) if req.matches(&v) => {}
            _ => problems.push(format!(
                "Attune {req} is required, the configured attune_version is {have}"
            )),
        }
    }
    problems
}

/// The error for unmet dependencies.
pub fn unmet_error(manifest: &Manifest, problems: &[String]) -> Error {
    Error::DependencyUnmet {
        pack: manifest.pack_ref.clone(),
        version: manifest.version.to_string(),
        problems: problems.to_vec(),
    }
}

/// Installed packs that depend on `pack_ref` (for `uninstall`): by name, or by a git URL of
/// the repository it was installed from.
pub fn dependents<'a>(pack_ref: &str, installed: &'a [Receipt]) -> Vec<&'a Receipt> {
    let target = installed.iter().find(|r| r.pack_ref == pack_ref);
    let needs = |d: &String| match parse_git_dependency(d) {
        Some(git) => target.is_some_and(|t| installed_from(t, &git)),
        None => parse_dependency(d).is_ok_and(|d| d.pack_ref == pack_ref),
    };
    installed
        .iter()
        .filter(|r| r.pack_ref != pack_ref)
        .filter(|r| r.dependencies.iter().any(needs))
        .collect()
}

/// What replacing `pack_ref` by `version` would break: each installed pack whose dependency
/// on it does not accept `version` (`` `ref` 1.0.0 requires `dep@^1` ``).
pub fn broken_by(pack_ref: &PackRef, version: &Version, installed: &[Receipt]) -> Vec<String> {
    let mut broken = Vec::new();
    for r in dependents(pack_ref, installed) {
        for dep in r.dependencies.iter() {
            if parse_git_dependency(dep).is_some() {
                continue;
            }
            if let Ok(d) = parse_dependency(dep) {
                if d.pack_ref == *pack_ref && !d.req.matches(version) {
                    broken.push(format!("`{}` {} requires `{dep}`", r.pack_ref, r.version));
                }
            }
        }
    }
    broken
}

/// The dependencies of an installed (or kept) version, from its receipt, that `installed`
/// does not meet, as sentences.
pub fn unmet_by(receipt: &Receipt, installed: &[Receipt]) -> Vec<String> {
    let git = receipt
        .dependencies
        .iter()
        .filter_map(|d| parse_git_dependency(d))
        .filter(|dep| !git_met(dep, installed, &[], &[]))
        .map(|dep| git_unmet(&dep));
    receipt
        .dependencies
        .iter()
        .filter(|d| parse_git_dependency(d).is_none())
        .filter_map(|d| parse_dependency(d).ok())
        .filter(|dep| dep.pack_ref != receipt.pack_ref)
        .filter_map(|dep| match standing(&dep, installed, &[]) {
            Standing::Met => None,
            Standing::Other(r) => Some(format!(
                "`{dep}` is required, {} {} is installed",
                r.pack_ref, r.version
            )),
            _ => Some(format!("`{dep}` is not installed")),
        })
        .chain(git)
        .collect()
}

/// Refuses to remove a pack others depend on, unless forced.
pub fn check_removable(pack_ref: &PackRef, installed: &[Receipt], force: bool) -> Result<()> {
    let deps = dependents(pack_ref, installed);
    if deps.is_empty() || force {
        return Ok(());
    }
    Err(Error::DependentsExist {
        pack_ref: pack_ref.clone(),
        dependents: deps
            .iter()
            .map(|r| format!("{} {}", r.pack_ref, r.version))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::repository_key;

    #[test]
    fn one_repository_however_its_url_is_written() {
        let key = repository_key("https://github.com/StackStorm-Exchange/stackstorm-aws.git");
        for same in [
            "https://GitHub.com/StackStorm-Exchange/stackstorm-aws",
            "https://user:token@github.com/StackStorm-Exchange/stackstorm-aws.git/",
            "https://***@github.com/StackStorm-Exchange/stackstorm-aws.git?***",
            "git@github.com:StackStorm-Exchange/stackstorm-aws.git",
            "ssh://git@github.com/StackStorm-Exchange/stackstorm-aws",
        ] {
            assert_eq!(repository_key(same), key, "{same}");
        }
        assert_ne!(
            repository_key("https://github.com/StackStorm-Exchange/stackstorm-AWS"),
            key,
            "paths keep their case"
        );
        assert_eq!(
            repository_key("file:///srv/repo.git"),
            repository_key("/srv/repo")
        );
        assert_ne!(
            repository_key("https://a.example/x"),
            repository_key("https://b.example/x")
        );
    }
}
