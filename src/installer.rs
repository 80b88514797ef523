//! The install pipeline, the same for every source: materialize into staging → locate
//! pack.yaml → validate → check dependencies → run pack tests → commit atomically → receipt.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::checksum::{Algorithm, Checksum};
use crate::config::{self, Config};
use crate::deps;
use crate::error::{Checked, Error, IoContext, Result};
use crate::events::{Event, EventSink, Phase};
use crate::fsutil::Durability;
use crate::hooks::{InstallHooks, NoHooks, PendingInstall};
use crate::interrupt::Interrupt;
use crate::locate::locate;
use crate::manifest::{Dependency, Manifest};
use crate::pack_ref::PackRef;
use crate::pack_tests;
use crate::receipt::{
    now_rfc3339, Receipt, ReceiptChecksums, ReceiptSource, TestStatus, TestSummary,
};
use crate::safety::{Tree, TreeWriter};
use crate::source::{self, PackSource, VersionSpec};
use crate::store::{LockedStore, Store, Uninstalled};

/// Per-install choices (the `install` command's flags).
#[derive(Debug, Clone, Default)]
pub struct InstallOptions {
    /// Replace an installed version of the same pack.
    pub force: bool,
    pub skip_tests: bool,
    /// Install even when dependencies are unmet (with a warning).
    pub skip_deps: bool,
    /// Install unmet dependencies from the registry first.
    pub with_deps: bool,
    /// Fetch and validate only; change nothing.
    pub dry_run: bool,
    /// Archive sources: the archive bytes; git and directory sources: the content checksum.
    pub checksum: Option<Checksum>,
}

impl InstallOptions {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn force(mut self, yes: bool) -> Self {
        self.force = yes;
        self
    }
    pub fn skip_tests(mut self, yes: bool) -> Self {
        self.skip_tests = yes;
        self
    }
    pub fn skip_deps(mut self, yes: bool) -> Self {
        self.skip_deps = yes;
        self
    }
    pub fn with_deps(mut self, yes: bool) -> Self {
        self.with_deps = yes;
        self
    }
    pub fn dry_run(mut self, yes: bool) -> Self {
        self.dry_run = yes;
        self
    }
    pub fn checksum(mut self, checksum: Option<Checksum>) -> Self {
        self.checksum = checksum;
        self
    }
}

/// What an install did (or, for a dry run, would do).
#[derive(Debug, Clone)]
pub struct InstallReport {
    /// The receipt written (for a dry run: the one that would be written).
    pub receipt: Receipt,
    /// The version that was active before, now kept for rollback.
    pub replaced: Option<String>,
    pub dry_run: bool,
    pub warnings: Vec<String>,
    /// `with_deps`: the dependencies installed (or planned) first, in that order.
    pub dependencies: Vec<InstallReport>,
}

/// What the packs above an install in a `--with-deps` chain know.
#[derive(Debug, Default)]
struct Chain {
    /// The packs whose installs wait for this one, at the versions being installed: they
    /// count as present (so a cycle ends) when their version matches.
    pending: Vec<(PackRef, semver::Version)>,
    /// The installed packs as the pack above sees them (in a dry run, as they would be after
    /// the plan so far, so that a pack planned once is not planned again below). `None` at
    /// the top: the store's receipts.
    receipts: Option<Vec<Receipt>>,
}

/// A materialized source, ready for validation.
pub(crate) struct Materialized {
    pub tree: Tree,
    /// Checksums of the archive bytes (archive sources only).
    pub archive: Vec<Checksum>,
    pub record: ReceiptSource,
    /// A checksum the source itself requires (a registry index entry), with where it is from.
    pub expected: Option<(Checksum, String)>,
    /// The ref and version the source promises (a registry index entry).
    pub identity: Option<crate::registry::Identity>,
}

/// Builds an [`Installer`].
///
/// ```no_run
/// # async fn demo() -> Result<(), attune_pack::Error> {
/// use attune_pack::{Installer, InstallOptions, PackSource, DetectOptions};
/// let installer = Installer::builder().packs_dir("/tmp/packs").build()?;
/// let source = PackSource::detect("fixtures/packs/hello", &DetectOptions::default())?;
/// let report = installer.install(source, InstallOptions::new().force(true)).await?;
/// println!("{} {} at {}", report.receipt.pack_ref, report.receipt.version, report.receipt.path.display());
/// # Ok(()) }
/// ```
#[derive(Default)]
pub struct InstallerBuilder {
    packs_dir: Option<PathBuf>,
    cache_dir: Option<PathBuf>,
    config: Option<Config>,
    lock_timeout: Option<Duration>,
    events: Option<EventSink>,
    hooks: Option<Arc<dyn InstallHooks>>,
    interrupt: Option<Interrupt>,
    allow_http: bool,
    offline: bool,
}

impl InstallerBuilder {
    /// Overrides the config's `packs_dir`.
    pub fn packs_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.packs_dir = Some(dir.into());
        self
    }
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }
    /// How long to wait for another process's store lock (default 60 s).
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = Some(timeout);
        self
    }
    pub fn on_event(mut self, sink: EventSink) -> Self {
        self.events = Some(sink);
        self
    }
    pub fn hooks(mut self, hooks: Arc<dyn InstallHooks>) -> Self {
        self.hooks = Some(hooks);
        self
    }
    /// A flag that, once triggered, stops the install at the next safe point (exit 130).
    pub fn interrupt(mut self, interrupt: Interrupt) -> Self {
        self.interrupt = Some(interrupt);
        self
    }
    pub fn allow_http(mut self, yes: bool) -> Self {
        self.allow_http = yes;
        self
    }
    pub fn offline(mut self, yes: bool) -> Self {
        self.offline = yes;
        self
    }

    pub fn build(self) -> Result<Installer> {
        let config = self.config.unwrap_or_default();
        let packs_dir = config::resolve_packs_dir(self.packs_dir.as_deref(), &config)?;
        let packs_dir =
            std::path::absolute(&packs_dir).ctx(|| format!("resolving {}", packs_dir.display()))?;
        let cache_dir = config::resolve_cache_dir(self.cache_dir.as_deref(), &config, &packs_dir);
        let allow_http = self.allow_http || config.pack_registry.allow_http;
        Ok(Installer {
            inner: Arc::new(Inner {
                store: Store::new(packs_dir).durability(Durability::from_config(config.sync)),
                cache_dir,
                lock_timeout: self.lock_timeout.unwrap_or(Duration::from_secs(60)),
                events: self.events.unwrap_or_else(crate::events::ignore),
                hooks: self.hooks.unwrap_or_else(|| Arc::new(NoHooks)),
                interrupt: self.interrupt.unwrap_or_default(),
                allow_http,
                offline: self.offline,
                http: tokio::sync::OnceCell::new(),
                config,
            }),
        })
    }
}

pub(crate) struct Inner {
    pub store: Store,
    pub config: Config,
    pub cache_dir: PathBuf,
    pub lock_timeout: Duration,
    pub events: EventSink,
    pub hooks: Arc<dyn InstallHooks>,
    pub interrupt: Interrupt,
    pub allow_http: bool,
    pub offline: bool,
    /// Built on first network use (see `Inner::http` in net.rs).
    pub http: tokio::sync::OnceCell<crate::net::Http>,
}

impl Inner {
    pub fn emit(&self, event: Event) {
        (self.events)(&event);
    }

    pub fn warn(&self, warnings: &mut Vec<String>, message: String) {
        self.emit(Event::Warning(message.clone()));
        warnings.push(message);
    }
}

/// Installs, lists and removes packs in one store. Cheap to clone; all methods are async and
/// run blocking work (file system, extraction, hashing) on tokio's blocking pool.
#[derive(Clone)]
pub struct Installer {
    pub(crate) inner: Arc<Inner>,
}

/// Runs blocking work off the async worker threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(format!("a worker task failed: {e}")))?
}

impl Installer {
    pub fn builder() -> InstallerBuilder {
        InstallerBuilder::default()
    }

    pub fn packs_dir(&self) -> &Path {
        self.inner.store.packs_dir()
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn cache_dir(&self) -> &Path {
        &self.inner.cache_dir
    }

    /// Takes the store lock (and recovers from interrupted commands).
    pub(crate) async fn lock(&self) -> Result<Arc<LockedStore>> {
        let inner = self.inner.clone();
        blocking(move || {
            let on_wait = |path: &Path| {
                inner.emit(Event::WaitingForLock {
                    path: path.display().to_string(),
                });
            };
            let store = inner
                .store
                .lock(inner.lock_timeout, &on_wait, &inner.interrupt)?;
            for done in store.recovered() {
                inner.emit(Event::Recovered(done.clone()));
            }
            for warning in store.warnings() {
                inner.emit(Event::Warning(warning.clone()));
            }
            Ok(Arc::new(store))
        })
        .await
    }

    /// Installs a pack from `source` (and, with `with_deps`, its missing dependencies from the
    /// registry first).
    pub async fn install(&self, source: PackSource, opts: InstallOptions) -> Result<InstallReport> {
        let store = self.lock().await?;
        self.install_locked(&store, source, &opts, &Chain::default())
            .await
    }

    /// One install under the held lock; `chain` is what the packs that need this one (with
    /// `--with-deps`) know.
    async fn install_locked(
        &self,
        store: &Arc<LockedStore>,
        source: PackSource,
        opts: &InstallOptions,
        chain: &Chain,
    ) -> Result<InstallReport> {
        let inner = &self.inner;
        inner.emit(Event::Detected {
            source: source.display_name(),
            kind: source.kind_name(),
        });
        let staging = store.staging()?;
        let tree_root = staging.path().join("tree");
        std::fs::create_dir(&tree_root).ctx(|| format!("creating {}", tree_root.display()))?;
        let mut warnings = Vec::new();

        let algorithms = archive_algorithms(opts.checksum.as_ref());
        let mut m = self
            .materialize(
                &source,
                &tree_root,
                staging.path(),
                &algorithms,
                &mut warnings,
            )
            .await?;
        inner.interrupt.check()?;

        inner.emit(Event::Phase(Phase::Validating));
        let origin = source.display_name();
        // Tampering is a checksum mismatch (exit 3) whatever else is wrong with what arrived:
        // the archive bytes are checked before anything in them is looked at, the content
        // checksum as soon as the pack root is known, both before pack.yaml is read.
        if !m.archive.is_empty() {
            self.verify_required(opts, &mut m, None, &source, &mut warnings)?;
        }
        let located = locate(&tree_root, &origin)?;
        m.tree.check_links_within(&located.rel, &origin)?;
        let content = m.tree.digest.checksum_under(&located.rel);
        if m.archive.is_empty() {
            self.verify_required(opts, &mut m, Some(&content), &source, &mut warnings)?;
        }
        // Errors name the source and the file inside it: the staging path is gone by the
        // time anyone reads them.
        let manifest = Manifest::load_as(
            &located.dir.join("pack.yaml"),
            &format!("{origin}: {}", located.rel_file("pack.yaml")),
        )?;
        if let Some(identity) = &m.identity {
            identity.check(&manifest)?;
        }
        for w in &manifest.warnings {
            inner.warn(&mut warnings, w.clone());
        }
        let archive_sha256 = m
            .archive
            .iter()
            .find(|c| c.algorithm == Algorithm::Sha256)
            .cloned();

        let previous = store.receipt(&manifest.pack_ref)?;
        let installed = store.is_installed(&manifest.pack_ref);
        if installed && !opts.force && !opts.dry_run {
            return Err(Error::AlreadyInstalled {
                pack_ref: manifest.pack_ref.clone(),
                version: previous
                    .as_ref()
                    .map(|r| r.version.clone())
                    .unwrap_or_else(|| "(unknown version)".into()),
                path: store.active_dir(&manifest.pack_ref),
            });
        }

        inner.emit(Event::Phase(Phase::CheckingDependencies));
        let mut receipts = match &chain.receipts {
            Some(known) => known.clone(),
            None => store.receipts()?,
        };
        let mut dependencies = Vec::new();
        if opts.with_deps {
            // Checked one at a time against the receipts as they are by then: an earlier
            // dependency may have brought a later one along.
            for dep in deps::pack_dependencies(&manifest) {
                match deps::standing(dep, &receipts, &chain.pending) {
                    // A pending pack at a version that does not match is reported below.
                    deps::Standing::Met | deps::Standing::PendingOther(_) => continue,
                    deps::Standing::Other(have) if !opts.force => {
                        return Err(deps::replace_refused(&manifest, dep, have));
                    }
                    deps::Standing::Missing | deps::Standing::Other(_) => {}
                }
                let below = Chain {
                    pending: [
                        chain.pending.as_slice(),
                        &[(manifest.pack_ref.clone(), manifest.version.clone())],
                    ]
                    .concat(),
                    receipts: Some(receipts.clone()),
                };
                let mut report = self
                    .install_dependency(store, &manifest, dep, opts, &below)
                    .await?;
                // A dry run installs nothing: the plan counts as installed from here on.
                for r in report.dependencies.iter().chain([&report]) {
                    upsert(&mut receipts, &r.receipt);
                }
                warnings.extend(report.warnings.iter().cloned());
                dependencies.append(&mut report.dependencies);
                dependencies.push(report);
            }
        }
        let problems = deps::unmet(
            &manifest,
            &receipts,
            &chain.pending,
            inner.config.attune_version.as_deref(),
        );
        if !problems.is_empty() {
            if opts.skip_deps {
                inner.warn(
                    &mut warnings,
                    format!(
                        "installing with unmet dependencies, as asked: {}",
                        problems.join("; ")
                    ),
                );
            } else {
                return Err(deps::unmet_error(&manifest, &problems));
            }
        }

        let tests = if opts.skip_tests {
            TestSummary {
                status: TestStatus::Skipped,
                ..Default::default()
            }
        } else if let Some(testing) = manifest.testing.clone() {
            inner.emit(Event::Phase(Phase::RunningTests));
            let dir = located.dir.clone();
            let scratch = staging.path().join("tests");
            let interrupt = inner.interrupt.clone();
            let outcome = blocking(move || {
                std::fs::create_dir(&scratch).ctx(|| format!("creating {}", scratch.display()))?;
                let outcome = pack_tests::run(&dir, &scratch, &testing, &interrupt);
                // The tests' copy, and whatever they left, go now: none of it is installed.
                let _ = std::fs::remove_dir_all(&scratch);
                outcome
            })
            .await?;
            if let Some(w) = outcome.warning {
                inner.warn(&mut warnings, w);
            }
            outcome.summary
        } else {
            TestSummary::default()
        };

        let receipt = Receipt {
            pack_ref: manifest.pack_ref.clone(),
            version: manifest.version.to_string(),
            label: manifest.label.clone(),
            path: store.active_dir(&manifest.pack_ref),
            installed_at: now_rfc3339(),
            source: m.record.clone(),
            checksum: ReceiptChecksums {
                archive: archive_sha256.map(|c| c.to_string()),
                content: content.to_string(),
            },
            tests,
            dependencies: manifest
                .dependencies
                .iter()
                .map(ToString::to_string)
                .collect(),
        };
        let replaced = if installed {
            Some(
                previous
                    .map(|r| r.version)
                    .unwrap_or_else(|| "unknown".into()),
            )
        } else {
            None
        };
        if opts.dry_run {
            return Ok(InstallReport {
                receipt,
                replaced,
                dry_run: true,
                warnings,
                dependencies,
            });
        }

        let pending = PendingInstall {
            manifest,
            receipt: receipt.clone(),
            replaces: replaced.clone(),
        };
        inner
            .hooks
            .before_commit(&pending)
            .await
            .map_err(Error::HookVeto)?;
        let committed = match inner.interrupt.check() {
            Ok(()) => {
                inner.emit(Event::Phase(Phase::Committing));
                let store = store.clone();
                let staged = located.dir.clone();
                let keep = inner.config.keep_versions;
                let r = receipt.clone();
                blocking(move || store.commit(&staged, &r, keep)).await
            }
            Err(e) => Err(e),
        };
        let committed = match committed {
            Ok(c) => c,
            Err(e) => {
                inner.hooks.on_abort(&pending, &e).await;
                return Err(e);
            }
        };
        for w in committed.warnings {
            inner.warn(&mut warnings, w);
        }
        drop(staging);
        inner.hooks.after_commit(&receipt).await;
        Ok(InstallReport {
            receipt,
            replaced,
            dry_run: false,
            warnings,
            dependencies,
        })
    }

    /// `--with-deps`: installs `dep` of `manifest` from the registry (replacing an installed
    /// version that does not match only with `--force`), with the same choices as the pack
    /// that needs it.
    async fn install_dependency(
        &self,
        store: &Arc<LockedStore>,
        manifest: &Manifest,
        dep: &Dependency,
        opts: &InstallOptions,
        chain: &Chain,
    ) -> Result<InstallReport> {
        let source = PackSource::Registry {
            pack_ref: dep.pack_ref.clone(),
            version: VersionSpec::from_req(&dep.req),
            index: None,
        };
        let opts = InstallOptions {
            checksum: None,
            ..opts.clone()
        };
        let installed = Box::pin(self.install_locked(store, source, &opts, chain)).await;
        installed.inspect_err(|e| {
            self.inner.emit(Event::Warning(format!(
                "could not install `{dep}`, a dependency of {} {}: {}",
                manifest.pack_ref,
                manifest.version,
                e.code()
            )))
        })
    }

    /// Checks the checksums an install requires (`--checksum`, the index entry's).
    fn verify_required(
        &self,
        opts: &InstallOptions,
        m: &mut Materialized,
        content: Option<&Checksum>,
        source: &PackSource,
        warnings: &mut Vec<String>,
    ) -> Result<()> {
        if let Some(expected) = &opts.checksum {
            self.verify(expected, m, content, source, "--checksum", warnings)?;
        }
        if let Some((expected, from)) = m.expected.take() {
            self.verify(&expected, m, content, source, &from, warnings)?;
        }
        Ok(())
    }

    /// Checks a required checksum against what was measured: archive bytes for archive
    /// sources, the content checksum (`content`) otherwise.
    fn verify(
        &self,
        expected: &Checksum,
        m: &Materialized,
        content: Option<&Checksum>,
        source: &PackSource,
        from: &str,
        warnings: &mut Vec<String>,
    ) -> Result<()> {
        if expected.algorithm.is_weak() {
            self.inner.warn(
                warnings,
                format!(
                    "{from} uses {}, which is weak; prefer sha256",
                    expected.algorithm
                ),
            );
        }
        let name = source.display_name();
        let (actual, checked) = if m.archive.is_empty() {
            if expected.algorithm != Algorithm::Sha256 {
                return Err(Error::Usage(format!(
                    "{from}: content checksums (git and directory sources) are sha256, not {}",
                    expected.algorithm
                )));
            }
            (
                content
                    .cloned()
                    .ok_or_else(|| Error::Internal("no content checksum to verify".into()))?,
                Checked::Content,
            )
        } else {
            let actual = m
                .archive
                .iter()
                .find(|c| c.algorithm == expected.algorithm)
                .cloned()
                .ok_or_else(|| {
                    Error::Internal(format!("{} was not computed", expected.algorithm))
                })?;
            (actual, Checked::Archive)
        };
        if &actual != expected {
            return Err(Error::ChecksumMismatch {
                checked,
                subject: name,
                from: from.to_owned(),
                expected: Box::new(expected.clone()),
                actual: Box::new(actual),
            });
        }
        Ok(())
    }

    /// Materializes a source into `tree_root` (inside `staging`).
    async fn materialize(
        &self,
        source: &PackSource,
        tree_root: &Path,
        staging: &Path,
        algorithms: &[Algorithm],
        warnings: &mut Vec<String>,
    ) -> Result<Materialized> {
        let inner = &self.inner;
        let new_writer = || {
            TreeWriter::new(
                tree_root,
                source.display_name(),
                inner.config.limits,
                inner.interrupt.clone(),
                Durability::from_config(inner.config.sync),
            )
        };
        let writer = new_writer();
        match source {
            PackSource::LocalDirectory { path } => {
                inner.emit(Event::Phase(Phase::Extracting));
                let path =
                    std::path::absolute(path).ctx(|| format!("resolving {}", path.display()))?;
                let record = ReceiptSource {
                    kind: Some(crate::receipt::SourceKind::LocalDirectory),
                    path: Some(path.display().to_string()),
                    ..Default::default()
                };
                let tree = blocking(move || {
                    let mut writer = writer;
                    source::local_dir::copy_dir(&path, &mut writer)?;
                    writer.finish()
                })
                .await?;
                Ok(Materialized {
                    tree,
                    archive: Vec::new(),
                    record,
                    expected: None,
                    identity: None,
                })
            }
            PackSource::LocalArchive { path } => {
                inner.emit(Event::Phase(Phase::Extracting));
                let path =
                    std::path::absolute(path).ctx(|| format!("resolving {}", path.display()))?;
                let record = ReceiptSource {
                    kind: Some(crate::receipt::SourceKind::LocalArchive),
                    path: Some(path.display().to_string()),
                    ..Default::default()
                };
                let algorithms = algorithms.to_vec();
                let (tree, archive) = blocking(move || {
                    let mut writer = writer;
                    let digest = source::archive::extract_file(&path, &mut writer, &algorithms)?;
                    Ok((writer.finish()?, digest.checksums))
                })
                .await?;
                Ok(Materialized {
                    tree,
                    archive,
                    record,
                    expected: None,
                    identity: None,
                })
            }
            PackSource::Archive { url } => {
                use source::http_archive::{self, Fetched};
                match http_archive::materialize(inner, url, writer, staging, algorithms).await? {
                    Fetched::Archive(m) => Ok(*m),
                    Fetched::NotAnArchive(why) => {
                        let writer = new_writer();
                        http_archive::as_git_repository(inner, url, why, writer, staging, warnings)
                            .await
                    }
                }
            }
            PackSource::Git { url, git_ref } => {
                source::git::materialize(inner, url, git_ref.as_deref(), writer, staging, warnings)
                    .await
            }
            PackSource::Registry {
                pack_ref,
                version,
                index,
            } => {
                let plan = self
                    .registry_plan(pack_ref, version, index.as_deref(), algorithms, warnings)
                    .await?;
                for (i, candidate) in plan.candidates.iter().enumerate() {
                    let fetched = Box::pin(self.materialize(
                        &candidate.source,
                        tree_root,
                        staging,
                        &plan.algorithms,
                        warnings,
                    ))
                    .await;
                    match fetched {
                        Ok(m) => return Ok(plan.finish(candidate, m)),
                        Err(e) => self.registry_fallback(&plan, i, e, tree_root, warnings)?,
                    }
                }
                Err(Error::Internal("a registry plan without sources".into()))
            }
        }
    }

    /// Every installed pack's receipt, sorted by ref.
    pub async fn list(&self) -> Result<Vec<Receipt>> {
        let store = self.lock().await?;
        blocking(move || store.receipts()).await
    }

    /// The receipt of an installed pack.
    pub async fn show(&self, pack_ref: &PackRef) -> Result<Receipt> {
        let store = self.lock().await?;
        store
            .receipt(pack_ref)?
            .ok_or_else(|| not_installed(pack_ref))
    }

    /// Removes a pack, its kept versions and its receipt: its directory is first moved out of
    /// place with one rename, so it is never seen half deleted. Refused while other installed
    /// packs depend on it, unless `force`.
    pub async fn uninstall(&self, pack_ref: &PackRef, force: bool) -> Result<Uninstalled> {
        let store = self.lock().await?;
        let pack_ref = pack_ref.clone();
        let done = blocking(move || {
            if store.receipt(&pack_ref)?.is_none() && !store.is_installed(&pack_ref) {
                return Err(not_installed(&pack_ref));
            }
            deps::check_removable(&pack_ref, &store.receipts()?, force)?;
            store.uninstall(&pack_ref)
        })
        .await?;
        for w in &done.warnings {
            self.inner.emit(Event::Warning(w.clone()));
        }
        Ok(done)
    }
}

/// Puts `receipt` in place of any receipt of the same pack.
fn upsert(receipts: &mut Vec<Receipt>, receipt: &Receipt) {
    receipts.retain(|have| have.pack_ref != receipt.pack_ref);
    receipts.push(receipt.clone());
}

fn not_installed(pack_ref: &PackRef) -> Error {
    Error::NotInstalled(pack_ref.clone())
}

/// sha256 for the receipt, plus the algorithm a required checksum names.
fn archive_algorithms(expected: Option<&Checksum>) -> Vec<Algorithm> {
    let mut algos = vec![Algorithm::Sha256];
    if let Some(c) = expected {
        if c.algorithm != Algorithm::Sha256 {
            algos.push(c.algorithm);
        }
    }
    algos
}
