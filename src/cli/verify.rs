//! `verify [REF…]`: the installed packs' files checked against their receipts. Like the
//! commands over several arguments (`batch.rs`), the result is one array, element per pack,
//! printed whether or not a pack differs; a difference is then reported on stderr and is
//! exit 3 (`verify_mismatch`), and each pack that differs carries `error` in the array.

use attune_pack::{Error, Installer, PackRef, Verified};
use serde_json::{json, Value};

use super::batch::Exit;
use super::output::Output;

pub async fn verify(installer: &Installer, args: &[String], out: &Output) -> Result<(), Exit> {
    let refs = args
        .iter()
        .map(|a| a.parse())
        .collect::<Result<Vec<PackRef>, _>>()?;
    let verified = installer.verify(&refs).await?;
    let differing: Vec<PackRef> = verified
        .iter()
        .filter(|v| !v.ok())
        .map(|v| v.pack_ref.clone())
        .collect();
    let mismatch = (!differing.is_empty()).then_some(Error::VerifyMismatch { packs: differing });
    let docs = verified.iter().map(|v| document(v, mismatch.as_ref()));
    out.result(Value::Array(docs.collect()), || report(&verified));
    match mismatch {
        None => Ok(()),
        Some(e) => Err(Exit::Code(out.failure(&e))),
    }
}

/// `{ref, ok, added, removed, changed, missing, files_recorded}`, and `error` for a pack
/// that differs.
fn document(v: &Verified, mismatch: Option<&Error>) -> Value {
    let mut doc = json!({
        "ref": v.pack_ref,
        "ok": v.ok(),
        "added": v.added,
        "removed": v.removed,
        "changed": v.changed,
        "missing": v.missing(),
        "files_recorded": v.files_recorded,
        "env": v.env_problem,
    });
    if let (false, Some(e)) = (v.ok(), mismatch) {
        doc["error"] = json!({"code": e.code(), "message": summary(v)});
    }
    doc
}

/// One line per pack, then one per file that differs.
fn report(verified: &[Verified]) -> String {
    if verified.is_empty() {
        return "No packs installed".to_owned();
    }
    let mut lines = Vec::new();
    for v in verified {
        lines.push(format!("{} {}: {}", v.pack_ref, v.version, summary(v)));
        for (what, paths) in [
            ("added", &v.added),
            ("removed", &v.removed),
            ("changed", &v.changed),
        ] {
            lines.extend(paths.iter().map(|p| format!("  {what:<8} {p}")));
        }
    }
    lines.join("\n")
}

fn summary(v: &Verified) -> String {
    let files_ok = v.actual.as_ref() == Some(&v.expected);
    if let (true, Some(problem)) = (files_ok, &v.env_problem) {
        return problem.clone();
    }
    match (files_ok, v.missing(), v.files_recorded) {
        (true, ..) => "ok".to_owned(),
        (_, true, _) => "its directory is missing: every file is removed".to_owned(),
        (_, _, true) => {
            let counts = [
                (v.added.len(), "added"),
                (v.removed.len(), "removed"),
                (v.changed.len(), "changed"),
            ];
            let counts: Vec<String> = counts
                .iter()
                .filter(|(n, _)| *n > 0)
                .map(|(n, what)| format!("{n} {what}"))
                .collect();
            format!("differs from its receipt ({})", counts.join(", "))
        }
        _ => format!(
            "differs from its receipt (content {}, the receipt says {}); no file list was recorded at its install, so the files cannot be named",
            v.actual.as_ref().map_or_else(String::new, ToString::to_string),
            v.expected
        ),
    }
}
