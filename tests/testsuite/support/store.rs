//! What a consistent store looks like from outside, checked after every fault and kill: each
//! receipt names an active pack of that version whose content is the receipt's checksum,
//! every active pack has a receipt, kept versions have their records, and nothing is left of
//! a change (no journal, empty staging and trash, no temporary files).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use attune_pack::directory_checksum;
use sha2::{Digest, Sha256};

/// Ref → active version.
pub type State = BTreeMap<String, String>;

/// The versions and receipts as they are, without asking that nothing else is left over:
/// what a command that just failed must already have put right.
pub fn state(packs: &Path) -> State {
    let receipts = packs.join(".attune-pack/receipts");
    let mut state = State::new();
    for entry in fs::read_dir(&receipts).into_iter().flatten() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(pack_ref) = name.strip_suffix(".json") else {
            continue;
        };
        if name.starts_with(".tmp-") {
            continue;
        }
        let receipt: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        let version = receipt["version"].as_str().unwrap().to_owned();
        let active = packs.join(pack_ref);
        let yaml = fs::read_to_string(active.join("pack.yaml"))
            .unwrap_or_else(|e| panic!("receipt of {pack_ref} {version} but no pack: {e}"));
        assert!(
            yaml.contains(&format!("version: {version}")),
            "receipt says {pack_ref} {version}, the active pack.yaml says:\n{yaml}"
        );
        let content = directory_checksum(&active).unwrap().to_string();
        assert_eq!(
            receipt["checksum"]["content"].as_str().unwrap(),
            content,
            "the receipt's content checksum of {pack_ref} is not the active directory's"
        );
        if receipt["source"]["kind"].is_string() {
            listed(packs, pack_ref, &content);
        }
        state.insert(pack_ref.to_owned(), version);
    }
    for entry in fs::read_dir(packs).into_iter().flatten() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            assert!(
                state.contains_key(&name),
                "active pack {name} has no receipt"
            );
        }
    }
    state
}

/// The file listing `verify` reads for the build of `pack_ref` with `content`: there, and
/// the very text whose sha256 is the content checksum.
fn listed(packs: &Path, pack_ref: &str, content: &str) {
    let hex = content.strip_prefix("sha256:").unwrap();
    let path = packs.join(format!(".attune-pack/listings/{pack_ref}/{hex}"));
    let listing = fs::read(&path)
        .unwrap_or_else(|e| panic!("receipt of {pack_ref} but no listing {path:?}: {e}"));
    let digest = Sha256::digest(&listing);
    assert_eq!(
        hex::encode(digest),
        hex,
        "the listing of {pack_ref} is not its checksum's text"
    );
}

/// [`state`], and nothing left of any change.
pub fn consistent(packs: &Path) -> State {
    let state = state(packs);
    let meta = packs.join(".attune-pack");
    if !meta.exists() {
        return state;
    }
    assert!(!meta.join("journal.jsonl").exists(), "a journal is left");
    for dir in ["staging", "trash"] {
        let left: Vec<_> = fs::read_dir(meta.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            // A command killed while it made its staging directory, before its lock was
            // named `.live`: that one is removed once it is a minute old.
            .filter(|p| dir != "staging" || p.join(".live").exists())
            .collect();
        assert!(left.is_empty(), "{dir}/ is not empty: {left:?}");
    }
    for dir in [meta.clone(), meta.join("receipts")] {
        for entry in fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            assert!(
                !name.starts_with(".tmp-"),
                "temporary file {name} left in {dir:?}"
            );
        }
    }
    for versions in fs::read_dir(meta.join("versions")).unwrap() {
        let versions = versions.unwrap().path();
        for entry in fs::read_dir(&versions).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            assert!(!name.starts_with(".tmp-"), "temporary file {path:?}");
            match name.strip_suffix(".json") {
                Some(stem) => assert!(
                    versions.join(stem).is_dir(),
                    "record without version: {path:?}"
                ),
                None => assert!(
                    versions.join(format!("{name}.json")).is_file(),
                    "kept version without record: {path:?}"
                ),
            }
        }
    }
    state
}

/// The store after the recovery of the next writing command, which must leave it
/// consistent. That command changes nothing: the uninstall of a pack that is not installed
/// (exit 4). (Read-only commands finish an interrupted change but leave the sweeping of
/// staging and trash to writing commands.)
pub fn recovered(packs: &Path) -> State {
    let out = std::process::Command::new(super::BIN)
        .arg("--packs-dir")
        .arg(packs)
        .args(["uninstall", "not-installed"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    consistent(packs)
}

/// The history's records (a torn last line is allowed and skipped).
pub fn history(packs: &Path) -> Vec<serde_json::Value> {
    let text = fs::read_to_string(packs.join(".attune-pack/history.jsonl")).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines
        .iter()
        .enumerate()
        .filter_map(|(i, line)| match serde_json::from_str(line) {
            Ok(v) => Some(v),
            Err(e) if i + 1 == lines.len() => {
                let _ = e;
                None
            }
            Err(e) => panic!("history line {i} is damaged ({e}): {line}"),
        })
        .collect()
}

/// `ref → version` pairs, for comparing with [`state`].
pub fn packs(pairs: &[(&str, &str)]) -> State {
    pairs
        .iter()
        .map(|(r, v)| (r.to_string(), v.to_string()))
        .collect()
}
