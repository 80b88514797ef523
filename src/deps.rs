//! Dependency checks: the packs a pack needs must be installed at matching versions, and its
//! `attune_version` constraint must admit the configured Attune version.

use semver::Version;

use crate::error::{Error, Result};
use crate::manifest::Manifest;
use crate::receipt::Receipt;

/// Returns the unmet requirements as sentences; empty when all are met.
pub fn unmet(
    manifest: &Manifest,
    installed: &[Receipt],
    attune_version: Option<&str>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for dep in &manifest.dependencies {
        if dep.pack_ref == manifest.pack_ref {
            continue;
        }
        match installed.iter().find(|r| r.pack_ref == dep.pack_ref) {
            None => problems.push(format!("`{dep}` is not installed")),
            Some(r) => match Version::parse(&r.version) {
                Ok(v) if dep.req.matches(&v) => {}
                _ => problems.push(format!(
                    "`{dep}` is required, {} {} is installed",
                    r.pack_ref, r.version
                )),
            },
        }
    }
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

/// The error for unmet dependencies, with what to do about them.
pub fn unmet_error(manifest: &Manifest, problems: &[String]) -> Error {
    Error::DependencyUnmet(format!(
        "pack `{}` {} has unmet dependencies:\n  - {}\n  hint: install them first, pass --with-deps to install them from the registry, or --skip-deps to install anyway",
        manifest.pack_ref,
        manifest.version,
        problems.join("\n  - ")
    ))
}

/// Installed packs that depend on `pack_ref` (for `uninstall`).
pub fn dependents<'a>(pack_ref: &str, installed: &'a [Receipt]) -> Vec<&'a Receipt> {
    installed
        .iter()
        .filter(|r| r.pack_ref != pack_ref)
        .filter(|r| {
            r.dependencies.iter().any(|d| {
                crate::manifest::parse_dependency(d)
                    .map(|d| d.pack_ref == pack_ref)
                    .unwrap_or(false)
            })
        })
        .collect()
}

/// Refuses to remove a pack others depend on, unless forced.
pub fn check_removable(pack_ref: &str, installed: &[Receipt], force: bool) -> Result<()> {
    let deps = dependents(pack_ref, installed);
    if deps.is_empty() || force {
        return Ok(());
    }
    Err(Error::DependentsExist(format!(
        "cannot uninstall `{pack_ref}`: installed packs depend on it: {}\n  hint: uninstall them first, or pass --force",
        deps.iter().map(|r| format!("{} {}", r.pack_ref, r.version)).collect::<Vec<_>>().join(", ")
    )))
}
