//! Pack directories written by tests.

use std::fs;
use std::path::{Path, PathBuf};

/// Writes `DIR/REF-VERSION/` with a pack.yaml (plus `extra` lines), an action, and
/// `files` more small files; returns its path.
pub fn write_pack(dir: &Path, pack_ref: &str, version: &str, extra: &str, files: usize) -> PathBuf {
    let root = dir.join(format!("{pack_ref}-{version}"));
    fs::create_dir_all(root.join("actions")).unwrap();
    fs::write(
        root.join("pack.yaml"),
        format!("ref: {pack_ref}\nversion: {version}\n{extra}"),
    )
    .unwrap();
    fs::write(root.join("actions/run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    for i in 0..files {
        let sub = root.join(format!("data/d{}", i % 40));
        fs::create_dir_all(&sub).unwrap();
        fs::write(
            sub.join(format!("f{i}.txt")),
            format!("{pack_ref} {version} {i}\n"),
        )
        .unwrap();
    }
    root
}
