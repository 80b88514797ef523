//! Stage 6: the pack's own tests, run on a scratch copy inside staging that is removed
//! afterwards (see `pack_tests`).

use crate::context::{blocking, Context};
use crate::error::{IoContext, Result};
use crate::events::{Event, Phase};
use crate::pack_tests;
use crate::receipt::{TestStatus, TestSummary};

use super::validate::Validated;

/// How a pack's tests went, and the runners that ran (none when none did).
pub(crate) struct Tested {
    pub summary: TestSummary,
    pub runners: Vec<String>,
}

/// Runs the tests `v`'s pack.yaml declares (none, when `skip`).
pub(crate) async fn run(ctx: &Context, v: &Validated, skip: bool) -> Result<Tested> {
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
    let scratch = v.staged.staging.path().join("tests");
    let interrupt = ctx.interrupt().clone();
    let python = ctx.config().python.clone();
    let outcome = blocking(move || {
        std::fs::create_dir(&scratch).ctx(|| format!("creating {}", scratch.display()))?;
        let outcome = pack_tests::run(&dir, &scratch, &testing, &python, &interrupt);
        // The tests' copy, and whatever they left, go now: none of it is installed.
        let _ = std::fs::remove_dir_all(&scratch);
        outcome
    })
    .await?;
    if let Some(w) = outcome.warning {
        ctx.warn(w);
    }
    Ok(Tested {
        summary: outcome.summary,
        runners: outcome.runners,
    })
}
