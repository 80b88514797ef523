//! Limits on what a pack says about itself, not only on archives: pack.yaml's size (refused
//! before it is read) and nesting depth (refused before it is parsed), and the length of a
//! version (it names a directory of kept versions, which must fit the file system).

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::archives::{file, tar_gz};
use crate::support::store::{consistent, packs as state_of};

/// Runs with `--json`.
fn run(packs: &Path, args: &[&str]) -> Output {
    let args: Vec<&str> = ["--json"].iter().chain(args).copied().collect();
    crate::support::run(packs, &args)
}

fn refused_as_invalid(packs: &Path, source: &Path) -> String {
    let out = run(packs, &["install", source.to_str().unwrap()]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(6), "{doc}");
    assert_eq!(doc["error"]["code"], "invalid_pack");
    doc["error"]["message"].as_str().unwrap().to_owned()
}

fn pack_dir(root: &Path, name: &str, yaml: &[u8]) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("pack.yaml"), yaml).unwrap();
    dir
}

#[test]
fn pack_yaml_over_1_mib_is_refused_before_it_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let packs = tmp.path().join("packs");
    let head = b"ref: big\nversion: 1.0.0\n#".to_vec();
    let pad = |total: usize| {
        let mut yaml = head.clone();
        yaml.resize(total - 1, b'x');
        yaml.push(b'\n');
        yaml
    };
    // A tar.gz a thousand times smaller than the pack.yaml it holds.
    let archive = tmp.path().join("big.tar.gz");
    std::fs::write(&archive, tar_gz(&[file("pack.yaml", &pad(16 << 20))])).unwrap();
    assert!(std::fs::metadata(&archive).unwrap().len() < 1 << 20);
    let message = refused_as_invalid(&packs, &archive);
    assert!(message.contains("limited to 1048576 bytes"), "{message}");
    let message = refused_as_invalid(&packs, &pack_dir(tmp.path(), "over", &pad((1 << 20) + 1)));
    assert!(message.contains("1048577 bytes"), "{message}");
    // Exactly 1 MiB is fine.
    let at = pack_dir(tmp.path(), "at", &pad(1 << 20));
    let out = run(&packs, &["install", at.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(consistent(&packs), state_of(&[("big", "1.0.0")]));
}

#[test]
fn pack_yaml_nested_deeper_than_128_levels_is_refused_before_it_is_parsed() {
    let tmp = tempfile::tempdir().unwrap();
    let packs = tmp.path().join("packs");
    let n = 100_000;
    for (name, meta) in [
        ("flow", format!("{}{}", "[".repeat(n), "]".repeat(n))),
        (
            "maps",
            format!("{}1{}", "{a: ".repeat(n / 4), "}".repeat(n / 4)),
        ),
    ] {
        let yaml = format!("ref: deep\nversion: 1.0.0\nmeta: {meta}\n");
        let message = refused_as_invalid(&packs, &pack_dir(tmp.path(), name, yaml.as_bytes()));
        assert!(
            message.contains("nested more than 128 levels deep"),
            "{message}"
        );
        assert!(message.contains("line 3"), "{message}");
    }
    // 127 levels under the top mapping are fine.
    let ok = format!(
        "ref: deep\nversion: 1.0.0\nmeta: {}{}\n",
        "[".repeat(127),
        "]".repeat(127)
    );
    let out = run(
        &packs,
        &[
            "install",
            pack_dir(tmp.path(), "ok", ok.as_bytes()).to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn versions_are_at_most_128_characters_and_every_kept_name_fits() {
    let tmp = tempfile::tempdir().unwrap();
    let packs = tmp.path().join("packs");
    let long = |len: usize| format!("1.0.0-{}", "a".repeat(len - 6));
    for len in [129, 300, 100_000] {
        let yaml = format!("ref: v\nversion: {}\n", long(len));
        let message = refused_as_invalid(
            &packs,
            &pack_dir(tmp.path(), &format!("v{len}"), yaml.as_bytes()),
        );
        assert!(
            message.contains("field `version`") && message.contains("at most 128"),
            "{message}"
        );
    }
    // The longest version installs, and is replaced (and kept) twice over.
    let at = long(128);
    for (i, v) in [at.as_str(), "2.0.0", at.as_str(), "3.0.0"]
        .iter()
        .enumerate()
    {
        let dir = pack_dir(
            tmp.path(),
            &format!("ok{i}"),
            format!("ref: v\nversion: {v}\n").as_bytes(),
        );
        let out = run(&packs, &["install", "--force", dir.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{v}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(consistent(&packs), state_of(&[("v", "3.0.0")]));
}
