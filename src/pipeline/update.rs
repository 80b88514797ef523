//! `update`: an installed pack to the version its requirement allows now (or a new
//! requirement, or the latest), through the same stages as an install, recorded as an update.
//! The replaced version is kept for rollback; an update that would break an installed pack's
//! dependency on it is refused unless forced.

use std::sync::Arc;

use semver::Version;

use crate::context::{blocking, Context};
use crate::error::{Error, Result};
use crate::hooks::InstallHooks;
use crate::model::history::Action;
use crate::model::pack_ref::PackRef;
use crate::model::receipt::{Receipt, SourceKind};
use crate::pack::deps;
use crate::registry::Registry;
use crate::source::{PackSource, Remembered, VersionSpec};
use crate::store::LockedStore;

use super::attempt::Attempt;
use super::options::{InstallOptions, InstallReport};
use super::{finish, origin, plan};

/// What an update is asked to do, set with builder methods.
///
/// ```
/// use attune_pack::{UpdateOptions, VersionSpec};
/// let opts = UpdateOptions::new().requirement(VersionSpec::parse("^3").unwrap()).dry_run();
/// # let _ = opts;
/// ```
#[derive(Debug, Clone, Default)]
pub struct UpdateOptions {
    requirement: Option<VersionSpec>,
    latest: bool,
    force: bool,
    dry_run: bool,
    skip_tests: bool,
}

impl UpdateOptions {
    /// Update to the highest version the requirement recorded at install allows.
    pub fn new() -> Self {
        Self::default()
    }

    /// A new requirement (`update slack@^3`), recorded in the receipt from then on.
    pub fn requirement(mut self, spec: VersionSpec) -> Self {
        self.requirement = Some(spec);
        self
    }

    /// The highest release, whatever the recorded requirement (which is dropped).
    pub fn latest(mut self) -> Self {
        self.latest = true;
        self
    }

    /// Update even when installed packs that depend on this one do not accept the new
    /// version.
    pub fn force(mut self) -> Self {
        self.force = true;
        self
    }

    /// Fetch, verify and test; change nothing.
    pub fn dry_run(mut self) -> Self {
        self.dry_run = true;
        self
    }

    /// Do not run the new version's tests.
    pub fn skip_tests(mut self) -> Self {
        self.skip_tests = true;
        self
    }
}

/// What an update did.
#[derive(Debug, Clone)]
pub struct UpdateReport {
    /// The receipt of the version that was active (for a pack found up to date: its receipt
    /// as it is now, with a requirement given anew recorded).
    pub from: Receipt,
    /// The install of the new version (for a dry run: planned); `None` when the pack was up
    /// to date.
    pub updated: Option<InstallReport>,
    /// For a registry pack: the newest version its requirement allows.
    pub wanted: Option<Version>,
    /// For a registry pack: the newest release in the indices, whatever the requirement (a
    /// pack held back by a pin shows here what it is missing).
    pub latest: Option<Version>,
}

impl UpdateReport {
    /// A newer release that the pack's recorded requirement keeps out, when the update
    /// found it up to date under that requirement.
    pub fn held_back(&self) -> Option<&Version> {
        let latest = self.latest.as_ref()?;
        (self.updated.is_none() && *latest > self.from.version).then_some(latest)
    }
}

/// The versions an update of a registry pack found.
#[derive(Debug, Clone, Default)]
struct Found {
    wanted: Option<Version>,
    latest: Option<Version>,
}

impl Found {
    fn report(self, from: Receipt, updated: Option<InstallReport>) -> UpdateReport {
        UpdateReport {
            from,
            updated,
            wanted: self.wanted,
            latest: self.latest,
        }
    }
}

impl UpdateReport {
    /// The receipt of the version active after the update (or that would be, for a dry run).
    pub fn receipt(&self) -> &Receipt {
        self.updated.as_ref().map_or(&self.from, |u| &u.receipt)
    }
}

/// Updates `pack_ref` in the locked store.
pub(crate) async fn update(
    ctx: &Context,
    store: &Arc<LockedStore>,
    hooks: &dyn InstallHooks,
    pack_ref: &PackRef,
    opts: &UpdateOptions,
) -> Result<UpdateReport> {
    let (ctx, recorded) = ctx.recording();
    let (current, installed, remembered) = {
        let (store, pack_ref) = (store.clone(), pack_ref.clone());
        blocking(move || {
            let current = store
                .receipt(&pack_ref)?
                .ok_or_else(|| Error::NotInstalled(pack_ref.clone()))?;
            let remembered = origin::remembered(&store, &pack_ref, &current.checksum.content)?;
            Ok((current, store.receipts()?, remembered))
        })
        .await?
    };
    let attempt = Attempt::new(store, Action::Update, Some(pack_ref));
    let registry = Registry::new(&ctx);
    let (source, found) = match update_source(&registry, &current, remembered, opts).await {
        Ok((Some(source), found)) => (source, found),
        Ok((None, found)) => return rerecord(store, current, opts, found).await,
        Err(e) => return Err(attempt.failed(e).await),
    };
    let install = InstallOptions {
        force: true,
        dry_run: opts.dry_run,
        skip_tests: opts.skip_tests,
        action: Action::Update,
        subdir: origin::subdir_of(&current.source),
        ..InstallOptions::default()
    };
    let prepared = plan::prepare(&ctx, store, &registry, source, &install, installed.clone())
        .await
        .map_err(Error::from);
    let mut steps = attempt.check(prepared).await?;
    let step = steps.pop().expect("the plan holds the pack itself");
    let manifest = &step.validated.manifest;
    if manifest.pack_ref != *pack_ref {
        let e = Error::InvalidPack(format!(
            "the source of `{pack_ref}` now holds pack `{}`",
            manifest.pack_ref
        ));
        return Err(attempt.failed(e).await);
    }
    if step.validated.content == current.checksum.content {
        // The staged copy, not needed.
        blocking(move || {
            drop(step);
            Ok(())
        })
        .await?;
        return Ok(found.report(current, None));
    }
    let broken = deps::broken_by(pack_ref, &manifest.version, &installed);
    if !broken.is_empty() && !opts.force {
        let e = Error::BreaksDependents {
            pack_ref: pack_ref.clone(),
            from: current.version.to_string(),
            to: manifest.version.to_string(),
            dependents: broken,
        };
        return Err(attempt.of(pack_ref, &manifest.version).failed(e).await);
    }
    let mut report = finish(&ctx, store, hooks, step, &installed, &install).await?;
    report.warnings = recorded.take();
    Ok(found.report(current, Some(report)))
}

/// The report of an update that found `current` up to date; a requirement given anew (or
/// dropped by `latest`) is recorded in its receipt all the same, unless a dry run.
async fn rerecord(
    store: &Arc<LockedStore>,
    current: Receipt,
    opts: &UpdateOptions,
    found: Found,
) -> Result<UpdateReport> {
    let requirement = match (&opts.requirement, opts.latest) {
        (Some(spec), _) => spec.requirement(),
        (None, true) => None,
        (None, false) => current.requirement.clone(),
    };
    let from = if requirement == current.requirement || opts.dry_run {
        current
    } else {
        let (store, pack_ref) = (store.clone(), current.pack_ref.clone());
        blocking(move || store.set_requirement(&pack_ref, requirement)).await?
    };
    Ok(found.report(from, None))
}

/// What to fetch to update `current` (`None` when the indices have nothing newer for it),
/// and for a registry pack the versions found.
async fn update_source(
    registry: &Registry<'_>,
    current: &Receipt,
    remembered: Option<Remembered>,
    opts: &UpdateOptions,
) -> Result<(Option<PackSource>, Found)> {
    let pack_ref = &current.pack_ref;
    match current.source.kind {
        Some(SourceKind::Registry) => {
            let index = match remembered.map(|r| r.source) {
                Some(PackSource::Registry { index, .. }) => index,
                _ => None,
            };
            let version = wanted_spec(current, opts)?;
            let (wanted, _) = registry
                .resolve_version(pack_ref, &version, index.as_deref())
                .await?;
            let latest = match version {
                VersionSpec::Latest => Some(wanted.clone()),
                // Only to tell what a requirement holds back: not finding it changes nothing.
                _ => registry
                    .resolve_version(pack_ref, &VersionSpec::Latest, index.as_deref())
                    .await
                    .ok()
                    .map(|(v, _)| v),
            };
            let found = Found {
                wanted: Some(wanted.clone()),
                latest,
            };
            // Never a downgrade, unless a requirement on the command line asks for one.
            let newer = wanted > current.version;
            if wanted == current.version || (!newer && opts.requirement.is_none()) {
                return Ok((None, found));
            }
            let source = PackSource::Registry {
                pack_ref: pack_ref.clone(),
                version,
                index,
            };
            Ok((Some(source), found))
        }
        _ if opts.requirement.is_some() => Err(Error::Usage(format!(
            "`{pack_ref}` was installed from a {} source, not a registry: a version requirement does not apply",
            current.source.kind.map_or("hand-placed", kind_name)
        ))),
        _ => origin::source_of(pack_ref, &current.source, remembered, false)
            .map(|source| (Some(source), Found::default())),
    }
}

/// What an update of `current` asks the registry for.
fn wanted_spec(current: &Receipt, opts: &UpdateOptions) -> Result<VersionSpec> {
    if let Some(spec) = &opts.requirement {
        return Ok(spec.clone());
    }
    if opts.latest {
        return Ok(VersionSpec::Latest);
    }
    match &current.requirement {
        None => Ok(VersionSpec::Latest),
        Some(req) => VersionSpec::parse(req)
            .map_err(|e| Error::Internal(format!("the receipt of `{}`: {e}", current.pack_ref))),
    }
}

fn kind_name(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Git => "git",
        SourceKind::Archive => "archive URL",
        SourceKind::LocalDirectory => "local directory",
        SourceKind::LocalArchive => "local archive",
        SourceKind::Registry => "registry",
        SourceKind::Bundle => "bundle",
        SourceKind::Oci => "OCI artifact",
        SourceKind::OciLayout => "OCI image layout",
    }
}
