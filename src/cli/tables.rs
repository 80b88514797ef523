//! The human form of results: tables and `key: value` details. Text that came from a pack,
//! an index or a server is escaped before it reaches the terminal.

use attune_pack::terminal::escape;
use attune_pack::{EnvState, IndexStatus, Outdated, Receipt, Record, SearchHit};

/// `search` results, or what was searched for when nothing matched.
pub fn search_table(hits: &[SearchHit], query: &str) -> String {
    if hits.is_empty() {
        return format!("no pack matches `{}`", escape(query));
    }
    let mut rows = vec![["REF", "VERSION", "INDEX", "DESCRIPTION"].map(String::from)];
    rows.extend(hits.iter().map(|h| {
        [
            h.pack_ref.clone(),
            h.version.clone(),
            h.index.clone(),
            escape(&h.description).into_owned(),
        ]
    }));
    columns(&rows)
}

/// `registries`: one line per configured index.
pub fn registries_table(list: &[IndexStatus]) -> String {
    let mut rows = vec![[
        "NAME",
        "PRIORITY",
        "ENABLED",
        "REACHABLE",
        "CACHE AGE",
        "URL",
    ]
    .map(String::from)];
    rows.extend(list.iter().map(|i| {
        [
            i.name.clone(),
            i.priority.to_string(),
            i.enabled.to_string(),
            i.reachable.map_or("-".into(), |r| r.to_string()),
            i.cache_age_secs.map_or("-".into(), |s| format!("{s} s")),
            i.url.clone(),
        ]
    }));
    columns(&rows)
}

/// One line per installed pack, aligned.
pub fn receipt_table(receipts: &[Receipt]) -> String {
    if receipts.is_empty() {
        return "no packs installed".into();
    }
    let mut rows = vec![["REF", "VERSION", "SOURCE"].map(String::from)];
    rows.extend(receipts.iter().map(|r| {
        [
            r.pack_ref.to_string(),
            r.version.to_string(),
            source_text(r) + env_mark(r),
        ]
    }));
    columns(&rows)
}

/// What `list` says of a pack whose Python environment is not as its receipt records.
fn env_mark(r: &Receipt) -> &'static str {
    match attune_pack::env_state(r) {
        EnvState::Missing => "  [python env missing]",
        EnvState::Stale => "  [python env stale]",
        EnvState::Ready | EnvState::NotBuilt => "",
    }
}

/// The ref, commit and subdir a receipt's source records (what `list` leaves out).
fn source_detail(r: &Receipt) -> String {
    let s = &r.source;
    let parts: Vec<String> = [
        s.git_ref.as_ref().map(|v| format!("ref {}", escape(v))),
        s.commit.as_ref().map(|v| format!("commit {v}")),
        s.digest.as_ref().map(|v| format!("digest {v}")),
        s.subdir.as_ref().map(|v| format!("subdir {}", escape(v))),
    ]
    .into_iter()
    .flatten()
    .collect();
    match parts.is_empty() {
        true => "-".to_owned(),
        false => parts.join(", "),
    }
}

fn source_text(r: &Receipt) -> String {
    let s = &r.source;
    let place = s.url.clone().or_else(|| s.path.clone()).unwrap_or_default();
    let place = escape(&place);
    let kind = s.kind.map(|k| name_of(&k)).unwrap_or_default();
    match (&s.index, &s.commit) {
        (Some(i), _) => format!("{kind} {place} (index {i})"),
        (None, Some(c)) => format!("{kind} {place} @ {}", &c[..c.len().min(12)]),
        _ => format!("{kind} {place}"),
    }
}

/// A receipt as `key: value` lines.
pub fn receipt_details(r: &Receipt) -> String {
    let mut lines = vec![
        format!("ref:          {}", r.pack_ref),
        format!("version:      {}", r.version),
        format!("label:        {}", escape(&r.label)),
        format!("path:         {}", r.path.display()),
        format!(
            "installed_at: {}",
            r.installed_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|_| r.installed_at.to_string())
        ),
        format!(
            "requirement:  {}",
            r.requirement.as_deref().unwrap_or("(none: the latest)")
        ),
        format!("source:       {}", source_text(r)),
        format!("from:         {}", source_detail(r)),
        format!("content:      {}", r.checksum.content),
    ];
    if let Some(a) = &r.checksum.archive {
        lines.push(format!("archive:      {a}"));
    }
    lines.push(format!(
        "tests:        {} ({} passed, {} failed, {} skipped)",
        name_of(&r.tests.status),
        r.tests.passed,
        r.tests.failed,
        r.tests.skipped
    ));
    lines.push(env_line(r));
    if !r.dependencies.is_empty() {
        lines.push(format!(
            "dependencies: {}",
            escape(&r.dependencies.join(", "))
        ));
    }
    if let Some(v) = &r.stackstorm_version {
        lines.push(format!(
            "stackstorm:   {} (pack.yaml `stackstorm_version`; not checked)",
            escape(v)
        ));
    }
    lines.join("\n")
}

/// `show`'s line for the Python environment: its status, where, with which Python and
/// requirements, and what is wrong with it on disk.
fn env_line(r: &Receipt) -> String {
    let env = &r.env;
    let mut line = format!("env:          {}", env.status.name());
    if let Some(path) = &env.path {
        line.push_str(&format!(" {}", path.display()));
    }
    if let Some(python) = &env.python {
        line.push_str(&format!(" (Python {python})"));
    }
    if let Some(sum) = &env.requirements {
        line.push_str(&format!(", requirements {sum}"));
    }
    line + env_mark(r)
}

/// `outdated`: one line per pack with something newer.
pub fn outdated_table(list: &[Outdated]) -> String {
    if list.is_empty() {
        return "every installed pack is up to date".into();
    }
    let mut rows =
        vec![["REF", "INSTALLED", "WANTED", "LATEST", "INDEX", "COMMIT"].map(String::from)];
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    rows.extend(list.iter().map(|o| {
        [
            o.pack_ref.clone(),
            o.installed.clone(),
            or_dash(&o.wanted),
            or_dash(&o.latest),
            or_dash(&o.index),
            o.commit
                .as_ref()
                .map_or("-".into(), |c| c[..c.len().min(12)].to_owned()),
        ]
    }));
    columns(&rows)
}

/// `history`: one line per change, oldest first.
pub fn history_table(records: &[Record]) -> String {
    if records.is_empty() {
        return "no changes recorded".into();
    }
    let mut rows =
        vec![["TIME", "ACTION", "REF", "FROM", "TO", "OUTCOME", "USER"].map(String::from)];
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    rows.extend(records.iter().map(|r| {
        let outcome = match (&r.error, r.recovery) {
            (Some(code), _) => format!("{} ({code})", name_of(&r.outcome)),
            (None, Some(how)) => format!("{} ({})", name_of(&r.outcome), name_of(&how)),
            (None, None) => name_of(&r.outcome),
        };
        [
            r.time.clone(),
            name_of(&r.action),
            r.pack_ref.to_string(),
            or_dash(&r.from),
            or_dash(&r.to),
            outcome,
            escape(&r.user.clone().unwrap_or_default()).into_owned(),
        ]
    }));
    columns(&rows)
}

/// A unit enum's name as its JSON spells it (`local_directory`, `passed`, `rollback`).
fn name_of<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Rows as left-aligned columns (the last column unpadded).
fn columns<const N: usize>(rows: &[[String; N]]) -> String {
    let widths: Vec<usize> = (0..N)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|r| {
            r.iter()
                .zip(&widths)
                .enumerate()
                .map(|(c, (cell, w))| {
                    if c + 1 == N {
                        cell.clone()
                    } else {
                        format!("{cell:w$}  ")
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}
