//! The human form of results: tables and `key: value` details. Text that came from a pack,
//! an index or a server is escaped before it reaches the terminal.

use attune_pack::terminal::escape;
use attune_pack::{IndexStatus, Receipt, SearchHit};

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
            source_text(r),
        ]
    }));
    columns(&rows)
}

fn source_text(r: &Receipt) -> String {
    let s = &r.source;
    let place = s.url.clone().or_else(|| s.path.clone()).unwrap_or_default();
    let place = escape(&place);
    let kind = s
        .kind
        .map(|k| {
            serde_json::to_value(k)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        })
        .unwrap_or_default();
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
        format!("installed_at: {}", r.installed_at),
        format!("source:       {}", source_text(r)),
        format!("content:      {}", r.checksum.content),
    ];
    if let Some(a) = &r.checksum.archive {
        lines.push(format!("archive:      {a}"));
    }
    lines.push(format!(
        "tests:        {} ({} passed, {} failed, {} skipped)",
        serde_json::to_value(r.tests.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        r.tests.passed,
        r.tests.failed,
        r.tests.skipped
    ));
    if !r.dependencies.is_empty() {
        lines.push(format!("dependencies: {}", r.dependencies.join(", ")));
    }
    lines.join("\n")
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
