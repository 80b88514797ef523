//! Stage 6: the pack's own tests, run on a scratch copy inside staging that is removed
//! afterwards (see `pack_tests`).

use crate::context::{blocking, Context};
use crate::error::{IoContext, Result};
use crate::events::{Event, Phase};
use crate::pack_tests;
use crate::receipt::{TestStatus, TestSummary};

use super::validate::Validated;

/// Runs the tests `v`'s pack.yaml declares (none, when `skip`).
pub(crate) async fn run(ctx: &Context, v: &Validated, skip: bool) -> Result<TestSummary> {
    if skip {
        return Ok(TestSummary {
            status: TestStatus::Skipped,
            ..Default::default()
        });
    }
    let Some(testing) = v.manifest.testing.clone() else {
        return Ok(TestSummary::default());
    };
    ctx.emit(Event::Phase(Phase::RunningTests));
    let dir = v.located.dir.clone();
    let scratch = v.staged.staging.path().join("tests");
    let interrupt = ctx.interrupt().clone();
    let outcome = blocking(move || {
        std::fs::create_dir(&scratch).ctx(|| format!("creating {}", scratch.display()))?;
        let outcome = pack_tests::run(&dir, &scratch, &testing, &interrupt);
        // The tests' copy, and whatever they left, go now: none of it is installed.
        let _ = std::fs::remove_dir_all(&scratch);
        outcome
    })
    .await?;
    if let Some(w) = outcome.warning {
        ctx.warn(w);
    }
    Ok(outcome.summary)
}
