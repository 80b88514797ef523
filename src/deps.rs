//! Dependency checks: the packs a pack needs must be installed at matching versions, and its
//! `attune_version` constraint must admit the configured Attune version.

use semver::Version;

use crate::error::{Error, Result};
use crate::manifest::{Dependency, Manifest};
use crate::pack_ref::PackRef;
use crate::receipt::Receipt;

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

/// Returns the unmet requirements as sentences; empty when all are met.
pub fn unmet(
    manifest: &Manifest,
    installed: &[Receipt],
    pending: &[(PackRef, Version)],
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

/// What replacing `pack_ref` by `version` would break: each installed pack whose dependency
/// on it does not accept `version` (`` `ref` 1.0.0 requires `dep@^1` ``).
pub fn broken_by(pack_ref: &PackRef, version: &Version, installed: &[Receipt]) -> Vec<String> {
    let mut broken = Vec::new();
    for r in dependents(pack_ref, installed) {
        for dep in r.dependencies.iter() {
            if let Ok(d) = crate::manifest::parse_dependency(dep) {
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
    receipt
        .dependencies
        .iter()
        .filter_map(|d| crate::manifest::parse_dependency(d).ok())
        .filter(|dep| dep.pack_ref != receipt.pack_ref)
        .filter_map(|dep| match standing(&dep, installed, &[]) {
            Standing::Met => None,
            Standing::Other(r) => Some(format!(
                "`{dep}` is required, {} {} is installed",
                r.pack_ref, r.version
            )),
            _ => Some(format!("`{dep}` is not installed")),
        })
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
