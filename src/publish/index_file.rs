//! Index files as `index update` and `index merge` write them: in the shape Attune's own
//! reader requires (see [`super::attune`]), top-level fields included. Entries are kept as
//! written, apart from those repairs, so an entry Attune reads survives even when attune-pack
//! cannot install it (a warning says so).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::{Error, IoContext, Result};
use crate::model::events::{Event, EventSink};
use crate::model::receipt::now_rfc3339;
use crate::pack::manifest::parse_lenient_version;
use crate::registry::index::{entry_label, read_entry, PackEntry};

use super::attune::{repair_entry, repair_top, EntryKey};

/// The top-level strings of an index file that only its publisher knows
/// (`--registry-name`, `--registry-url`); `None` keeps the file's own.
#[derive(Debug, Clone, Default)]
pub struct IndexHeader {
    /// The registry's name, as people know it.
    pub registry_name: Option<String>,
    /// The registry's home page.
    pub registry_url: Option<String>,
}

/// Whether `index update` added a new entry or replaced one of the same ref and version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Updated {
    /// The entry is new to the index.
    Added,
    /// It replaced the entry of the same ref and version.
    Replaced,
}

/// Adds `entry` to the index file at `path` (created when missing), replacing an entry of the
/// same ref and version; the file is replaced atomically. Other entries are kept as written
/// but for what Attune could not read (repaired, or dropped when they have no usable ref or
/// version), each change reported as an [`Event::Warning`].
pub fn update_index(
    path: &Path,
    entry: &PackEntry,
    header: &IndexHeader,
    events: &EventSink,
) -> Result<Updated> {
    let mut doc = match std::fs::read(path) {
        Ok(bytes) => read_index_document(path, &bytes)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    };
    let new = serde_json::to_value(entry).map_err(|e| Error::Internal(e.to_string()))?;
    let shown = path.display().to_string();
    let mut outcome = Updated::Added;
    let mut packs = Vec::new();
    for (pos, raw) in take_packs(&mut doc).into_iter().enumerate() {
        let Some((key, raw)) = attune_ready(raw, pos, &shown, events) else {
            continue;
        };
        let same = key.pack_ref == entry.pack_ref.as_str()
            && parse_lenient_version(&key.version).is_ok_and(|(v, _)| v == entry.version);
        match (same, outcome) {
            (false, _) => packs.push(raw),
            (true, Updated::Added) => {
                packs.push(new.clone());
                outcome = Updated::Replaced;
            }
            // A second entry of that version: the new one stands for both.
            (true, Updated::Replaced) => {}
        }
    }
    if outcome == Updated::Added {
        packs.push(new);
    }
    finish_top(&mut doc, header, now_rfc3339(), events);
    doc.insert("packs".into(), Value::Array(packs));
    write_index(path, &Value::Object(doc))?;
    Ok(outcome)
}

/// What [`merge_indices`] does with two different entries for the same ref and version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflicts {
    /// Refuse the merge (`index merge`).
    Refuse,
    /// The later input's entry wins, with a warning (`index merge --force`).
    LaterWins,
}

/// The entries merged so far, one per ref and version, with the input each came from.
#[derive(Default)]
struct Merged {
    entries: Vec<(Value, String)>,
    /// Where each ref and version is in `entries`: indices hold tens of thousands of entries.
    at: HashMap<(String, String), usize>,
}

impl Merged {
    fn add(
        &mut self,
        key: &EntryKey,
        value: Value,
        from: &str,
        conflicts: Conflicts,
        events: &EventSink,
    ) -> Result<()> {
        let version = parse_lenient_version(&key.version)
            .map_or_else(|_| key.version.clone(), |(v, _)| v.to_string());
        let (r, v) = (&key.pack_ref, &key.version);
        match self.at.get(&(r.clone(), version.clone())).copied() {
            None => {
                self.at.insert((r.clone(), version), self.entries.len());
                self.entries.push((value, from.to_owned()));
            }
            Some(i) if self.entries[i].0 == value => {}
            Some(i) if conflicts == Conflicts::LaterWins => {
                events(&Event::Warning(format!(
                    "`{r}` {v}: the entry of {from} replaces the different one of {} (forced)",
                    self.entries[i].1
                )));
                self.entries[i] = (value, from.to_owned());
            }
            Some(i) => {
                return Err(Error::Conflict(format!(
                    "conflicting entries for `{r}` {v}: {} and {from} differ",
                    self.entries[i].1
                )))
            }
        }
        Ok(())
    }
}

/// Combines index files into one document: entries in input order, one per ref and version,
/// each kept as its input wrote it but for what Attune could not read (see
/// [`update_index`]). Top-level fields come from the first input that has them (`flags`
/// first); `last_updated` is the newest of the inputs'. Changes and dropped entries are
/// reported as [`Event::Warning`]s.
pub fn merge_indices(
    inputs: &[PathBuf],
    conflicts: Conflicts,
    header: &IndexHeader,
    events: &EventSink,
) -> Result<Value> {
    let mut top: Option<Map<String, Value>> = None;
    let mut newest: Option<(OffsetDateTime, String)> = None;
    let mut merged = Merged::default();
    for path in inputs {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).ctx(|| format!("reading {shown}"))?;
        let mut doc = read_index_document(path, &bytes)?;
        let packs = take_packs(&mut doc);
        newest = newer(newest, doc.get("last_updated"));
        fill_top(&mut top, doc);
        for (pos, raw) in packs.into_iter().enumerate() {
            if let Some((key, value)) = attune_ready(raw, pos, &shown, events) {
                merged.add(&key, value, &shown, conflicts, events)?;
            }
        }
    }
    let mut doc = top.unwrap_or_default();
    let last_updated = newest.map_or_else(now_rfc3339, |(_, text)| text);
    finish_top(&mut doc, header, last_updated, events);
    let packs = merged.entries.into_iter().map(|(v, _)| v).collect();
    doc.insert("packs".into(), Value::Array(packs));
    Ok(Value::Object(doc))
}

/// The first input's top-level fields; those it lacks, from later inputs.
fn fill_top(top: &mut Option<Map<String, Value>>, doc: Map<String, Value>) {
    match top {
        None => *top = Some(doc),
        Some(top) => {
            for (key, value) in doc {
                top.entry(key).or_insert(value);
            }
        }
    }
}

/// The later of `newest` and an input's `last_updated` (RFC 3339; other text is ignored).
fn newer(
    newest: Option<(OffsetDateTime, String)>,
    candidate: Option<&Value>,
) -> Option<(OffsetDateTime, String)> {
    let text = candidate.and_then(Value::as_str);
    let parsed = text.and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());
    match (newest, parsed) {
        (Some(n), Some(p)) if n.0 >= p => Some(n),
        (_, Some(p)) => Some((p, text.unwrap_or_default().to_owned())),
        (n, None) => n,
    }
}

/// The top-level fields Attune requires, warning about those nobody gave.
fn finish_top(
    doc: &mut Map<String, Value>,
    header: &IndexHeader,
    last_updated: String,
    events: &EventSink,
) {
    let mut warnings = Vec::new();
    repair_top(doc, header, &mut warnings);
    warnings
        .into_iter()
        .for_each(|w| events(&Event::Warning(w)));
    doc.insert("last_updated".into(), Value::String(last_updated));
}

/// The entry as Attune can read it (each repair a warning), with its ref and version; `None`
/// (with a warning naming it) when it has no usable ref or version. An entry attune-pack
/// cannot read is kept: Attune reads it, and dropping it would lose a pack.
fn attune_ready(
    mut raw: Value,
    pos: usize,
    shown: &str,
    events: &EventSink,
) -> Option<(EntryKey, Value)> {
    let label = entry_label(raw.get("ref"), raw.get("version"), pos);
    let warn = |w: String| events(&Event::Warning(w));
    let (key, fixes) = match repair_entry(&mut raw) {
        Ok(done) => done,
        Err(why) => {
            warn(format!("{shown}, pack entry {label}: {why}; entry dropped"));
            return None;
        }
    };
    for fix in fixes {
        warn(format!("{shown}, pack entry {label}: {fix}"));
    }
    if let Err(why) = read_entry(raw.clone(), pos, shown, &mut Vec::new()) {
        warn(format!(
            "{why}: attune-pack cannot install this entry; kept as written (Attune reads it)"
        ));
    }
    Some((key, raw))
}

/// Writes an index document, pretty-printed, atomically.
pub fn write_index(path: &Path, doc: &Value) -> Result<()> {
    let mut text = serde_json::to_vec_pretty(doc).map_err(|e| Error::Internal(e.to_string()))?;
    text.push(b'\n');
    crate::fs::fsutil::write_atomic(
        path,
        &text,
        crate::fs::fsutil::Durability::Sync,
        "index.write",
    )
}

fn read_index_document(path: &Path, bytes: &[u8]) -> Result<Map<String, Value>> {
    let doc: Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::Usage(format!("{} is not JSON: {e}", path.display())))?;
    match doc {
        Value::Object(doc) if doc.get("packs").is_some_and(Value::is_array) => Ok(doc),
        _ => Err(Error::Usage(format!(
            "{} is not a registry index (no `packs` list)",
            path.display()
        ))),
    }
}

fn take_packs(doc: &mut Map<String, Value>) -> Vec<Value> {
    match doc.remove("packs") {
        Some(Value::Array(packs)) => packs,
        _ => Vec::new(),
    }
}
