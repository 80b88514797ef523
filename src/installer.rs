//! The library's entry point: an [`Installer`] for one store, built with an
//! [`InstallerBuilder`]. Its methods are async and run blocking work (file system,
//! extraction, hashing, git) on tokio's blocking pool.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::config::{self, Config, IndexConfig, NetPolicy, RegistryConfig};
use crate::context::{blocking, Context, Trust};
use crate::error::{Error, IoContext, Result};
use crate::fs::fsutil::Durability;
use crate::hooks::{InstallHooks, NoHooks};
use crate::integrity::freshness::SeenTimestamps;
use crate::model::events::EventSink;
use crate::model::history::Record;
use crate::model::pack_ref::PackRef;
use crate::model::receipt::Receipt;
use crate::net::oci::Credential;
use crate::net::{Connectivity, Network, PlainHttp};
use crate::pipeline::{
    self, BundleOptions, BundleReport, BundleVerified, InstallOptions, InstallReport,
    LockedOptions, LockedOutcome, Outdated, UpdateOptions, UpdateReport, Verified,
};
use crate::publish::{PushOptions, Pushed};
use crate::records::bundle_file::BundleManifest;
use crate::records::lockfile::Lockfile;
use crate::registry::{IndexStatus, Registry, SearchHit};
use crate::source::PackSource;
use crate::store::{LockedStore, Opened, ReadStore, RolledBack, Store, Uninstalled};
use crate::util::interrupt::Interrupt;

/// [`Store::lock`] or [`Store::read`].
type OpenWith<S> = fn(&Store, Duration, &dyn Fn(&Path), &Interrupt) -> Result<S>;

/// Builds an [`Installer`].
///
/// ```no_run
/// # async fn demo() -> Result<(), attune_pack::Error> {
/// use attune_pack::{DetectOptions, InstallOptions, Installer, PackSource};
/// let installer = Installer::builder().packs_dir("/tmp/packs").build()?;
/// let source = PackSource::detect("fixtures/packs/hello", &DetectOptions::new())?;
/// let report = installer.install(source, InstallOptions::new().force()).await?;
/// println!("{} {} at {}", report.receipt.pack_ref, report.receipt.version, report.receipt.path.display());
/// # Ok(()) }
/// ```
#[derive(Default)]
pub struct InstallerBuilder {
    packs_dir: Option<PathBuf>,
    cache_dir: Option<PathBuf>,
    runtime_envs_dir: Option<PathBuf>,
    config: Option<Config>,
    lock_timeout: Option<Duration>,
    events: Option<EventSink>,
    hooks: Option<Arc<dyn InstallHooks>>,
    interrupt: Option<Interrupt>,
    network: Network,
    allow_downgrade: bool,
    bundle: Option<PathBuf>,
    trusted_keys: Vec<String>,
}

impl InstallerBuilder {
    /// The store's directory (overrides the config's `packs_dir` and the default).
    pub fn packs_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.packs_dir = Some(dir.into());
        self
    }

    /// Where index documents are cached (overrides the config and the default).
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Where packs' Python environments are built, as `REF/python` (Attune's
    /// `runtime_envs_dir`; overrides the config's `runtime_envs_dir` and the default,
    /// `/opt/attune/runtime_envs` as root, else `$XDG_DATA_HOME/attune/runtime_envs`).
    pub fn runtime_envs_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.runtime_envs_dir = Some(dir.into());
        self
    }

    /// The configuration (default: [`Config::default`]).
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// How long to wait for another process's store lock (default 60 s).
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = Some(timeout);
        self
    }

    /// Where progress and warnings go ([`Event`](crate::Event)s; default: nowhere).
    pub fn on_event(mut self, sink: EventSink) -> Self {
        self.events = Some(sink);
        self
    }

    /// The embedding program's hooks around each commit.
    pub fn hooks(mut self, hooks: Arc<dyn InstallHooks>) -> Self {
        self.hooks = Some(hooks);
        self
    }

    /// A flag that, once triggered, stops the work at the next safe point (staging removed,
    /// store unchanged; [`Error::Interrupted`]).
    pub fn interrupt(mut self, interrupt: Interrupt) -> Self {
        self.interrupt = Some(interrupt);
        self
    }

    /// Allow plain `http://` sources and indices (also config `pack_registry.allow_http`).
    pub fn allow_http(mut self) -> Self {
        self.network.http = PlainHttp::Allowed;
        self
    }

    /// Which addresses may be contacted, over the config's `pack_registry.private_networks`.
    /// A server that installs what remote users name should pass
    /// [`NetPolicy::DenyPrivate`]: an install argument, an index entry or a redirect then
    /// cannot reach loopback, the server's private network or a cloud metadata service.
    ///
    /// ```no_run
    /// # fn demo() -> Result<(), attune_pack::Error> {
    /// use attune_pack::{Installer, NetPolicy};
    /// let installer = Installer::builder()
    ///     .packs_dir("/var/lib/attune/packs")
    ///     .net_policy(NetPolicy::DenyPrivate)
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn net_policy(mut self, policy: NetPolicy) -> Self {
        self.network.addresses = Some(policy);
        self
    }

    /// Accept a signed index or bundle older than one already seen by this store (a
    /// deliberate downgrade; otherwise it is refused as a possible replay).
    pub fn allow_downgrade(mut self) -> Self {
        self.allow_downgrade = true;
        self
    }

    /// Install from the offline bundle `file` (`bundle create` writes one): its index is the
    /// only one, dependencies resolve inside it, and nothing is fetched from the network.
    /// With trusted keys ([`trusted_key`](Self::trusted_key), else the config's
    /// `bundle_trusted_keys`) its signature must verify.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), attune_pack::Error> {
    /// use attune_pack::{InstallOptions, Installer, PackSource, VersionSpec};
    /// let installer = Installer::builder()
    ///     .packs_dir("/var/lib/attune/packs")
    ///     .bundle("/media/usb/site.bundle")
    ///     .trusted_key("RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3")
    ///     .build()?;
    /// let slack = PackSource::Registry { pack_ref: "slack".parse()?, version: VersionSpec::Latest, index: None };
    /// installer.install(slack, InstallOptions::new().with_deps()).await?;
    /// # Ok(()) }
    /// ```
    pub fn bundle(mut self, file: impl Into<PathBuf>) -> Self {
        self.bundle = Some(file.into());
        self
    }

    /// A minisign public key (`RWQ…`, or the path of a `.pub` file) the bundle must be signed
    /// by; given at least once, it replaces the config's `bundle_trusted_keys`.
    pub fn trusted_key(mut self, key: impl Into<String>) -> Self {
        self.trusted_keys.push(key.into());
        self
    }

    /// Use only cached indices and local sources.
    pub fn offline(mut self) -> Self {
        self.network.connectivity = Connectivity::Offline;
        self
    }

    /// The installer, with the packs and cache directories resolved.
    pub fn build(mut self) -> Result<Installer> {
        let mut config = self.config.take().unwrap_or_default();
        let bundle_only = self.bundle.is_some();
        if let Some(file) = self.bundle.take() {
            config.pack_registry = bundle_registry(&file, &config, &self.trusted_keys)?;
            self.network.connectivity = Connectivity::Offline;
        }
        let packs_dir = config::resolve_packs_dir(self.packs_dir.as_deref(), &config)?;
        let packs_dir =
            std::path::absolute(&packs_dir).ctx(|| format!("resolving {}", packs_dir.display()))?;
        let cache_dir = config::resolve_cache_dir(self.cache_dir.as_deref(), &config, &packs_dir);
        let envs =
            config::resolve_runtime_envs_dir(self.runtime_envs_dir.as_deref(), &config, &packs_dir);
        let envs = std::path::absolute(&envs).ctx(|| format!("resolving {}", envs.display()))?;
        // Resolved once: the pipeline builds there, the store switches and removes there.
        config.runtime_envs_dir = Some(envs.clone());
        let store = Store::new(packs_dir)
            .durability(Durability::from_config(config.sync))
            .runtime_envs(envs);
        let events = self.events.unwrap_or_else(crate::model::events::ignore);
        let interrupt = self.interrupt.unwrap_or_default();
        Ok(Installer {
            ctx: Context::new(
                config,
                cache_dir,
                events,
                interrupt,
                self.network,
                Trust {
                    seen: SeenTimestamps::of_store(store.packs_dir()),
                    allow_downgrade: self.allow_downgrade,
                    bundle_only,
                },
            ),
            store,
            hooks: self.hooks.unwrap_or_else(|| Arc::new(NoHooks)),
            lock_timeout: self.lock_timeout.unwrap_or(Duration::from_secs(60)),
        })
    }
}

/// The registry settings of an install from a bundle: the bundle as the only index.
fn bundle_registry(file: &Path, config: &Config, keys: &[String]) -> Result<RegistryConfig> {
    let file = std::path::absolute(file).ctx(|| format!("resolving {}", file.display()))?;
    if !file.is_file() {
        return Err(Error::NotFound(format!(
            "bundle {}: no such file",
            file.display()
        )));
    }
    if !crate::registry::is_bundle(&file) {
        return Err(Error::Usage(format!(
            "{} is not a bundle (`attune-pack bundle create` writes one)",
            file.display()
        )));
    }
    let trusted_keys = match keys.is_empty() {
        true => config.bundle_trusted_keys.clone(),
        false => keys.to_vec(),
    };
    Ok(RegistryConfig {
        enabled: true,
        indices: vec![IndexConfig {
            url: file.display().to_string(),
            name: Some("bundle".to_owned()),
            priority: 0,
            enabled: true,
            headers: Default::default(),
            trusted_keys,
        }],
        ..config.pack_registry.clone()
    })
}

/// Whether a change (an uninstall, a rollback) may leave other installed packs with a
/// dependency they no longer meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dependents {
    /// Refuse ([`Error::DependentsExist`], [`Error::BreaksDependents`]).
    #[default]
    Refuse,
    /// Change it anyway; the dependents are left with an unmet dependency.
    Ignore,
}

/// Installs, lists and removes packs in one store. Cheap to clone.
///
/// ```no_run
/// # async fn demo() -> Result<(), attune_pack::Error> {
/// use attune_pack::{Dependents, Installer, PackRef};
/// let installer = Installer::builder().packs_dir("/var/lib/attune/packs").build()?;
/// for receipt in installer.list().await? {
///     println!("{} {}", receipt.pack_ref, receipt.version);
/// }
/// let slack: PackRef = "slack".parse()?;
/// installer.uninstall(&slack, Dependents::Refuse).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Installer {
    ctx: Context,
    store: Store,
    hooks: Arc<dyn InstallHooks>,
    lock_timeout: Duration,
}

impl Installer {
    /// Starts building an installer.
    pub fn builder() -> InstallerBuilder {
        InstallerBuilder::default()
    }

    /// The store's directory.
    pub fn packs_dir(&self) -> &Path {
        self.store.packs_dir()
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        self.ctx.config()
    }

    /// Where index documents are cached.
    pub fn cache_dir(&self) -> &Path {
        self.ctx.cache_dir()
    }

    /// Takes the store lock (and recovers from interrupted commands).
    async fn lock_store(&self) -> Result<Arc<LockedStore>> {
        self.open(Store::lock).await
    }

    /// Takes a shared lock for reading (recovering first when an interrupted command left
    /// a change unfinished and this process may write); a missing store reads as empty.
    async fn read(&self) -> Result<Arc<ReadStore>> {
        self.open(Store::read).await
    }

    /// Opens the store with `how` on the blocking pool, telling the caller's event sink about
    /// the wait for the lock and what recovery did.
    async fn open<S: Opened + Send + Sync + 'static>(&self, how: OpenWith<S>) -> Result<Arc<S>> {
        let (store, timeout) = (self.store.clone(), self.lock_timeout);
        pipeline::opened(&self.ctx, move |on_wait, interrupt| {
            how(&store, timeout, on_wait, interrupt)
        })
        .await
    }

    /// Installs a pack from `source` (and, with [`InstallOptions::with_deps`], its missing
    /// dependencies from the registry first).
    pub async fn install(&self, source: PackSource, opts: InstallOptions) -> Result<InstallReport> {
        // Locked only for its final re-check and commit: fetching, extracting and testing
        // happen in its staging directory, and nobody waits behind them.
        let workspace = self.open(Store::workspace).await?;
        let timeout = self.lock_timeout;
        let hooks = self.hooks.as_ref();
        pipeline::install(&self.ctx, &workspace, timeout, hooks, source, opts).await
    }

    /// Publishes the pack at `pack_path` (a directory or an archive) to an OCI registry as
    /// `NAMESPACE/REF:VERSION` under `target` (`oci://HOST[:PORT]/NAMESPACE`), or with the
    /// options' tag, signed when they give a key.
    /// Credentials come from the auth files (see [`Installer::registry_login`]).
    ///
    /// ```no_run
    /// # async fn f() -> attune_pack::Result<()> {
    /// let installer = attune_pack::Installer::builder().build()?;
    /// let opts = attune_pack::PushOptions::new().tag("stable");
    /// let pushed = installer.push("packs/slack".as_ref(), "oci://registry.example/packs", opts).await?;
    /// println!("{}", pushed.digest);
    /// # Ok(()) }
    /// ```
    pub async fn push(&self, pack_path: &Path, target: &str, opts: PushOptions) -> Result<Pushed> {
        crate::publish::push(&self.ctx, pack_path, target, opts).await
    }

    /// Checks `credential` against registry `host` and stores it in the docker-format auth
    /// file (`oci.auth_file`, `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`);
    /// returns that file.
    pub async fn registry_login(&self, host: &str, credential: Credential) -> Result<PathBuf> {
        crate::publish::login(&self.ctx, host, credential).await
    }

    /// Removes `host`'s credentials from the auth file; whether it had any.
    pub async fn registry_logout(&self, host: &str) -> Result<bool> {
        crate::publish::logout(&self.ctx, host)
    }

    /// Every installed pack's receipt, sorted by ref.
    pub async fn list(&self) -> Result<Vec<Receipt>> {
        let store = self.read().await?;
        blocking(move || store.receipts()).await
    }

    /// The receipt of an installed pack.
    pub async fn show(&self, pack_ref: &PackRef) -> Result<Receipt> {
        let store = self.read().await?;
        let pack_ref = pack_ref.clone();
        blocking(move || {
            store
                .receipt(&pack_ref)?
                .ok_or(Error::NotInstalled(pack_ref))
        })
        .await
    }

    /// Hashes the files of the installed packs of `refs` (every installed pack when empty)
    /// again and compares them with the content checksums their receipts record, naming the
    /// files added, removed and changed since the install. A pack whose directory is gone is
    /// reported with every file removed. Read-only: a shared lock, and a missing store is
    /// never created. A ref without a receipt is [`Error::NotInstalled`]; a difference is not
    /// an error here ([`Verified::ok`] says), the command line makes it exit 3.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), attune_pack::Error> {
    /// use attune_pack::Installer;
    /// let installer = Installer::builder().packs_dir("/var/lib/attune/packs").build()?;
    /// for v in installer.verify(&[]).await?.iter().filter(|v| !v.ok()) {
    ///     println!("{}: added {:?}, removed {:?}, changed {:?}", v.pack_ref, v.added, v.removed, v.changed);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn verify(&self, refs: &[PackRef]) -> Result<Vec<Verified>> {
        let store = self.read().await?;
        pipeline::verify(&self.ctx, store, refs).await
    }

    /// Removes a pack, its kept versions and its receipt: its directory is first moved out of
    /// place with one rename, so it is never seen half deleted. The hooks see it as an
    /// [`Action::Uninstall`](crate::Action::Uninstall).
    pub async fn uninstall(
        &self,
        pack_ref: &PackRef,
        dependents: Dependents,
    ) -> Result<Uninstalled> {
        let store = self.lock_store().await?;
        let force = dependents == Dependents::Ignore;
        pipeline::uninstall(&self.ctx, &store, self.hooks.as_ref(), pack_ref, force).await
    }

    /// Swaps the active version of a pack with its most recently replaced kept version (a
    /// second rollback swaps them back), journaled like an install; the hooks see it as an
    /// [`Action::Rollback`](crate::Action::Rollback). Refused
    /// ([`Error::BreaksDependents`]) when installed packs that depend on it do not accept the
    /// kept version, unless `dependents` is [`Dependents::Ignore`].
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), attune_pack::Error> {
    /// use attune_pack::{Dependents, Installer, PackRef};
    /// let installer = Installer::builder().packs_dir("/var/lib/attune/packs").build()?;
    /// let slack: PackRef = "slack".parse()?;
    /// let done = installer.rollback(&slack, Dependents::Refuse).await?;
    /// println!("slack {} is active again ({} is kept)", done.receipt.version, done.from);
    /// # Ok(()) }
    /// ```
    pub async fn rollback(&self, pack_ref: &PackRef, dependents: Dependents) -> Result<RolledBack> {
        let store = self.lock_store().await?;
        let force = dependents == Dependents::Ignore;
        pipeline::rollback(&self.ctx, &store, self.hooks.as_ref(), pack_ref, force).await
    }

    /// Updates an installed pack: a registry pack to the highest version its requirement
    /// allows (or [`UpdateOptions::requirement`], or [`UpdateOptions::latest`]); a git,
    /// archive or local pack from its source again. The replaced version is kept for
    /// rollback; the hooks see an [`Action::Update`](crate::Action::Update).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), attune_pack::Error> {
    /// use attune_pack::{Installer, PackRef, UpdateOptions};
    /// let installer = Installer::builder().packs_dir("/var/lib/attune/packs").build()?;
    /// let report = installer.update(&"slack".parse::<PackRef>()?, UpdateOptions::new()).await?;
    /// match &report.updated {
    ///     Some(new) => println!("{} -> {}", report.from.version, new.receipt.version),
    ///     None => println!("up to date at {}", report.from.version),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn update(&self, pack_ref: &PackRef, opts: UpdateOptions) -> Result<UpdateReport> {
        let store = self.lock_store().await?;
        pipeline::update(&self.ctx, &store, self.hooks.as_ref(), pack_ref, &opts).await
    }

    /// The installed packs with something newer in the indices (and, with `check_sources`,
    /// git packs whose branch moved and archive URLs that changed).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), attune_pack::Error> {
    /// use attune_pack::Installer;
    /// let installer = Installer::builder().packs_dir("/var/lib/attune/packs").build()?;
    /// for o in installer.outdated(false).await? {
    ///     println!("{}: {} installed, {:?} wanted, {:?} latest", o.pack_ref, o.installed, o.wanted, o.latest);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn outdated(&self, check_sources: bool) -> Result<Vec<Outdated>> {
        let store = self.read().await?;
        let receipts = {
            let store = store.clone();
            blocking(move || store.receipts()).await?
        };
        pipeline::outdated(&self.ctx, &store, &receipts, check_sources).await
    }

    /// The lockfile of the installed packs (packs placed by hand, which record no source, are
    /// left out with a warning).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), attune_pack::Error> {
    /// use attune_pack::{Installer, LockedOptions};
    /// let here = Installer::builder().packs_dir("/var/lib/attune/packs").build()?;
    /// let lock = here.lock().await?;
    /// std::fs::write("packs.lock.json", lock.to_json()).unwrap();
    /// let there = Installer::builder().packs_dir("/srv/attune/packs").build()?;
    /// there.install_locked(&lock, LockedOptions::new().exact()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn lock(&self) -> Result<Lockfile> {
        let store = self.read().await?;
        let receipts = blocking(move || store.receipts()).await?;
        let (sourced, by_hand): (Vec<Receipt>, Vec<Receipt>) =
            receipts.into_iter().partition(|r| r.source.kind.is_some());
        for r in by_hand {
            self.ctx.warn(format!(
                "{} {} was placed by hand (no receipt of its source): not in the lockfile",
                r.pack_ref, r.version
            ));
        }
        Ok(Lockfile::of(&sourced))
    }

    /// Makes the store hold the packs of `lock`: every pack that differs is fetched,
    /// verified against the lockfile and tested before any is committed, then all are
    /// committed as one (see [`LockedOptions`]). Any difference is an
    /// [`Error::LockMismatch`] (or the checksum error) with nothing changed.
    pub async fn install_locked(
        &self,
        lock: &Lockfile,
        opts: LockedOptions,
    ) -> Result<Vec<LockedOutcome>> {
        let store = self.lock_store().await?;
        pipeline::install_locked(&self.ctx, &store, self.hooks.as_ref(), lock, &opts).await
    }

    /// Writes an offline bundle of packs to `output` (atomically: a failure leaves no file):
    /// each pack fetched and validated as an install would, archives kept byte for byte,
    /// git and directory packs as deterministic .tar.gz files; see `docs/bundles.md`.
    /// `SOURCE_DATE_EPOCH` fixes the bundle timestamp, making the bundle reproducible.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), attune_pack::Error> {
    /// use attune_pack::{BundleOptions, DetectOptions, Installer, PackSource};
    /// let installer = Installer::builder().packs_dir("/var/lib/attune/packs").build()?;
    /// let slack = PackSource::detect("slack@^2", &DetectOptions::new())?;
    /// let opts = BundleOptions::new().pack(slack).with_deps();
    /// let report = installer.bundle_create("packs.bundle".as_ref(), opts).await?;
    /// println!("{} packs", report.manifest.packs.len());
    /// # Ok(()) }
    /// ```
    pub async fn bundle_create(&self, output: &Path, opts: BundleOptions) -> Result<BundleReport> {
        let workspace = self.open(Store::workspace).await?;
        pipeline::bundle_create(&self.ctx, &workspace, output, opts).await
    }

    /// The packs of a bundle, once its structure and every digest are checked
    /// ([`Error::BundleTampered`] otherwise).
    pub async fn bundle_list(&self, bundle: &Path) -> Result<BundleManifest> {
        pipeline::bundle_list(bundle).await
    }

    /// Checks a bundle fully: structure, every digest, each pack unpacked with the
    /// installer's rules and matched against the manifest, and, with `trusted_keys` (minisign
    /// public keys; none: the config's `bundle_trusted_keys`), its signature
    /// ([`Error::SignatureInvalid`] when missing or bad). A signed bundle checked without
    /// keys gets a warning that the signature was not checked.
    pub async fn bundle_verify(
        &self,
        bundle: &Path,
        trusted_keys: &[String],
    ) -> Result<BundleVerified> {
        pipeline::bundle_verify(&self.ctx, bundle, trusted_keys).await
    }

    /// The history of changes to the store, oldest first, of every pack or of `pack_ref`.
    /// A line that cannot be read (torn by a crash mid-append) is skipped with a warning.
    /// An embedding program reconciles with it after a crash that another process
    /// recovered (those changes have the outcome [`Outcome::Recovered`](crate::Outcome::Recovered)).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), attune_pack::Error> {
    /// use attune_pack::{Installer, Outcome};
    /// let installer = Installer::builder().packs_dir("/var/lib/attune/packs").build()?;
    /// for r in installer.history(None).await? {
    ///     if r.outcome == Outcome::Recovered {
    ///         println!("{} {:?}: {:?} -> {:?} ({:?})", r.pack_ref, r.action, r.from, r.to, r.recovery);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn history(&self, pack_ref: Option<&PackRef>) -> Result<Vec<Record>> {
        let store = self.read().await?;
        let log = blocking(move || store.history()).await?;
        if log.unreadable > 0 {
            self.ctx.warn(format!(
                "{} line(s) of the history could not be read (torn by a crash, or damaged) and are skipped",
                log.unreadable
            ));
        }
        Ok(log
            .records
            .into_iter()
            .filter(|r| pack_ref.is_none_or(|p| r.pack_ref == *p))
            .collect())
    }

    /// Packs whose ref, label, keywords or description contain `query` (case-insensitive),
    /// in the enabled indices (or only the one named `registry`), in search order.
    pub async fn search(&self, query: &str, registry: Option<&str>) -> Result<Vec<SearchHit>> {
        let _store = self.read().await?;
        Registry::new(&self.ctx).search(query, registry).await
    }

    /// Every configured index (disabled ones too) with its cache age and whether it answers
    /// now; enabled remote indices are revalidated, which also refreshes their cache.
    pub async fn registries(&self) -> Result<Vec<IndexStatus>> {
        let _store = self.read().await?;
        Registry::new(&self.ctx).statuses().await
    }
}
