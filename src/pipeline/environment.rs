//! Stage 5b: the pack's Python environment (see `runtime_env`), built (or reused) after its
//! dependencies are checked and before its tests, which run under its interpreter. It is
//! held until the commit, which switches it in with the pack; an install that fails before
//! then removes one it built.

use std::time::Duration;

use crate::context::{blocking, Context};
use crate::error::{Error, Result};
use crate::model::events::{Event, Phase};
use crate::model::receipt::{EnvStatus, ReceiptEnv};
use crate::net::Connectivity;
use crate::pack::python;
use crate::runtime_env::{self, PipSettings, PreparedEnv, Request};

use super::options::InstallOptions;
use super::validate::Validated;

/// How long an install waits for another one that builds (or holds for its commit) the same
/// environment: long enough for that one's tests, and a bound on two installs that wait for
/// each other's environments.
const BUILDING_WAIT: Duration = Duration::from_secs(300);

/// What stage 5b gives the rest of the install.
pub(crate) struct Env {
    /// What the receipt says of it.
    pub receipt: ReceiptEnv,
    /// The environment, held for the commit (none when none was built).
    pub prepared: Option<PreparedEnv>,
}

impl Env {
    /// The interpreter the pack's tests run under: its environment's, when it has one.
    pub fn python(&self) -> Option<String> {
        self.prepared
            .as_ref()
            .map(|p| p.python.to_string_lossy().into_owned())
    }
}

/// Builds `v`'s environment, unless it needs none or building was turned off.
pub(crate) async fn build(ctx: &Context, v: &Validated, opts: &InstallOptions) -> Result<Env> {
    let manifest = &v.manifest;
    let dir = v.located.dir.clone();
    let found = {
        let manifest = manifest.clone();
        blocking(move || runtime_env::needs(&manifest, &dir)).await?
    };
    let none = |receipt| Env {
        receipt,
        prepared: None,
    };
    let (Some(requirements), Some(envs)) = (found, ctx.config().runtime_envs_dir.clone()) else {
        return Ok(none(ReceiptEnv::default()));
    };
    let root = envs.join(&manifest.pack_ref);
    let mut receipt = ReceiptEnv {
        path: Some(root.join(runtime_env::LINK)),
        requirements: Some(requirements.sha256()),
        ..Default::default()
    };
    if opts.skip_env || !ctx.config().build_envs {
        // The config's `build_envs: false` is the host's policy (its workers build them):
        // only a `--skip-env` of this install is worth a warning.
        if opts.skip_env {
            ctx.warn(format!(
                "{} {}: its Python environment is not built, as asked; its Python actions may not run",
                manifest.pack_ref, manifest.version
            ));
        }
        receipt.status = EnvStatus::Skipped;
        return Ok(none(receipt));
    }
    ctx.emit(Event::Phase(Phase::Environment));
    let (program, version) = interpreter(ctx, v).await?;
    receipt.python = Some(version.to_string());
    let request = Request {
        pack_ref: manifest.pack_ref.clone(),
        root,
        requirements,
        python: program,
        version,
        pip: pip_settings(ctx),
        quiet_for: Duration::from_secs(ctx.config().pack_registry.timeout.max(1)),
        lock_timeout: BUILDING_WAIT,
    };
    let prepared = prepare(ctx, request).await?;
    receipt.status = EnvStatus::Ready;
    receipt.dir = Some(prepared.dir.clone());
    Ok(Env {
        receipt,
        prepared: Some(prepared),
    })
}

/// The interpreter the pack's Python requirements accept (the config's `python`, else a
/// `python3.N` on `PATH`); with none, the config's (the dependency check said so already,
/// and `--skip-deps` let the install go on).
async fn interpreter(ctx: &Context, v: &Validated) -> Result<(String, semver::Version)> {
    let wanted = v.manifest.python.clone();
    let configured = ctx.config().python.clone();
    let interrupt = ctx.interrupt().clone();
    let chosen = blocking(move || {
        Ok(match python::choose(&wanted, &configured, &interrupt) {
            Ok(found) => Ok(found),
            Err(problems) => match python::choose(&[], &configured, &interrupt) {
                Ok(fallback) => Ok(fallback),
                Err(_) => Err(problems),
            },
        })
    })
    .await?;
    ctx.interrupt().check()?;
    chosen.map_err(|problems| Error::DependencyUnmet {
        pack: v.manifest.pack_ref.clone(),
        version: v.manifest.version.to_string(),
        problems: match problems.is_empty() {
            true => vec![format!(
                "its Python environment needs an interpreter, and `{}` (config `python`) cannot be run",
                ctx.config().python
            )],
            false => problems,
        },
    })
}

/// How pip reaches packages: the config's index settings, `--offline` as `--no-index`, the
/// caller's proxy and the config's CA file given explicitly, the cache dir's shared wheels.
fn pip_settings(ctx: &Context) -> PipSettings {
    let config = ctx.config();
    let proxy = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|p| !p.is_empty()));
    PipSettings {
        index_url: config.pip_index_url.clone(),
        extra_index_urls: config.pip_extra_index_urls.clone(),
        find_links: config.pip_find_links.clone(),
        no_index: ctx.network().connectivity == Connectivity::Offline,
        proxy,
        cert: config.pack_registry.ca_file.clone(),
        cache_dir: ctx.cache_dir().join("pip"),
        sync: config.sync,
    }
}

/// Builds (or reuses) the environment off the async runtime, passing pip's lines on as
/// events.
async fn prepare(ctx: &Context, request: Request) -> Result<PreparedEnv> {
    let (events, interrupt) = (ctx.clone(), ctx.interrupt().clone());
    blocking(move || {
        let on_line = |line: &str| events.emit(Event::EnvOutput(line.to_owned()));
        runtime_env::prepare(&request, &interrupt, &on_line)
    })
    .await
}
