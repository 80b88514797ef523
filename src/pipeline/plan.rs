//! What one install request comes to: the pack, prepared (fetched and validated), and with
//! [`InstallOptions::with_deps`], its missing dependencies from the registry (or, for a git
//! URL, from that repository), prepared the same way, each once, recursively; in install
//! order, dependencies first. The planner runs the pipeline's stages; the stages know
//! nothing of it.

use std::future::Future;
use std::pin::Pin;

use semver::{Version, VersionReq};

use crate::context::{blocking, Context};
use crate::error::{Error, Result};
use crate::model::checksum::Checksum;
use crate::model::pack_ref::PackRef;
use crate::model::receipt::{Receipt, TestSummary};
use crate::pack::deps::{self, Standing};
use crate::pack::locate::Subdir;
use crate::pack::manifest::{Dependency, GitDependency, Manifest};
use crate::registry::{is_remote, Registry};
use crate::source::{PackSource, VersionSpec};
use crate::store::StoreView;
use crate::util::redact::redact_url;

use super::commit::receipt;
use super::fetch::fetch;
use super::options::InstallOptions;
use super::validate::{validate, Validated};

/// A prepared pack and the packs of the plan that wait for it (they need it installed).
pub(crate) struct Step {
    pub validated: Validated,
    /// Packs being installed that depend on this one, at the versions being installed: they
    /// count as present for its dependency check, so a cycle ends.
    pub pending: Vec<(PackRef, Version)>,
    /// Its git dependencies that were fetched to learn which pack they hold, and that pack.
    pub resolved: Vec<(GitDependency, PackRef)>,
}

/// A plan that failed, and the pack it was for when that was known by then (a registry
/// reference names it; any other source once its pack.yaml is read).
pub(crate) struct Unprepared {
    pub error: Error,
    pub pack: Option<(PackRef, Version)>,
}

impl From<Unprepared> for Error {
    fn from(u: Unprepared) -> Error {
        u.error
    }
}

/// Prepares `source` (and its missing dependencies, when asked) against the `installed`
/// packs: the steps, in install order.
pub(crate) async fn prepare(
    ctx: &Context,
    store: &StoreView,
    registry: &Registry<'_>,
    source: PackSource,
    opts: &InstallOptions,
    installed: Vec<Receipt>,
) -> Result<Vec<Step>, Unprepared> {
    let mut planner = Planner {
        ctx,
        store,
        registry,
        opts,
        receipts: installed,
        steps: Vec::new(),
        root: None,
    };
    let (checksum, subdir) = (opts.checksum.clone(), opts.subdir.clone());
    match planner.add(source, checksum, subdir, Vec::new()).await {
        Ok(()) => Ok(planner.steps),
        Err(error) => Err(Unprepared {
            error,
            pack: planner.root,
        }),
    }
}

struct Planner<'a> {
    ctx: &'a Context,
    store: &'a StoreView,
    registry: &'a Registry<'a>,
    opts: &'a InstallOptions,
    /// The installed packs as the plan so far leaves them.
    receipts: Vec<Receipt>,
    steps: Vec<Step>,
    /// The pack asked for, once its pack.yaml is read.
    root: Option<(PackRef, Version)>,
}

type Boxed<'b> = Pin<Box<dyn Future<Output = Result<()>> + 'b>>;

impl Planner<'_> {
    /// Prepares `source` (which `pending` wait for), its dependencies first.
    fn add(
        &mut self,
        source: PackSource,
        checksum: Option<Checksum>,
        subdir: Option<Subdir>,
        pending: Vec<(PackRef, Version)>,
    ) -> Boxed<'_> {
        Box::pin(async move {
            let validated = self.stage(source, checksum, subdir).await?;
            self.admit(validated, pending).await
        })
    }

    /// Fetches and validates `source`.
    async fn stage(
        &mut self,
        source: PackSource,
        checksum: Option<Checksum>,
        subdir: Option<Subdir>,
    ) -> Result<Validated> {
        let algorithm = checksum.as_ref().map(|c| c.algorithm);
        let staged = fetch(
            self.ctx,
            self.store,
            self.registry,
            source,
            algorithm,
            subdir,
            self.opts.keep_archive,
        )
        .await?;
        let validated = validate(self.ctx, staged, checksum).await?;
        let manifest = &validated.manifest;
        self.root
            .get_or_insert_with(|| (manifest.pack_ref.clone(), manifest.version.clone()));
        Ok(validated)
    }

    /// Adds a validated pack to the plan, its dependencies first.
    fn admit(&mut self, validated: Validated, pending: Vec<(PackRef, Version)>) -> Boxed<'_> {
        Box::pin(async move {
            self.refuse_installed(&validated)?;
            let mut resolved = Vec::new();
            if self.opts.with_deps {
                self.add_dependencies(&validated, &pending).await?;
                resolved = self.add_git_dependencies(&validated, &pending).await?;
            }
            // Later packs of the plan see this one as installed.
            let planned = receipt(
                self.store,
                &validated,
                TestSummary::default(),
                Default::default(),
            );
            upsert(&mut self.receipts, &planned);
            self.steps.push(Step {
                validated,
                pending,
                resolved,
            });
            Ok(())
        })
    }

    /// The git dependencies of `v` that no installed pack came from: each is fetched to learn
    /// which pack it holds; that pack is added unless the plan already has it (at the
    /// version fetched, when the dependency names a ref). Returns what each fetched one holds.
    async fn add_git_dependencies(
        &mut self,
        v: &Validated,
        pending: &[(PackRef, Version)],
    ) -> Result<Vec<(GitDependency, PackRef)>> {
        let manifest = &v.manifest;
        let below = [
            pending,
            &[(manifest.pack_ref.clone(), manifest.version.clone())],
        ]
        .concat();
        let mut resolved = Vec::new();
        for dep in &manifest.git_dependencies {
            if deps::git_met(dep, &self.receipts, &below, &[]) {
                continue;
            }
            // What a pack from elsewhere may make this host install is what is elsewhere too.
            let from_remote = v
                .staged
                .fetched
                .record
                .url
                .as_deref()
                .is_some_and(is_remote);
            if from_remote && !is_remote(&dep.url) {
                let e = Error::LocalDependencyOfRemotePack {
                    pack: manifest.pack_ref.clone(),
                    url: redact_url(&dep.url),
                };
                return Err(self.dependency_failed(dep, manifest, e));
            }
            let source = PackSource::Git {
                url: dep.url.clone(),
                git_ref: dep.git_ref.clone(),
            };
            let added = match self.stage(source, None, None).await {
                Ok(fetched) => self.admit_git(dep, fetched, &below).await,
                Err(e) => Err(e),
            };
            match added {
                Ok(pack_ref) => resolved.push((dep.clone(), pack_ref)),
                Err(e) => return Err(self.dependency_failed(dep, manifest, e)),
            }
        }
        Ok(resolved)
    }

    /// The pack fetched for git dependency `dep`, added to the plan unless the plan has it
    /// already as `dep` asks; returns its ref.
    async fn admit_git(
        &mut self,
        dep: &GitDependency,
        fetched: Validated,
        below: &[(PackRef, Version)],
    ) -> Result<PackRef> {
        let m = &fetched.manifest;
        let pack_ref = m.pack_ref.clone();
        // Without a ref any version of the pack will do; with one, the version it holds.
        let wanted = Dependency {
            pack_ref: pack_ref.clone(),
            req: match dep.git_ref {
                None => VersionReq::STAR,
                Some(_) => exactly(&m.version),
            },
        };
        match deps::standing(&wanted, &self.receipts, below) {
            Standing::Met | Standing::PendingOther(_) => {
                // Its staging directory, not needed.
                blocking(move || {
                    drop(fetched);
                    Ok(())
                })
                .await?;
                Ok(pack_ref)
            }
            Standing::Other(have) if !self.opts.force => {
                let (pack, version) = below.last().expect("the dependent is last");
                Err(Error::DependencyNotReplaced {
                    pack: pack.clone(),
                    version: version.to_string(),
                    dependency: dep.to_string(),
                    installed: format!(
                        "{} {} (the repository holds {})",
                        have.pack_ref, have.version, m.version
                    ),
                })
            }
            Standing::Missing | Standing::Other(_) => {
                self.admit(fetched, below.to_vec()).await?;
                Ok(pack_ref)
            }
        }
    }

    /// The missing dependencies of `v`, each checked against the plan as it is by then (an
    /// earlier one may have brought a later one along).
    async fn add_dependencies(
        &mut self,
        v: &Validated,
        pending: &[(PackRef, Version)],
    ) -> Result<()> {
        let manifest = &v.manifest;
        let below = [
            pending,
            &[(manifest.pack_ref.clone(), manifest.version.clone())],
        ]
        .concat();
        for dep in deps::pack_dependencies(manifest) {
            match deps::standing(dep, &self.receipts, pending) {
                // A pending pack at a version that does not match is reported when the
                // dependencies are checked.
                Standing::Met | Standing::PendingOther(_) => continue,
                Standing::Other(have) if !self.opts.force => {
                    return Err(deps::replace_refused(manifest, dep, have));
                }
                Standing::Missing | Standing::Other(_) => {}
            }
            let source = PackSource::Registry {
                pack_ref: dep.pack_ref.clone(),
                version: VersionSpec::from_req(&dep.req),
                index: None,
            };
            if let Err(e) = self.add(source, None, None, below.clone()).await {
                return Err(self.dependency_failed(dep, manifest, e));
            }
        }
        Ok(())
    }

    /// `e`, after saying that it stopped `dep`, a dependency of the pack of `manifest`.
    fn dependency_failed(
        &self,
        dep: &dyn std::fmt::Display,
        manifest: &Manifest,
        e: Error,
    ) -> Error {
        self.ctx.warn(format!(
            "could not install `{dep}`, a dependency of {} {}: {}",
            manifest.pack_ref,
            manifest.version,
            e.code()
        ));
        e
    }

    fn refuse_installed(&self, v: &Validated) -> Result<()> {
        refuse_installed(self.store, v, self.opts)
    }
}

/// An installed pack is replaced only when asked (a dry run only looks).
pub(crate) fn refuse_installed(
    store: &StoreView,
    v: &Validated,
    opts: &InstallOptions,
) -> Result<()> {
    let pack_ref = &v.manifest.pack_ref;
    if opts.force || opts.dry_run || !store.is_installed(pack_ref) {
        return Ok(());
    }
    Err(Error::AlreadyInstalled {
        pack_ref: pack_ref.clone(),
        version: store
            .receipt(pack_ref)?
            .map_or_else(|| "(unknown version)".to_owned(), |r| r.version.to_string()),
        path: store.active_dir(pack_ref),
    })
}

/// Puts `receipt` in place of any receipt of the same pack.
pub(crate) fn upsert(receipts: &mut Vec<Receipt>, receipt: &Receipt) {
    receipts.retain(|have| have.pack_ref != receipt.pack_ref);
    receipts.push(receipt.clone());
}

/// The requirement `=VERSION`.
fn exactly(version: &Version) -> VersionReq {
    VersionReq::parse(&format!("={version}")).unwrap_or(VersionReq::STAR)
}
