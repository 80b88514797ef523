//! Text from packs, indices and archives shown on a terminal: C0 and C1 control characters and
//! DEL are escaped, so a hostile entry name or label cannot move the cursor, retitle the
//! window or forge lines of output.

use std::borrow::Cow;

/// Whether `c` is a control character a terminal could act on (C0, DEL, C1).
pub fn is_control(c: char) -> bool {
    c.is_control()
}

/// `s` with every control character written as an escape (`\n`, `\t`, `\r`, else `\u{1b}`).
pub fn escape(s: &str) -> Cow<'_, str> {
    escape_except(s, &[])
}

/// Like [`escape`], but keeps line breaks: for multi-line text whose lines are the unit
/// (a test runner's output).
pub fn escape_lines(s: &str) -> Cow<'_, str> {
    escape_except(s, &['\n'])
}

/// Keeps the layout characters attune-pack's own messages use (line breaks and tabs) and
/// escapes every other control character: the last guard before text reaches a terminal.
pub fn escape_output(s: &str) -> Cow<'_, str> {
    escape_except(s, &['\n', '\t'])
}

fn escape_except<'a>(s: &'a str, keep: &[char]) -> Cow<'a, str> {
    if !s.chars().any(|c| is_control(c) && !keep.contains(&c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            c if !is_control(c) || keep.contains(&c) => out.push(c),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_c0_c1_and_del() {
        assert_eq!(escape("plain"), "plain");
        assert_eq!(escape("a\x1b[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(escape("x\u{9b}31m\x7f"), "x\\u{9b}31m\\u{7f}");
        assert_eq!(escape("l1\nl2\t\r"), "l1\\nl2\\t\\r");
        assert_eq!(escape_lines("l1\nl2\x07"), "l1\nl2\\u{7}");
        assert_eq!(escape_output("a\n\tb\x1b"), "a\n\tb\\u{1b}");
    }
}
