//! Attune reads every index attune-pack writes (checked with a mirror of Attune's own serde
//! types), `index merge` keeps what Attune reads, and `index entry` publishes the checksum of
//! what git ships rather than of the author's work tree.

use std::path::Path;

use serde_json::{json, Value};

use crate::support::attune_index::{attune_reads, attune_reads_entry};
use crate::support::git_server::{git, Repo};
use crate::support::packs::write_pack;
use crate::support::registry::{sha256, write, Env};

const SUM: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

/// An index in the form of Attune's example: one entry (slack) with a checksum attune-pack
/// cannot read (65 hex digits), all of it readable by Attune.
fn attune_example() -> Value {
    let entry = |r: &str, archive_sum: &str| {
        json!({
            "ref": r, "label": r, "description": "d", "version": "2.1.0", "author": "Attune Community",
            "email": "c@example.com", "license": "Apache-2.0", "keywords": ["chat"], "runtime_deps": ["python3"],
            "install_sources": [
                {"type": "git", "url": format!("https://example.com/{r}.git"), "ref": "v2.1.0", "checksum": SUM},
                {"type": "archive", "url": format!("https://example.com/{r}.zip"), "checksum": archive_sum}
            ],
            "contents": {"actions": [{"name": "send", "description": "Send"}], "sensors": [], "triggers": [], "rules": [], "workflows": []},
            "dependencies": {"attune_version": ">=0.1.0", "python_version": ">=3.9", "packs": []},
            "meta": {"downloads": 1543, "stars": 87, "tested_attune_versions": ["0.1.0"]}
        })
    };
    json!({
        "registry_name": "Example Attune Pack Registry",
        "registry_url": "https://registry.example.com",
        "version": "1.0",
        "last_updated": "2024-01-20T12:00:00Z",
        "packs": [entry("slack", &format!("{SUM}a")), entry("aws", SUM)]
    })
}

/// An index as Attune's own `pack index-update` and `index-merge` write it: contents as counts,
/// no registry name or URL.
fn attune_cli_index() -> Value {
    json!({
        "version": "1.0",
        "generated_at": "2025-06-01T00:00:00+00:00",
        "last_updated": "2025-06-01T00:00:00Z",
        "packs": [{
            "ref": "counted", "label": "counted", "description": "", "version": "1.0.0", "author": "Unknown",
            "license": "Apache-2.0", "keywords": [], "runtime_deps": [],
            "install_sources": [{"type": "archive", "url": "https://example.com/c.tgz", "checksum": SUM}],
            "contents": {"actions": 3, "sensors": 0, "triggers": 1, "rules": 0, "workflows": 0}
        }]
    })
}

fn text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn every_index_the_tool_writes_is_read_by_attune() {
    let env = Env::new();
    write(&env.path("config.yaml"), "{}\n");
    // No description, author or license: Attune requires all three as strings.
    let pack = write_pack(&env.path("src"), "bare", "1.0.0", "", 0);
    let archive = env.path("bare.tgz");
    write(
        &archive,
        crate::support::registry::pack_tgz("bare", "1.0.0"),
    );
    let (pack_s, archive_s) = (pack.display().to_string(), archive.display().to_string());
    let sources = [
        "--archive-url",
        "https://example.com/bare.tgz",
        "--archive",
        &archive_s,
    ];

    let mut args = vec!["index", "entry", &pack_s];
    args.extend(sources);
    let (code, entry, err) = env.json(&args);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("has no description, author, license"), "{err}");
    let read = attune_reads_entry(&entry);
    assert_eq!((read.author.as_str(), read.license.as_str()), ("", ""));

    // A new file: its top-level fields, with warnings for those nobody gave.
    let new = env.path("new.json");
    let new_s = new.display().to_string();
    let mut args = vec!["index", "update", &new_s, &pack_s];
    args.extend(sources);
    let (code, _, err) = env.json(&args);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("no `registry_name`") && err.contains("--registry-url"),
        "{err}"
    );
    let doc = attune_reads(&text(&new));
    assert_eq!(
        (doc.registry_name.as_str(), doc.version.as_str()),
        ("", "1.0")
    );

    // An existing file written by an older attune-pack (`null` license): repaired on update,
    // the flags' values written, then kept by an update without them.
    let old = env.path("old.json");
    let mut legacy = attune_example();
    legacy["packs"][1]["license"] = Value::Null;
    legacy.as_object_mut().unwrap().remove("registry_url");
    write(&old, legacy.to_string());
    let old_s = old.display().to_string();
    let mut args = vec![
        "index",
        "update",
        &old_s,
        &pack_s,
        "--registry-url",
        "https://r.example",
    ];
    args.extend(sources);
    let (code, doc, err) = env.json(&args);
    assert_eq!((code, doc["action"].as_str()), (0, Some("added")), "{err}");
    assert!(
        err.contains("`aws@2.1.0` (#1): `license` null; written as \"\""),
        "{err}"
    );
    let mut args = vec!["index", "update", &old_s, &pack_s];
    args.extend(sources);
    let (code, doc, err) = env.json(&args);
    assert_eq!(
        (code, doc["action"].as_str()),
        (0, Some("replaced")),
        "{err}"
    );
    let doc = attune_reads(&text(&old));
    assert_eq!(doc.registry_url, "https://r.example");
    assert_eq!(doc.registry_name, "Example Attune Pack Registry");
    assert_eq!(doc.packs.len(), 3);

    // Merge: Attune's example, an index of Attune's CLI, and one with an entry without version.
    let example = env.path("example.json");
    write(&example, attune_example().to_string());
    let cli = env.path("cli.json");
    write(&cli, attune_cli_index().to_string());
    let broken = env.path("broken.json");
    write(
        &broken,
        json!({"packs": [{"ref": "nover", "label": "x"}]}).to_string(),
    );
    let merged = env.path("merged.json");
    let merged_s = merged.display().to_string();
    let (example_s, cli_s, broken_s) = (
        example.display().to_string(),
        cli.display().to_string(),
        broken.display().to_string(),
    );
    let (code, doc, err) = env.json(&[
        "index", "merge", &example_s, &cli_s, &broken_s, &new_s, "-o", &merged_s,
    ]);
    assert_eq!((code, doc["packs"].as_u64()), (0, Some(4)), "{err}");
    assert!(
        err.contains("`slack@2.1.0` (#0): field `install_sources[1].checksum`"),
        "{err}"
    );
    assert!(err.contains("kept as written (Attune reads it)"), "{err}");
    assert!(
        err.contains("`nover` (#0): no usable `version`; entry dropped"),
        "{err}"
    );
    assert!(err.contains("`contents.actions` a count (3)"), "{err}");
    let doc = attune_reads(&text(&merged));
    let refs: Vec<&str> = doc.packs.iter().map(|p| p.pack_ref.as_str()).collect();
    assert_eq!(refs, ["slack", "aws", "counted", "bare"]);
    assert_eq!(doc.registry_name, "Example Attune Pack Registry");
    // The newest input's date: new.json's, written by `index update` just now.
    let newest = attune_reads(&text(&new)).last_updated;
    assert_eq!(doc.last_updated, newest);
    // The slack entry is kept exactly as Attune's example has it.
    let written: Value = serde_json::from_str(&text(&merged)).unwrap();
    assert_eq!(written["packs"][0], attune_example()["packs"][0]);

    // Merge with the flags, of inputs without any top-level field nor date.
    let (code, _, err) = env.json(&[
        "index",
        "merge",
        &broken_s,
        &cli_s,
        "-o",
        &merged_s,
        "--registry-name",
        "Mine",
    ]);
    assert_eq!(code, 0, "{err}");
    let doc = attune_reads(&text(&merged));
    assert_eq!(
        (doc.registry_name.as_str(), doc.registry_url.as_str()),
        ("Mine", "")
    );
    assert_eq!(doc.last_updated, "2025-06-01T00:00:00Z");
    assert!(err.contains("no `registry_url`"), "{err}");
}

/// attune-pack reads the entries Attune's CLI writes (contents as counts) and installs them.
#[test]
fn entries_with_counted_contents_are_installed() {
    let env = Env::new();
    let bytes = crate::support::registry::pack_tgz("counted", "1.0.0");
    write(&env.path("reg/counted.tgz"), &bytes);
    let mut doc = attune_cli_index();
    doc["packs"][0]["install_sources"][0]["url"] = json!("counted.tgz");
    doc["packs"][0]["install_sources"][0]["checksum"] = json!(sha256(&bytes));
    let index = env.path("reg/index.json");
    write(&index, doc.to_string());
    env.config(
        &crate::support::registry::index_line("cli", index.display()),
        "",
    );
    let (code, receipt, err) = env.json(&["install", "--skip-tests", "counted"]);
    assert_eq!(code, 0, "{receipt} {err}");
    assert_eq!(receipt["version"], "1.0.0");
    assert!(!err.contains("skipped"), "{err}");
}

/// A pack at the root of a repository whose work tree holds more than the tag: the entry's git
/// checksum is the one an install of that tag computes, and the differences are named.
#[test]
fn index_entry_hashes_the_committed_tree_not_the_work_tree() {
    let env = Env::new();
    write(&env.path("config.yaml"), "{}\n");
    let repo = Repo::init(&env.path("repo"));
    repo.write(
        "pack.yaml",
        "ref: shipped\nversion: 1.0.0\nauthor: A\nlicense: MIT\ndescription: d\n",
    );
    repo.write("actions/run.py", "print('v1')\n");
    repo.write_exec("actions/run.sh", "#!/bin/sh\n");
    repo.commit("v1");
    repo.git(&["tag", "v1.0.0"]);
    repo.write("__pycache__/x.pyc", "bytecode");
    repo.write("actions/run.py", "print('edited')\n");
    let url = format!("file://{}", repo.dir.display());
    let dir = repo.dir.display().to_string();

    let (code, entry, err) = env.json(&[
        "index",
        "entry",
        &dir,
        "--git-url",
        &url,
        "--git-ref",
        "v1.0.0",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("the work tree differs from the committed tree at `v1.0.0`"),
        "{err}"
    );
    assert!(err.contains("`__pycache__/x.pyc` (not committed)"), "{err}");
    assert!(err.contains("`actions/run.py` (modified)"), "{err}");
    let source = &entry["install_sources"][0];
    assert!(source.get("subdir").is_none(), "{entry}");
    let (code, receipt, err) = env.json(&["install", "--skip-tests", &url, "--ref", "v1.0.0"]);
    assert_eq!(code, 0, "{receipt} {err}");
    assert_eq!(
        source["checksum"], receipt["checksum"]["content"],
        "{entry}"
    );
    let on_disk = env.run(&["checksum", &dir]);
    assert_ne!(
        source["checksum"].as_str().unwrap(),
        String::from_utf8_lossy(&on_disk.stdout).trim()
    );

    // `index update` does the same; an explicit ref the repository lacks is an error.
    let idx = env.path("index.json").display().to_string();
    let (code, doc, err) = env.json(&[
        "index",
        "update",
        &idx,
        &dir,
        "--git-url",
        &url,
        "--git-ref",
        "v1.0.0",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        doc["entry"]["install_sources"][0]["checksum"],
        source["checksum"]
    );
    assert!(err.contains("`__pycache__/x.pyc` (not committed)"), "{err}");
    env.refused(
        &["index", "entry", &dir, "--git-url", &url, "--git-ref", "v9"],
        1,
        "git",
    );
}

/// A pack in a subdirectory of a repository of many: the entry names it as `subdir` and hashes
/// that subtree as committed (the same as a clean clone of the tag, hashed on disk).
#[test]
fn index_entry_of_a_pack_inside_a_repository_names_its_subdir() {
    let env = Env::new();
    write(&env.path("config.yaml"), "{}\n");
    let repo = Repo::init(&env.path("mono"));
    repo.write("README.md", "many packs\n");
    repo.write(
        "packs/demo/pack.yaml",
        "ref: demo\nversion: 2.0.0\nauthor: A\nlicense: MIT\ndescription: d\n",
    );
    repo.write("packs/demo/actions/a.yaml", "name: a\ndescription: A\n");
    repo.write("packs/other/pack.yaml", "ref: other\nversion: 1.0.0\n");
    repo.commit("two packs");
    repo.git(&["tag", "v2.0.0"]);
    repo.write("packs/demo/__pycache__/x.pyc", "bytecode");
    let dir = repo.dir.join("packs/demo").display().to_string();

    // No --git-ref: the default `v<version>` tag.
    let (code, entry, err) = env.json(&[
        "index",
        "entry",
        &dir,
        "--git-url",
        "https://example.com/mono.git",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("`__pycache__/x.pyc` (not committed)"), "{err}");
    let source = &entry["install_sources"][0];
    assert_eq!(
        (source["ref"].as_str(), source["subdir"].as_str()),
        (Some("v2.0.0"), Some("packs/demo"))
    );
    attune_reads_entry(&entry);

    let clone = env.path("clone");
    git(
        env.tmp.path(),
        &[
            "clone",
            "-q",
            "--branch",
            "v2.0.0",
            &repo.dir.display().to_string(),
            "clone",
        ],
    );
    let clean = env.run(&["checksum", &clone.join("packs/demo").display().to_string()]);
    assert_eq!(
        source["checksum"].as_str().unwrap(),
        String::from_utf8_lossy(&clean.stdout).trim()
    );

    // The entry installs by name: the registry fetches the repository and takes its subdir.
    let checksum = source["checksum"].clone();
    let mut entry = entry.clone();
    entry["install_sources"][0]["url"] = format!("file://{}", repo.dir.display()).into();
    env.use_file_index(&env.path("idx"), vec![entry]);
    let (code, receipt, err) = env.json(&["install", "demo", "--skip-tests"]);
    assert_eq!(code, 0, "{receipt}\n{err}");
    assert_eq!(receipt["source"]["kind"], "registry");
    assert_eq!(receipt["source"]["subdir"], "packs/demo");
    assert_eq!(receipt["checksum"]["content"], checksum);
    assert!(env.path("packs/demo/actions/a.yaml").is_file());

    // An archive of the whole repository: its source names where the pack is in it, and
    // an install from the archive alone finds it.
    let tgz = env.path("idx/mono.tgz");
    repo.git(&[
        "archive",
        "--format=tar.gz",
        "--prefix=mono-2.0.0/",
        "-o",
        tgz.to_str().unwrap(),
        "v2.0.0",
    ]);
    let (code, entry, err) = env.json(&[
        "index",
        "entry",
        &dir,
        "--archive-url",
        "mono.tgz",
        "--archive",
        tgz.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        entry["install_sources"][0]["subdir"], "mono-2.0.0/packs/demo",
        "{entry}"
    );
    env.use_file_index(&env.path("idx"), vec![entry]);
    let (code, receipt, err) = env.json(&["install", "demo", "--skip-tests", "--force"]);
    assert_eq!(code, 0, "{receipt}\n{err}");
    assert_eq!(receipt["checksum"]["content"], checksum);
    // Where a registry pack is, its index says: --subdir is refused, never ignored.
    let doc = env.refused(&["install", "demo", "--subdir", "packs/other"], 2, "usage");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--subdir"),
        "{doc}"
    );
}

/// An index named without a directory (`index.json`) is written in the current directory.
#[test]
fn an_index_file_in_the_current_directory_is_written() {
    let env = Env::new();
    let pack = write_pack(&env.path("src"), "here", "1.0.0", "", 0);
    let out = std::process::Command::new(crate::support::BIN)
        .args(["index", "update", "index.json"])
        .arg(&pack)
        .args(["--git-url", "https://example.com/here.git"])
        .current_dir(env.tmp.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    attune_reads(&text(&env.path("index.json")));
}
