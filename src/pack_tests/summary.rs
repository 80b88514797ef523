//! Reading pass/fail/skip counts from what test runners print: pytest's last summary line
//! (`3 passed, 1 failed in 0.1s`) and unittest's `Ran N tests` with its verdict
//! (`FAILED (failures=1, errors=2)`).

/// pytest's counts: (passed, failed including errors, skipped).
pub fn pytest(output: &str) -> Option<(u32, u32, u32)> {
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

/// unittest's counts: (passed, failed including errors, skipped).
pub fn unittest(output: &str) -> Option<(u32, u32, u32)> {
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

/// The count a summary line gives for `word`, in either notation (`3 passed` or
/// `failures=1`).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_runner_summaries() {
        assert_eq!(
            pytest("....\n3 passed, 1 failed, 2 skipped in 0.12s\n"),
            Some((3, 1, 2))
        );
        assert_eq!(
            unittest("Ran 5 tests in 0.001s\n\nFAILED (failures=1, errors=1, skipped=1)\n"),
            Some((2, 2, 1))
        );
        assert_eq!(unittest("Ran 2 tests in 0.001s\n\nOK\n"), Some((2, 0, 0)));
    }
}
