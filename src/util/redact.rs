//! Keeping secrets out of output: URLs lose their userinfo and query string before they are
//! printed, logged, put in errors, receipts or cache keys shown to users. The userinfo is
//! found however the URL is malformed (a `/`, `?`, `#`, `@` or `:` in the password): when in
//! doubt, more is hidden, never less.

/// `https://user:tok@host/p?sig=x#f` → `https://***@host/p?***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return strip_query(url);
    };
    match (userinfo(url), secret_userinfo(url)) {
        (Some(_), Some(info)) => {
            format!("{scheme}://***@{}", strip_query(&rest[info.len() + 1..]))
        }
        _ => format!("{scheme}://{}", strip_query(rest)),
    }
}

/// The userinfo of `scheme://USERINFO@host/…`: everything before the last `@`, when that
/// part is an authority (no `/`, `?` or `#` in it) or holds a `:` (a password, whatever
/// follows it). A URL such as `http://user:pa/ss@host/x`, which URL parsers split at the
/// first `/`, keeps its password here.
/// An `oci://` reference has none: its `@` starts a digest or a version requirement.
pub fn userinfo(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme.eq_ignore_ascii_case("oci") {
        return None;
    }
    let info = &rest[..rest.rfind('@')?];
    let authority = !info.contains(['/', '?', '#']);
    (authority || info.contains(':')).then_some(info)
}

/// The userinfo of `url` when it may be a secret: anything but an ssh user name without a
/// password (ssh authenticates with keys: `ssh://git@host/…` names no secret, and does not
/// work without its user).
pub fn secret_userinfo(url: &str) -> Option<&str> {
    let info = userinfo(url)?;
    let ssh = url
        .split_once("://")
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("ssh"));
    (!ssh || info.contains(':')).then_some(info)
}

/// `text` (a library's message about `url`) with the URL and its userinfo hidden wherever
/// they appear in it.
pub fn scrub(text: &str, url: &str) -> String {
    let mut text = text.replace(url, &redact_url(url));
    if let Some(info) = secret_userinfo(url) {
        text = text.replace(info, "***");
    }
    text
}

/// `path?query#fragment` → `path?***` (or `path` when there is no query).
fn strip_query(rest: &str) -> String {
    match rest.split_once('?') {
        Some((path, _)) => format!("{path}?***"),
        None => rest.split('#').next().unwrap_or(rest).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn strips_userinfo_and_query() {
        assert_eq!(
            redact_url("https://u:p@h.example/a.tgz?X-Amz-Signature=s"),
            "https://***@h.example/a.tgz?***"
        );
        assert_eq!(redact_url("https://h/a.zip"), "https://h/a.zip");
        assert_eq!(
            redact_url("oci://r.example:5000/ns/a@sha256:00"),
            "oci://r.example:5000/ns/a@sha256:00"
        );
        assert_eq!(
            redact_url("git@github.com:o/r.git"),
            "git@github.com:o/r.git"
        );
        assert_eq!(
            redact_url("ssh://git@github.com/o/r.git"),
            "ssh://git@github.com/o/r.git"
        );
        assert_eq!(
            redact_url("ssh://git:pw@github.com/o/r.git"),
            "ssh://***@github.com/o/r.git"
        );
        assert_eq!(
            redact_url("https://tok@h/r.git#main"),
            "https://***@h/r.git"
        );
    }

    #[test]
    fn malformed_userinfo_is_hidden_whole() {
        for (url, shown) in [
            (
                "http://user:pa/ss@127.0.0.1:8/x.tar.gz",
                "http://***@127.0.0.1:8/x.tar.gz",
            ),
            (
                "http://user:pa?ss@127.0.0.1:8/x.tar.gz",
                "http://***@127.0.0.1:8/x.tar.gz",
            ),
            (
                "http://user:pa#ss@127.0.0.1:8/x.tar.gz",
                "http://***@127.0.0.1:8/x.tar.gz",
            ),
            (
                "http://user:p@ss@127.0.0.1:8/x.tar.gz",
                "http://***@127.0.0.1:8/x.tar.gz",
            ),
            ("http://user:pa%2Fss@h/x", "http://***@h/x"),
            ("http://user:pa/ss@h/x?q=1", "http://***@h/x?***"),
            (
                "https://host/pkg/@scope/x.tgz",
                "https://host/pkg/@scope/x.tgz",
            ),
            ("https://host/x.tgz?sig=a@b", "https://host/x.tgz?***"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
            for secret in ["pa/ss", "pa?ss", "pa#ss", "p@ss", "pa%2Fss"] {
                assert!(!redact_url(url).contains(secret), "{url}");
            }
        }
    }
}
