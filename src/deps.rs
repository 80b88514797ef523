//! Dependency checks: the packs a pack needs must be installed at matching versions, and its
//! `attune_version` constraint must admit the configured Attune version.

use semver::Version;

use crate::error::{Error, Result};
use crate::manifest::{Dependency, Manifest};
use crate::receipt::Receipt;

/// The pack dependencies that no installed version satisfies, with the installed receipt
/// when there is one. `pending` packs are being installed by the caller (they depend on this
/// one) and count as present.
fn unsatisfied<'a>(
    manifest: &'a Manifest,
    installed: &'a [Receipt],
    pending: &'a [String],
) -> impl Iterator<Item = (&'a Dependency, Option<&'a Receipt>)> {
    manifest
        .dependencies
        .iter()
        .filter(|dep| dep.pack_ref != manifest.pack_ref && !pending.contains(&dep.pack_ref))
        .filter_map(|dep| {
            let have = installed.iter().find(|r| r.pack_ref == dep.pack_ref);
            let ok =
                have.is_some_and(|r| Version::parse(&r.version).is_ok_and(|v| dep.req.matches(&v)));
            (!ok).then_some((dep, have))
        })
}

/// The pack dependencies to install for `--with-deps`.
pub fn missing_packs(
    manifest: &Manifest,
    installed: &[Receipt],
    pending: &[String],
) -> Vec<Dependency> {
    unsatisfied(manifest, installed, pending)
        .map(|(dep, _)| dep.clone())
        .collect()
}

/// Returns the unmet requirements as sentences; empty when all are met.
pub fn unmet(
    manifest: &Manifest,
    installed: &[Receipt],
    pending: &[String],
    attune_version: Option<&str>,
) -> Vec<String> {
    let mut problems: Vec<String> = unsatisfied(manifest, installed, pending)
        .map(|(dep, have)| match have {
            None => format!("`{dep}` is not installed"),
            Some(r) => format!(
                "`{dep}` is required, {} {} is installed",
                r.pack_ref, r.version
            ),
        })
        .collect();
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
