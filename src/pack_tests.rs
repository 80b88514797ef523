//! Running a pack's own tests (pack.yaml `testing`) in staging, before anything is committed.
//! Test programs are the pack's code, run with the pack root as working directory; they are
//! asked not to write caches into the pack (bytecode, pytest cache), so the content checksum
//! of what is installed is the one that was verified.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::interrupt::Interrupt;
use crate::manifest::{OnFailure, Runner, RunnerKind, Testing};
use crate::receipt::{TestStatus, TestSummary};

/// The outcome of a pack's tests.
#[derive(Debug, Clone)]
pub struct TestOutcome {
    pub summary: TestSummary,
    /// Set when tests failed but `on_failure: warn` let the install go on.
    pub warning: Option<String>,
}

const DEFAULT_TIMEOUT: u64 = 300;

/// Runs every runner; fails with `tests_failed` when the pass rate is below `min_pass_rate`
/// and `on_failure` is `block`.
pub fn run(pack_dir: &Path, testing: &Testing, interrupt: &Interrupt) -> Result<TestOutcome> {
    if !testing.enabled || testing.runners.is_empty() {
        let status = if testing.enabled {
            TestStatus::None
        } else {
            TestStatus::Skipped
        };
        return Ok(TestOutcome {
            summary: TestSummary {
                status,
                ..Default::default()
            },
            warning: None,
        });
    }
    let mut summary = TestSummary::default();
    let mut failures = Vec::new();
    for (name, runner) in &testing.runners {
        let result = run_one(pack_dir, runner, interrupt)?;
        summary.passed += result.passed;
        summary.failed += result.failed;
        summary.skipped += result.skipped;
        if result.failed > 0 {
            failures.push(format!(
                "runner `{name}` ({}): {}",
                runner.entry_point, result.detail
            ));
        }
    }
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
    if rate + f64::EPSILON < testing.min_pass_rate {
        let message = format!(
            "{} passed, {} failed (pass rate {:.0}%, required {:.0}%)\n{}",
            summary.passed,
            summary.failed,
            rate * 100.0,
            testing.min_pass_rate * 100.0,
            failures.join("\n")
        );
        return match testing.on_failure {
            OnFailure::Block => Err(Error::TestsFailed(format!("{message}\n  hint: fix the pack, or pass --skip-tests to install without running them"))),
            OnFailure::Warn => Ok(TestOutcome { summary, warning: Some(format!("pack tests failed (on_failure: warn): {message}")) }),
        };
    }
    Ok(TestOutcome {
        summary,
        warning: None,
    })
}

struct RunnerResult {
    passed: u32,
    failed: u32,
    skipped: u32,
    detail: String,
}

fn run_one(pack_dir: &Path, runner: &Runner, interrupt: &Interrupt) -> Result<RunnerResult> {
    let entry = &runner.entry_point;
    if entry.starts_with('/') || entry.split('/').any(|c| c == "..") {
        return Err(Error::InvalidPack(format!(
            "pack.yaml: field `testing.runners.*.entry_point`: `{entry}` must be a path inside the pack"
        )));
    }
    let mut cmd = match runner.kind {
        RunnerKind::Script => {
            let path = pack_dir.join(entry);
            let mut c = if is_executable(&path) {
                Command::new(&path)
            } else {
                let mut c = Command::new("sh");
                c.arg(&path);
                c
            };
            c.current_dir(pack_dir);
            c
        }
        RunnerKind::Unittest => {
            let mut c = Command::new("python3");
            if pack_dir.join(entry).is_dir() {
                c.args(["-m", "unittest", "discover", "-s", entry, "-v"]);
            } else {
                c.args(["-m", "unittest", "-v", entry]);
            }
            c
        }
        RunnerKind::Pytest => {
            let mut c = Command::new("python3");
            c.args(["-m", "pytest", "-p", "no:cacheprovider", "-q", entry]);
            c
        }
    };
    cmd.current_dir(pack_dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| {
        Error::TestsFailed(format!(
            "cannot start the `{}` runner for `{entry}`: {e}",
            runner_name(runner.kind)
        ))
    })?;
    // Drain both pipes on threads so a chatty test cannot fill a pipe and stall.
    let out = child.stdout.take().map(drain);
    let err = child.stderr.take().map(drain);
    let timeout = Duration::from_secs(runner.timeout.unwrap_or(DEFAULT_TIMEOUT));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child
            .try_wait()
            .map_err(|e| Error::io("waiting for a pack test", e))?
        {
            break Some(status);
        }
        if interrupt.is_triggered() || start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    interrupt.check()?;
    let output = format!(
        "{}{}",
        out.and_then(|h| h.join().ok()).unwrap_or_default(),
        err.and_then(|h| h.join().ok()).unwrap_or_default()
    );
    let Some(status) = status else {
        return Ok(RunnerResult {
            passed: 0,
            failed: 1,
            skipped: 0,
            detail: format!("timed out after {} s", timeout.as_secs()),
        });
    };
    let tail: Vec<&str> = output
        .lines()
        .rev()
        .take(10)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let detail = format!(
        "exit status {}; last output:\n    {}",
        status.code().unwrap_or(-1),
        tail.join("\n    ")
    );
    let counts = match runner.kind {
        RunnerKind::Pytest => pytest_counts(&output),
        RunnerKind::Unittest => unittest_counts(&output),
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

fn drain(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(_path: &Path) -> bool {
    false
}

/// The count a summary line gives for `word`: pytest writes `3 passed, 1 failed`, unittest
/// writes `FAILED (failures=1, errors=2)`.
fn count_of(line: &str, word: &str) -> u32 {
    let tokens: Vec<&str> = line
        .split(|c: char| c == ',' || c.is_whitespace() || c == '(' || c == ')')
        .filter(|t| !t.is_empty())
        .collect();
    let keyed = tokens
        .iter()
        .filter_map(|t| t.split_once('='))
        .filter(|(k, _)| k.starts_with(word))
        .filter_map(|(_, v)| v.parse::<u32>().ok());
    let counted = tokens
        .windows(2)
        .filter(|w| w[1].starts_with(word))
        .filter_map(|w| w[0].parse::<u32>().ok());
    keyed.chain(counted).sum()
}

fn pytest_counts(output: &str) -> Option<(u32, u32, u32)> {
    let line = output
        .lines()
        .rev()
        .find(|l| l.contains(" passed") || l.contains(" failed") || l.contains(" error"))?;
    Some((
        count_of(line, "passed"),
        count_of(line, "failed") + count_of(line, "error"),
        count_of(line, "skipped"),
    ))
}

fn unittest_counts(output: &str) -> Option<(u32, u32, u32)> {
    let ran = output.lines().find_map(|l| {
        l.strip_prefix("Ran ")?
            .split_whitespace()
            .next()?
            .parse::<u32>()
            .ok()
    })?;
    let verdict = output
        .lines()
        .rev()
        .find(|l| l.starts_with("OK") || l.starts_with("FAILED"))?;
    let failed = count_of(verdict, "failures") + count_of(verdict, "errors");
    let skipped = count_of(verdict, "skipped");
    Some((ran.saturating_sub(failed + skipped), failed, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_runner_summaries() {
        assert_eq!(
            pytest_counts("....\n3 passed, 1 failed, 2 skipped in 0.12s\n"),
            Some((3, 1, 2))
        );
        assert_eq!(
            unittest_counts("Ran 5 tests in 0.001s\n\nFAILED (failures=1, errors=1, skipped=1)\n"),
            Some((2, 2, 1))
        );
        assert_eq!(
            unittest_counts("Ran 2 tests in 0.001s\n\nOK\n"),
            Some((2, 0, 0))
        );
    }
}
