//! `verify [REF…]`: installed packs' files checked against their receipts with the real
//! binary — a clean store, edits named file by file (added, removed, changed bytes or
//! mode), a vanished pack, a pack installed before listings were recorded, rollback, and a
//! store that must not be created by looking at it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::support::{packs, run};

/// A store with `hello` 1.0.0 installed (its pack.yaml, `actions/run.sh` and three data
/// files); returns the temp dir, the packs dir and the installed pack's directory.
fn installed() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let packs_dir = tmp.path().join("packs");
    install(&packs_dir, &tmp.path().join("src"), "1.0.0");
    let active = packs_dir.join("hello");
    (tmp, packs_dir, active)
}

fn install(packs_dir: &Path, src: &Path, version: &str) {
    let pack = packs::write_pack(src, "hello", version, "", 3);
    let out = run(packs_dir, &["install", "--force", pack.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `verify ARGS --json`: its exit code and its one document.
fn verify_json(packs_dir: &Path, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--json", "verify"];
    all.extend_from_slice(args);
    let out = run(packs_dir, &all);
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            stderr(&out)
        )
    });
    (out.status.code().unwrap(), doc)
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

/// The one element of a verify array, for `hello`.
fn hello(doc: &Value) -> &Value {
    let all = doc
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {doc}"));
    assert_eq!(all.len(), 1, "{doc}");
    assert_eq!(all[0]["ref"], "hello");
    &all[0]
}

#[test]
fn a_clean_pack_verifies_and_edits_are_named_file_by_file() {
    let (_tmp, packs_dir, active) = installed();
    let (code, doc) = verify_json(&packs_dir, &[]);
    assert_eq!(code, 0, "{doc}");
    let pack = hello(&doc);
    assert_eq!(pack["ok"], true);
    assert!(pack.get("error").is_none(), "{doc}");
    let (code, doc) = verify_json(&packs_dir, &["hello"]);
    assert_eq!((code, &hello(&doc)["ok"]), (0, &Value::Bool(true)));

    fs::write(active.join("actions/run.sh"), "#!/bin/sh\necho changed\n").unwrap();
    fs::write(active.join("actions/extra.py"), "print('added')\n").unwrap();
    let (code, doc) = verify_json(&packs_dir, &[]);
    assert_eq!(code, 3, "{doc}");
    let pack = hello(&doc);
    assert_eq!(pack["ok"], false);
    assert_eq!(strings(&pack["added"]), ["actions/extra.py"]);
    assert_eq!(strings(&pack["changed"]), ["actions/run.sh"]);
    assert!(strings(&pack["removed"]).is_empty());
    assert_eq!(pack["files_recorded"], true);
    assert_eq!(pack["error"]["code"], "verify_mismatch", "{doc}");

    // The human form names the pack and each file, and says why it fails on stderr.
    let out = run(&packs_dir, &["verify"]);
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("hello 1.0.0: differs"), "{text}");
    assert!(text.contains("added    actions/extra.py"), "{text}");
    assert!(text.contains("changed  actions/run.sh"), "{text}");
    assert!(
        stderr(&out).contains("`hello` differs from its receipt"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_removed_file_and_a_mode_change_are_named() {
    let (_tmp, packs_dir, active) = installed();
    fs::remove_file(active.join("data/d1/f1.txt")).unwrap();
    let data = active.join("data/d2/f2.txt");
    set_mode(&data, 0o755);
    let (code, doc) = verify_json(&packs_dir, &["hello"]);
    assert_eq!(code, 3, "{doc}");
    let pack = hello(&doc);
    assert_eq!(strings(&pack["removed"]), ["data/d1/f1.txt"]);
    assert_eq!(
        strings(&pack["changed"]),
        ["data/d2/f2.txt"],
        "a new mode is a change"
    );
    assert!(strings(&pack["added"]).is_empty());
    // Put back as installed, it verifies again.
    set_mode(&data, 0o644);
    fs::write(active.join("data/d1/f1.txt"), "hello 1.0.0 1\n").unwrap();
    assert_eq!(verify_json(&packs_dir, &[]).0, 0);
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_vanished_pack_directory_has_every_file_removed() {
    let (_tmp, packs_dir, active) = installed();
    fs::remove_dir_all(&active).unwrap();
    let (code, doc) = verify_json(&packs_dir, &[]);
    assert_eq!(code, 3, "{doc}");
    let pack = hello(&doc);
    assert_eq!(pack["missing"], true);
    let mut removed = strings(&pack["removed"]);
    removed.sort();
    assert_eq!(
        removed,
        [
            "actions/run.sh",
            "data/d0/f0.txt",
            "data/d1/f1.txt",
            "data/d2/f2.txt",
            "pack.yaml"
        ]
    );
}

#[test]
fn a_pack_installed_without_a_listing_is_compared_whole() {
    let (_tmp, packs_dir, active) = installed();
    // As an attune-pack from before listings leaves it.
    fs::remove_dir_all(packs_dir.join(".attune-pack/listings")).unwrap();
    assert_eq!(verify_json(&packs_dir, &[]).0, 0, "whole, it still matches");
    fs::write(active.join("pack.yaml"), "ref: hello\nversion: 6.6.6\n").unwrap();
    let (code, doc) = verify_json(&packs_dir, &[]);
    assert_eq!(code, 3, "{doc}");
    let pack = hello(&doc);
    assert_eq!(pack["files_recorded"], false);
    for list in ["added", "removed", "changed"] {
        assert!(strings(&pack[list]).is_empty(), "{doc}");
    }
    let out = run(&packs_dir, &["verify"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("no file list was recorded"), "{text}");
}

#[test]
fn a_ref_not_installed_is_exit_4_and_a_bad_ref_exit_2() {
    let (_tmp, packs_dir, _) = installed();
    let (code, doc) = verify_json(&packs_dir, &["hello", "absent"]);
    assert_eq!(code, 4, "{doc}");
    assert_eq!(doc["error"]["code"], "not_found");
    let (code, doc) = verify_json(&packs_dir, &["Not A Ref"]);
    assert_eq!(code, 2, "{doc}");
    assert_eq!(doc["error"]["code"], "usage");
}

#[test]
fn verify_never_creates_a_missing_store() {
    let tmp = tempfile::tempdir().unwrap();
    let packs_dir = tmp.path().join("packs");
    let (code, doc) = verify_json(&packs_dir, &[]);
    assert_eq!((code, doc), (0, Value::Array(Vec::new())));
    assert_eq!(verify_json(&packs_dir, &["hello"]).0, 4);
    assert!(!packs_dir.exists(), "verify created the store");
}

#[test]
fn after_a_rollback_the_restored_version_verifies_and_names_its_files() {
    let (tmp, packs_dir, active) = installed();
    install(&packs_dir, &tmp.path().join("src"), "1.1.0");
    assert_eq!(verify_json(&packs_dir, &[]).0, 0);
    let out = run(&packs_dir, &["rollback", "hello"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (code, doc) = verify_json(&packs_dir, &[]);
    assert_eq!(code, 0, "{doc}");
    // The listing is the restored build's: an edit is named against 1.0.0's files.
    fs::write(active.join("data/d0/f0.txt"), "hello 1.1.0 0\n").unwrap();
    let (code, doc) = verify_json(&packs_dir, &[]);
    assert_eq!(code, 3, "{doc}");
    assert_eq!(strings(&hello(&doc)["changed"]), ["data/d0/f0.txt"]);
    assert_eq!(hello(&doc)["files_recorded"], true);
}

#[test]
fn only_the_pack_that_differs_fails_and_uninstall_forgets_its_listing() {
    let (tmp, packs_dir, _) = installed();
    let other = packs::write_pack(&tmp.path().join("src"), "other", "2.0.0", "", 0);
    assert!(run(&packs_dir, &["install", other.to_str().unwrap()])
        .status
        .success());
    fs::write(packs_dir.join("other/new.txt"), "new\n").unwrap();
    let (code, doc) = verify_json(&packs_dir, &[]);
    assert_eq!(code, 3, "{doc}");
    let all = doc.as_array().unwrap();
    assert_eq!(
        (&all[0]["ref"], &all[0]["ok"]),
        (&"hello".into(), &true.into())
    );
    assert!(all[0].get("error").is_none());
    assert_eq!(
        (&all[1]["ref"], &all[1]["ok"]),
        (&"other".into(), &false.into())
    );
    assert_eq!(strings(&all[1]["added"]), ["new.txt"]);

    assert!(run(&packs_dir, &["uninstall", "other"]).status.success());
    assert!(!packs_dir.join(".attune-pack/listings/other").exists());
    assert!(packs_dir.join(".attune-pack/listings/hello").is_dir());
}
