//! What Attune's own index reader (its `PackIndex` type) requires of an index file, and the
//! repairs that bring an entry there. Attune refuses a whole index for one entry it cannot
//! read, and it is stricter than attune-pack about shapes (every required field a string or a
//! list, never `null`) while laxer about values (any checksum text, any version text). So the
//! files attune-pack writes are checked against Attune's shapes, not against attune-pack's
//! reader.

use serde_json::{Map, Value};

/// Strings every entry must have besides `ref` and `version`.
const REQUIRED_TEXT: [&str; 4] = ["label", "description", "author", "license"];
/// Strings an entry may have (`null` or absent, else a string).
const OPTIONAL_TEXT: [&str; 3] = ["email", "homepage", "repository"];
/// The lists of `contents`.
const CONTENT_KINDS: [&str; 5] = ["actions", "sensors", "triggers", "rules", "workflows"];

/// The entry's ref and version, as [`repair_entry`] found them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct EntryKey {
    pub pack_ref: String,
    pub version: String,
}

/// Makes `raw` an entry Attune can read, changing only what Attune could not read: a required
/// string that is missing or `null` becomes `""`, a number becomes its text, a value of the
/// wrong shape is removed (or emptied when Attune requires it), `contents` counts become
/// empty lists. Returns the entry's key and one sentence per repair; `Err` (why) when the
/// entry has no usable `ref` or `version`, so nothing can make it an entry.
pub(crate) fn repair_entry(raw: &mut Value) -> Result<(EntryKey, Vec<String>), String> {
    let Value::Object(obj) = raw else {
        return Err("not an object".into());
    };
    let mut fixes = Vec::new();
    let pack_ref = key_text(obj, "ref", &mut fixes)?;
    let version = key_text(obj, "version", &mut fixes)?;
    for key in REQUIRED_TEXT {
        required_text(obj, key, "", &mut fixes);
    }
    for key in OPTIONAL_TEXT {
        optional_text(obj, key, "", &mut fixes);
    }
    text_list(obj, "keywords", "", false, &mut fixes);
    text_list(obj, "runtime_deps", "", true, &mut fixes);
    install_sources(obj, &mut fixes);
    contents(obj, &mut fixes);
    dependencies(obj, &mut fixes);
    meta(obj, &mut fixes);
    Ok((EntryKey { pack_ref, version }, fixes))
}

/// `ref` or `version`: a non-empty string (a number is taken as its text).
fn key_text(
    obj: &mut Map<String, Value>,
    key: &str,
    fixes: &mut Vec<String>,
) -> Result<String, String> {
    match obj.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::Number(n)) => {
            let text = n.to_string();
            fixes.push(format!(
                "`{key}` was the number {text}; written as a string"
            ));
            obj.insert(key.into(), Value::String(text.clone()));
            Ok(text)
        }
        _ => Err(format!("no usable `{key}`")),
    }
}

/// A string Attune requires at `at{key}`.
fn required_text(obj: &mut Map<String, Value>, key: &str, at: &str, fixes: &mut Vec<String>) {
    let why = match obj.get(key) {
        Some(Value::String(_)) => return,
        Some(Value::Number(n)) => {
            let text = n.to_string();
            fixes.push(format!(
                "`{at}{key}` was the number {text}; written as a string"
            ));
            obj.insert(key.into(), Value::String(text));
            return;
        }
        None => "missing",
        Some(Value::Null) => "null",
        Some(_) => "not a string",
    };
    fixes.push(format!(
        "`{at}{key}` {why}; written as \"\" (Attune requires a string)"
    ));
    obj.insert(key.into(), Value::String(String::new()));
}

/// A string Attune reads when present: `null` and absent are fine, another shape is removed.
fn optional_text(obj: &mut Map<String, Value>, key: &str, at: &str, fixes: &mut Vec<String>) {
    match obj.get(key) {
        None | Some(Value::Null) | Some(Value::String(_)) => {}
        Some(Value::Number(n)) => {
            let text = n.to_string();
            fixes.push(format!(
                "`{at}{key}` was the number {text}; written as a string"
            ));
            obj.insert(key.into(), Value::String(text));
        }
        Some(_) => {
            fixes.push(format!("`{at}{key}` is not a string; removed"));
            obj.remove(key);
        }
    }
}

/// A list of strings (`required`: Attune has no default for it). Numbers become their text,
/// other items are removed.
fn text_list(
    obj: &mut Map<String, Value>,
    key: &str,
    at: &str,
    required: bool,
    fixes: &mut Vec<String>,
) {
    let items = match obj.get_mut(key) {
        None if !required => return,
        Some(Value::Array(items)) => items,
        other => {
            let why = match other {
                None => "missing",
                Some(Value::Null) => "null",
                Some(_) => "not a list",
            };
            fixes.push(format!("`{at}{key}` {why}; written as []"));
            obj.insert(key.into(), Value::Array(Vec::new()));
            return;
        }
    };
    let before = items.len();
    items.retain_mut(|item| match item {
        Value::String(_) => true,
        Value::Number(n) => {
            *item = Value::String(n.to_string());
            true
        }
        _ => false,
    });
    if items.len() != before {
        fixes.push(format!(
            "`{at}{key}`: {} items that are not strings removed",
            before - items.len()
        ));
    }
}

/// A list of objects at `key` (`[]` when missing or of another shape), each kept when `keep`
/// says so after repairing it.
fn object_list(
    obj: &mut Map<String, Value>,
    key: &str,
    at: &str,
    fixes: &mut Vec<String>,
    mut keep: impl FnMut(&mut Map<String, Value>, &str, &mut Vec<String>) -> bool,
) {
    let items = match obj.get_mut(key) {
        Some(Value::Array(items)) => std::mem::take(items),
        other => {
            let why = match other {
                None => "missing".to_owned(),
                Some(Value::Null) => "null".to_owned(),
                Some(Value::Number(n)) if at == "contents." => {
                    format!("a count ({n}), as Attune's CLI writes it; Attune reads lists")
                }
                Some(_) => "not a list".to_owned(),
            };
            fixes.push(format!("`{at}{key}` {why}; written as []"));
            obj.insert(key.into(), Value::Array(Vec::new()));
            return;
        }
    };
    let kept = items
        .into_iter()
        .enumerate()
        .filter_map(|(i, mut item)| {
            let name = format!("{at}{key}[{i}]");
            let ok = match &mut item {
                Value::Object(o) => keep(o, &format!("{name}."), fixes),
                _ => false,
            };
            if !ok {
                fixes.push(format!("`{name}` unreadable by Attune; removed"));
            }
            ok.then_some(item)
        })
        .collect();
    obj.insert(key.into(), Value::Array(kept));
}

/// `install_sources`: `git` or `archive` sources with a `url` and a `checksum` string.
fn install_sources(obj: &mut Map<String, Value>, fixes: &mut Vec<String>) {
    object_list(obj, "install_sources", "", fixes, |s, at, fixes| {
        let known = matches!(
            s.get("type").and_then(Value::as_str),
            Some("git" | "archive")
        );
        if !known || !s.get("url").is_some_and(Value::is_string) {
            return false;
        }
        required_text(s, "checksum", at, fixes);
        optional_text(s, "ref", at, fixes);
        true
    });
}

/// `contents`: an object of lists of `{name, description}`.
fn contents(obj: &mut Map<String, Value>, fixes: &mut Vec<String>) {
    let Some(Value::Object(c)) = obj.get_mut("contents") else {
        fixes.push("`contents` missing or not an object; written as {}".into());
        obj.insert("contents".into(), Value::Object(Map::new()));
        return;
    };
    for kind in CONTENT_KINDS {
        if c.contains_key(kind) {
            object_list(c, kind, "contents.", fixes, |item, at, fixes| {
                if !item.get("name").is_some_and(Value::is_string) {
                    return false;
                }
                required_text(item, "description", at, fixes);
                true
            });
        }
    }
}

/// `dependencies`: absent, `null`, or an object of optional strings and a list `packs`.
fn dependencies(obj: &mut Map<String, Value>, fixes: &mut Vec<String>) {
    let Some(d) = optional_object(obj, "dependencies", fixes) else {
        return;
    };
    for key in ["attune_version", "python_version", "nodejs_version"] {
        optional_text(d, key, "dependencies.", fixes);
    }
    if d.contains_key("packs") {
        text_list(d, "packs", "dependencies.", true, fixes);
    }
}

/// `meta`: absent, `null`, or an object whose `downloads` and `stars` are counts and whose
/// `tested_attune_versions` is a list of strings; anything else in it is Attune's to keep.
fn meta(obj: &mut Map<String, Value>, fixes: &mut Vec<String>) {
    let Some(m) = optional_object(obj, "meta", fixes) else {
        return;
    };
    for key in ["downloads", "stars"] {
        if m.get(key).is_some_and(|v| !v.is_null() && !v.is_u64()) {
            fixes.push(format!("`meta.{key}` is not a count; removed"));
            m.remove(key);
        }
    }
    if m.contains_key("tested_attune_versions") {
        text_list(m, "tested_attune_versions", "meta.", true, fixes);
    }
}

/// The object at `key`, when there is one; another shape is removed.
fn optional_object<'a>(
    obj: &'a mut Map<String, Value>,
    key: &str,
    fixes: &mut Vec<String>,
) -> Option<&'a mut Map<String, Value>> {
    if obj.get(key).is_some_and(|v| !v.is_null() && !v.is_object()) {
        fixes.push(format!("`{key}` is not an object; removed"));
        obj.remove(key);
    }
    obj.get_mut(key).and_then(Value::as_object_mut)
}

/// The top-level strings Attune requires of an index: `registry_name` and `registry_url`
/// (`flags` first, else the value found, else `""` with a warning) and `version` (else
/// "1.0"). `last_updated` is the caller's.
pub(crate) fn repair_top(
    doc: &mut Map<String, Value>,
    flags: &super::IndexHeader,
    warnings: &mut Vec<String>,
) {
    let given = [
        ("registry_name", &flags.registry_name, "--registry-name"),
        ("registry_url", &flags.registry_url, "--registry-url"),
    ];
    for (key, flag, option) in given {
        if let Some(value) = flag {
            doc.insert(key.into(), Value::String(value.clone()));
        } else if !doc.get(key).is_some_and(Value::is_string) {
            warnings.push(format!(
                "the index has no `{key}`; written as \"\" (Attune requires it): give {option}"
            ));
            doc.insert(key.into(), Value::String(String::new()));
        }
    }
    let version = match doc.get("version") {
        Some(Value::String(v)) if !v.is_empty() => v.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "1.0".into(),
    };
    doc.insert("version".into(), Value::String(version));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn readable_entries_are_left_alone() {
        let mut e = json!({"ref": "a", "label": "A", "description": "", "version": "1.0", "author": "x",
            "license": "MIT", "runtime_deps": [], "install_sources": [{"type": "git", "url": "u", "checksum": "sha256:zz"}],
            "contents": {"actions": [{"name": "n", "description": "d"}]}, "meta": {"downloads": 3, "other": "kept"}});
        let before = e.clone();
        let (key, fixes) = repair_entry(&mut e).unwrap();
        assert_eq!(fixes, Vec::<String>::new());
        assert_eq!(e, before);
        assert_eq!((key.pack_ref.as_str(), key.version.as_str()), ("a", "1.0"));
    }

    #[test]
    fn what_attune_cannot_read_is_repaired_and_named() {
        let mut e = json!({"ref": "a", "version": 2, "license": null, "keywords": null,
            "install_sources": [{"type": "git", "url": "u"}, {"type": "oci", "url": "x"}],
            "contents": {"actions": 3, "rules": [{"name": "r"}]}, "meta": {"stars": "many"}});
        let (_, fixes) = repair_entry(&mut e).unwrap();
        let all = fixes.join("\n");
        for needle in [
            "`version` was the number 2",
            "`license` null; written as \"\"",
            "`author` missing",
            "`keywords` null; written as []",
            "`runtime_deps` missing",
            "`install_sources[0].checksum` missing",
            "`install_sources[1]` unreadable by Attune; removed",
            "`contents.actions` a count (3)",
            "`contents.rules[0].description` missing",
            "`meta.stars` is not a count",
        ] {
            assert!(all.contains(needle), "{needle:?} not in:\n{all}");
        }
        assert_eq!(e["install_sources"].as_array().unwrap().len(), 1);
        assert_eq!(e["install_sources"][0]["checksum"], "");
        assert_eq!(e["contents"]["actions"], json!([]));
        assert_eq!(e["version"], "2");
        assert_eq!(
            repair_entry(&mut json!({"version": "1"})).unwrap_err(),
            "no usable `ref`"
        );
        assert!(repair_entry(&mut json!(4)).is_err());
    }
}
