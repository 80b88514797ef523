//! Keeping secrets out of output: URLs lose their userinfo and query string before they are
//! printed, logged, put in errors, receipts or cache keys shown to users.

/// `https://user:tok@host/p?sig=x#f` → `https://***@host/p?***`.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, url),
    };
    let (before_query, had_query) = match rest.find('?') {
        Some(i) => (&rest[..i], true),
        None => (rest.split('#').next().unwrap_or(rest), false),
    };
    let authority_end = before_query.find('/').unwrap_or(before_query.len());
    let (authority, path) = before_query.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((_, host)) if scheme.is_some() => format!("***@{host}"),
        _ => authority.to_owned(),
    };
    let mut out = String::new();
    if let Some(s) = scheme {
        out.push_str(s);
        out.push_str("://");
    }
    out.push_str(&authority);
    out.push_str(path);
    if had_query {
        out.push_str("?***");
    }
    out
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
            redact_url("git@github.com:o/r.git"),
            "git@github.com:o/r.git"
        );
        assert_eq!(
            redact_url("https://tok@h/r.git#main"),
            "https://***@h/r.git"
        );
    }
}
