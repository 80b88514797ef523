//! What an entry name means on file systems other than the one staging is on: which names
//! are `.git` for git itself (case-insensitive, trailing dots and spaces stripped, NTFS short
//! names and streams, HFS+ ignorable code points), and which names collide (Unicode
//! normalisation and case folding, as on macOS and Windows).

use unicode_normalization::UnicodeNormalization;

/// Whether a path component is `.git` for some file system git runs on: `.git`, `.GIT`,
/// `.git.`, `.git ` (Windows strips trailing dots and spaces), `git~1` (its NTFS short
/// name), `.git::$INDEX_ALLOCATION` (an NTFS stream), `.g\u{200c}it` (HFS+ ignores some
/// code points). The same list git checks before it writes a path.
pub fn is_dotgit(component: &str) -> bool {
    let visible: String = component
        .chars()
        .filter(|c| !is_hfs_ignorable(*c))
        .flat_map(char::to_lowercase)
        .collect();
    ["git~1", ".git"].iter().any(|git| {
        visible
            .strip_prefix(git)
            .is_some_and(|rest| rest.starts_with(':') || rest.chars().all(|c| c == '.' || c == ' '))
    })
}

/// Code points HFS+ drops when it compares names (git's `is_hfs_dotgit` list).
fn is_hfs_ignorable(c: char) -> bool {
    matches!(c,
        '\u{200c}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{206a}'..='\u{206f}' | '\u{feff}')
}

/// The key two names collide on when they are the same file on some file system: each
/// component case-folded after canonical decomposition, recomposed (NFC), with trailing dots
/// and spaces dropped (Windows).
pub fn collision_key(path: &str) -> String {
    if path.is_ascii() {
        return path
            .split('/')
            .map(|c| c.trim_end_matches(['.', ' ']).to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join("/");
    }
    path.split('/')
        .map(|c| {
            let folded: String = c.nfd().flat_map(fold).collect();
            folded
                .nfc()
                .collect::<String>()
                .trim_end_matches(['.', ' '])
                .to_owned()
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Case folding: lower case, plus the full foldings lower case lacks where they matter for
/// names (`ß` and `ss`, final and medial sigma).
fn fold(c: char) -> impl Iterator<Item = char> {
    let special: Option<&'static str> = match c {
        'ß' | 'ẞ' => Some("ss"),
        'ς' => Some("σ"),
        _ => None,
    };
    let lower = special
        .is_none()
        .then(|| c.to_lowercase())
        .into_iter()
        .flatten();
    special.into_iter().flat_map(str::chars).chain(lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_dotgit() {
        for name in [
            ".git",
            ".GIT",
            ".Git",
            ".git.",
            ".git ",
            ".git. .",
            "git~1",
            "GIT~1",
            ".git::$INDEX_ALLOCATION",
            ".g\u{200c}it",
            "\u{feff}.git",
        ] {
            assert!(is_dotgit(name), "{name:?}");
        }
        for name in [
            ".gitignore",
            ".github",
            "git",
            ".gitx",
            "x.git",
            ".git~1x",
            "git~2",
        ] {
            assert!(!is_dotgit(name), "{name:?}");
        }
    }

    #[test]
    fn collisions_across_normalisation_case_and_trailing_dots() {
        let same = |a: &str, b: &str| collision_key(a) == collision_key(b);
        assert!(same("README.md", "readme.MD"));
        assert!(same("caf\u{e9}", "cafe\u{301}")); // NFC and NFD
        assert!(same("CAF\u{c9}", "cafe\u{301}"));
        assert!(same("stra\u{df}e", "STRASSE"));
        assert!(same("dir/a.", "dir/a"));
        assert!(same("a /b", "a/b"));
        assert!(!same("a/b", "a/c"));
        assert!(!same("caf\u{e9}", "cafe"));
    }
}
