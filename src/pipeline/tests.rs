//! Stage 6: the pack's own tests, run sandboxed on a scratch copy that is removed afterwards
//! (see `pack_tests`); the staged pack is re-hashed after them, so that what is committed is
//! what was verified.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::context::{blocking, Context};
use crate::error::{Error, IoContext, Result};
use crate::integrity::hashing::directory_checksum;
use crate::model::checksum::Checksum;
use crate::model::events::{Event, Phase};
use crate::model::receipt::{Sandbox, TestStatus, TestSummary};
use crate::pack_tests;

use super::validate::Validated;

/// How a pack's tests went, and the runners that ran (none when none did).
pub(crate) struct Tested {
    pub summary: TestSummary,
    pub runners: Vec<String>,
}

/// Runs the tests `v`'s pack.yaml declares (none, when `skip`), Python runners under `python`
/// (its environment's interpreter; none: the config's `python`).
pub(crate) async fn run(
    ctx: &Context,
    v: &Validated,
    skip: bool,
    python: Option<String>,
) -> Result<Tested> {
    let none = |status| Tested {
        summary: TestSummary {
            status,
            ..Default::default()
        },
        runners: Vec::new(),
    };
    if skip {
        return Ok(none(TestStatus::Skipped));
    }
    let manifest = &v.manifest;
    if manifest
        .testing
        .as_ref()
        .is_none_or(|t| t.runners.is_empty())
        && v.located.dir.join("tests").is_dir()
    {
        // StackStorm packs ship tests/ for their own CI, with no runner attune-pack could
        // start: say so, rather than report "none" as if there were no tests.
        ctx.warn(format!(
            "{} {}: tests/ found but pack.yaml declares no runner; not run",
            manifest.pack_ref, manifest.version
        ));
    }
    let Some(testing) = manifest.testing.clone() else {
        return Ok(none(TestStatus::None));
    };
    ctx.emit(Event::Phase(Phase::RunningTests));
    let dir = v.located.dir.clone();
    let interrupt = ctx.interrupt().clone();
    let config = ctx.config();
    let setup = pack_tests::Setup {
        python: python.unwrap_or_else(|| config.python.clone()),
        test_env: config.test_env.clone(),
        test_user: config.test_user.clone(),
        header_variables: config.header_variables.clone(),
    };
    let content = v.content.clone();
    let outcome = blocking(move || {
        // Outside the store, in the system's temporary directory: a test user other than
        // this process's must be able to reach it, and nothing in it is ever installed.
        let scratch = tempfile::Builder::new()
            .prefix("attune-pack-tests-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .ctx(|| {
                format!(
                    "creating a scratch directory in {}",
                    std::env::temp_dir().display()
                )
            })?;
        let outcome = pack_tests::run(&dir, scratch.path(), &testing, &setup, &interrupt)?;
        unchanged(&dir, &content, &outcome.summary)?;
        Ok(outcome)
    })
    .await?;
    if !outcome.withheld.is_empty() {
        ctx.warn(format!(
            "not passed to the pack's tests, being secrets attune-pack may hold: {} (config `test_env`)",
            outcome.withheld.join(", ")
        ));
    }
    if let Some(w) = outcome.warning {
        ctx.warn(w);
    }
    Ok(Tested {
        summary: outcome.summary,
        runners: outcome.runners,
    })
}

/// The staged pack is still the one verified, whatever the tests did: it is what is
/// committed.
fn unchanged(dir: &Path, verified: &Checksum, summary: &TestSummary) -> Result<()> {
    let now = directory_checksum(dir)?;
    if &now == verified {
        return Ok(());
    }
    let sandbox = summary.sandbox.map_or("none", Sandbox::name);
    Err(Error::TestsFailed(format!(
        "sandbox breach: the pack's tests changed the staged pack that was verified \
         (content checksum {verified}, now {now}; sandbox: {sandbox}); it is not installed: \
         report it to the pack's author, and install it only from a source you trust"
    )))
}
