//! Running a pack's own tests (pack.yaml `testing`) before anything is committed. The tests
//! are the pack's code, untrusted: they run in a scratch copy of the staged pack that is
//! thrown away afterwards, with an environment of their own (`env`), confined to that copy
//! (`sandbox`), so nothing they write (reports, caches, files a background process writes
//! later) can reach the installed pack or the store. Each runner is its own process group,
//! ended whole, with whatever it left outside the group, when it finishes or times out.

mod env;
mod runner;
mod sandbox;
mod scratch;
mod strays;
mod summary;

pub use env::{is_locale, search_path};

use std::path::Path;
use std::time::Duration;

use crate::error::{Error, IoContext, Result};
use crate::model::receipt::{TestStatus, TestSummary};
use crate::pack::manifest::{OnFailure, Runner, RunnerKind, Testing};
use crate::util::interrupt::Interrupt;

/// The outcome of a pack's tests.
#[derive(Debug, Clone)]
pub struct TestOutcome {
    pub summary: TestSummary,
    /// The runners that ran, as `NAME (TYPE)`.
    pub runners: Vec<String>,
    /// Set when tests failed but `on_failure: warn` let the install go on.
    pub warning: Option<String>,
    /// The config's `test_env` names that were not passed, being secrets attune-pack holds.
    pub withheld: Vec<String>,
}

/// What the tests run with, from the config.
pub struct Setup {
    /// The interpreter unittest and pytest run under.
    pub python: String,
    /// The caller's variables passed to the tests (`test_env`).
    pub test_env: Vec<String>,
    /// Who the tests run as when this process is root (`test_user`).
    pub test_user: String,
    /// The variables index headers read, withheld from the tests.
    pub header_variables: Vec<String>,
}

/// A runner's command as the pack's tests all get it.
struct Launch<'a> {
    python: &'a str,
    env: &'a [(std::ffi::OsString, std::ffi::OsString)],
    confinement: &'a sandbox::Confinement,
}

const DEFAULT_TIMEOUT: u64 = 300;

/// The lines of a failing runner's output shown (its end, where the failures and the
/// summary are).
const OUTPUT_LINES: usize = 40;

/// Runs every runner on a copy of `pack_dir` made inside `scratch` (an empty directory that
/// the caller removes), confined to it; fails with `tests_failed` when the pass rate is below
/// `min_pass_rate` and `on_failure` is `block`.
pub fn run(
    pack_dir: &Path,
    scratch: &Path,
    testing: &Testing,
    setup: &Setup,
    interrupt: &Interrupt,
) -> Result<TestOutcome> {
    if !testing.enabled || testing.runners.is_empty() {
        return Ok(not_run(testing));
    }
    let copy = scratch.join("pack");
    scratch::copy_tree(pack_dir, &copy)?;
    let tmp = scratch.join("tmp");
    std::fs::create_dir(&tmp).ctx(|| format!("creating {}", tmp.display()))?;
    let confinement = sandbox::Confinement::prepare(scratch, pack_dir, &setup.test_user)?;
    let (env, withheld) = env::build(&env::Sources {
        scratch,
        python: &setup.python,
        pack: &testing.env,
        pass: &setup.test_env,
        header_variables: &setup.header_variables,
    });
    let launch = Launch {
        python: &setup.python,
        env: &env,
        confinement: &confinement,
    };
    let mut summary = TestSummary {
        sandbox: Some(confinement.kind),
        ..Default::default()
    };
    let mut failures = Vec::new();
    for (name, runner) in &testing.runners {
        let result = run_one(&copy, runner, &launch, interrupt)?;
        summary.passed += result.passed;
        summary.failed += result.failed;
        summary.skipped += result.skipped;
        if result.failed > 0 {
            failures.push(format!(
                "runner `{name}` ({}): {}",
                crate::model::terminal::escape(&runner.entry_point),
                result.detail
            ));
        }
    }
    let mut outcome = judge(summary, failures, testing)?;
    outcome.withheld = withheld;
    outcome.runners = testing
        .runners
        .iter()
        .map(|(name, r)| {
            format!(
                "{} ({})",
                crate::model::terminal::escape(name),
                runner_name(r.kind)
            )
        })
        .collect();
    Ok(outcome)
}

/// The outcome of tests that are disabled, or that have no runner.
fn not_run(testing: &Testing) -> TestOutcome {
    let status = match testing.enabled {
        true => TestStatus::None,
        false => TestStatus::Skipped,
    };
    TestOutcome {
        summary: TestSummary {
            status,
            ..Default::default()
        },
        runners: Vec::new(),
        warning: None,
        withheld: Vec::new(),
    }
}

/// The pass rate against `min_pass_rate`, and what `on_failure` makes of a shortfall.
fn judge(
    mut summary: TestSummary,
    failures: Vec<String>,
    testing: &Testing,
) -> Result<TestOutcome> {
    let total = summary.passed + summary.failed;
    let rate = if total == 0 {
        1.0
    } else {
        summary.passed as f64 / total as f64
    };
    summary.status = if summary.failed == 0 {
        TestStatus::Passed
    } else {
        TestStatus::Failed
    };
    if rate + f64::EPSILON >= testing.min_pass_rate {
        return Ok(TestOutcome {
            summary,
            runners: Vec::new(),
            warning: None,
            withheld: Vec::new(),
        });
    }
    let message = format!(
        "{} passed, {} failed (pass rate {:.0}%, required {:.0}%)\n{}",
        summary.passed,
        summary.failed,
        rate * 100.0,
        testing.min_pass_rate * 100.0,
        failures.join("\n")
    );
    match testing.on_failure {
        OnFailure::Block => Err(Error::TestsFailed(message)),
        OnFailure::Warn => Ok(TestOutcome {
            summary,
            runners: Vec::new(),
            warning: Some(format!("pack tests failed (on_failure: warn): {message}")),
            withheld: Vec::new(),
        }),
    }
}

struct RunnerResult {
    passed: u32,
    failed: u32,
    skipped: u32,
    detail: String,
}

fn run_one(
    pack_dir: &Path,
    runner: &Runner,
    launch: &Launch,
    interrupt: &Interrupt,
) -> Result<RunnerResult> {
    let entry = &runner.entry_point;
    if entry.starts_with('/') || entry.split('/').any(|c| c == "..") {
        return Err(Error::InvalidPack(format!(
            "pack.yaml: field `testing.runners.*.entry_point`: `{}` must be a path inside the pack",
            crate::model::terminal::escape(entry)
        )));
    }
    if runner.kind == RunnerKind::Script && !pack_dir.join(entry).exists() {
        // Said plainly: a shell's "cannot open" about a scratch path helps nobody. (A
        // Python runner's entry point may be a module name rather than a path.)
        return Ok(RunnerResult {
            passed: 0,
            failed: 1,
            skipped: 0,
            detail: "its entry point is not in the pack".to_owned(),
        });
    }
    let timeout = Duration::from_secs(runner.timeout.unwrap_or(DEFAULT_TIMEOUT));
    let mut command = runner::command(pack_dir, runner, launch.python);
    command.env_clear().envs(launch.env.iter().cloned());
    launch.confinement.apply(&mut command);
    let ran = runner::run(command, timeout, interrupt).map_err(|e| {
        Error::TestsFailed(format!(
            "cannot start the `{}` runner for `{}`: {e}",
            runner_name(runner.kind),
            crate::model::terminal::escape(entry)
        ))
    })?;
    interrupt.check()?;
    let Some(status) = ran.status else {
        return Ok(RunnerResult {
            passed: 0,
            failed: 1,
            skipped: 0,
            detail: format!(
                "timed out after {} s; its process group was killed",
                timeout.as_secs()
            ),
        });
    };
    let tail: Vec<&str> = ran.output.lines().rev().take(OUTPUT_LINES).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    let detail = format!(
        "exit status {}; last output:\n    {}",
        status.code().unwrap_or(-1),
        crate::model::terminal::escape_output(&tail.join("\n")).replace('\n', "\n    ")
    );
    let counts = match runner.kind {
        RunnerKind::Pytest => summary::pytest(&ran.output),
        RunnerKind::Unittest => summary::unittest(&ran.output),
        RunnerKind::Script => None,
    };
    let (passed, mut failed, skipped) = counts.unwrap_or(if status.success() {
        (1, 0, 0)
    } else {
        (0, 1, 0)
    });
    if !status.success() && failed == 0 {
        // A runner that exits non-zero failed, whatever it printed.
        failed = 1;
    }
    Ok(RunnerResult {
        passed,
        failed,
        skipped,
        detail,
    })
}

fn runner_name(kind: RunnerKind) -> &'static str {
    match kind {
        RunnerKind::Script => "script",
        RunnerKind::Unittest => "unittest",
        RunnerKind::Pytest => "pytest",
    }
}
