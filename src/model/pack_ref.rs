//! A pack's ref: the name it is installed under. It becomes a directory name in the store, so
//! it is validated once, here, and every store operation takes a [`PackRef`] instead of a string:
//! neither the command line nor an embedding program can make the store touch `..`, `''` or
//! `.attune-pack`.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

/// What a ref may be, for messages.
pub const REF_RULE: &str =
    "a pack ref is 1 to 64 characters: lowercase letters, digits, `_` and `-`, starting with a letter or digit";

/// A valid pack ref: `[a-z0-9][a-z0-9_-]{0,63}`.
///
/// ```
/// use attune_pack::PackRef;
/// let slack: PackRef = "slack".parse()?;
/// assert_eq!(slack.as_str(), "slack");
/// assert!("../etc".parse::<PackRef>().is_err());
/// assert!(".attune-pack".parse::<PackRef>().is_err());
/// # Ok::<(), attune_pack::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct PackRef(String);

impl PackRef {
    /// Validates `s`; `None` when it is not a ref.
    pub fn new(s: &str) -> Option<PackRef> {
        is_valid(s).then(|| PackRef(s.to_owned()))
    }

    /// The ref as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_valid(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

/// Text that is not a pack ref (a usage error, exit 2, when it came from a user).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{}` is not a pack ref: {REF_RULE}", crate::model::terminal::escape(.0))]
pub struct InvalidRef(pub String);

impl FromStr for PackRef {
    type Err = InvalidRef;

    fn from_str(s: &str) -> Result<Self, InvalidRef> {
        PackRef::new(s).ok_or_else(|| InvalidRef(s.to_owned()))
    }
}

impl<'de> Deserialize<'de> for PackRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PackRef::new(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{}` is not a pack ref",
                crate::model::terminal::escape(&s)
            ))
        })
    }
}

impl Deref for PackRef {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for PackRef {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl AsRef<std::path::Path> for PackRef {
    fn as_ref(&self) -> &std::path::Path {
        std::path::Path::new(&self.0)
    }
}

impl Borrow<str> for PackRef {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PackRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for PackRef {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for PackRef {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_pack_yaml_rule_passes() {
        for ok in ["a", "slack", "0x", "a_b-c", &"a".repeat(64)] {
            assert!(PackRef::new(ok).is_some(), "{ok}");
        }
        for bad in [
            "",
            "..",
            ".",
            "../victim",
            ".attune-pack",
            "a/b",
            "A",
            "-a",
            "_a",
            "a b",
            "a\0",
            "é",
            &"a".repeat(65),
        ] {
            assert!(PackRef::new(bad).is_none(), "{bad:?}");
            let e = crate::Error::from(bad.parse::<PackRef>().unwrap_err());
            assert_eq!(e.exit_code(), 2, "{bad:?}");
        }
        assert!(serde_json::from_str::<PackRef>("\"../x\"").is_err());
        assert_eq!(
            serde_json::from_str::<PackRef>("\"ok\"").unwrap().as_str(),
            "ok"
        );
    }
}
