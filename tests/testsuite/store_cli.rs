//! The store seen from the command line: the lock between processes, Ctrl-C, uninstall and
//! dependents, list/show, pack tests, dry runs.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use crate::support::store::{consistent, history, packs as state_of};
use crate::support::{packs, run, BIN};

fn write_pack(dir: &Path, pack_ref: &str, version: &str, extra: &str) -> PathBuf {
    packs::write_pack(dir, pack_ref, version, extra, 0)
}

/// A pack whose own test sleeps for `secs`, so an install stays in its tests for a while.
fn slow_pack(dir: &Path, secs: u32) -> PathBuf {
    let root = write_pack(
        dir,
        "slow",
        "1.0.0",
        "testing:\n  runners:\n    wait: {type: script, entry_point: tests/wait.sh, timeout: 60}\n",
    );
    std::fs::create_dir_all(root.join("tests")).unwrap();
    std::fs::write(
        root.join("tests/wait.sh"),
        format!("#!/bin/sh\nsleep {secs}\n"),
    )
    .unwrap();
    root
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Starts an install and returns once it is running the pack's tests.
fn start_slow_install(packs: &Path, pack: &Path) -> Child {
    let mut child = Command::new(BIN)
        .arg("--packs-dir")
        .arg(packs)
        .args(["-v", "--json", "install"])
        .arg(pack)
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    loop {
        let line = lines
            .next()
            .expect("install ended before running tests")
            .unwrap();
        if line.contains("running pack tests") {
            break;
        }
    }
    // Keep draining so the child never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    child
}

fn staging_is_empty(packs: &Path) -> bool {
    std::fs::read_dir(packs.join(".attune-pack/staging"))
        .unwrap()
        .next()
        .is_none()
}

/// While another process holds the store's lock (util-linux `flock` here), a command waits
/// for it, says so, and gives up after --lock-timeout with exit 5.
#[test]
fn a_second_command_waits_for_the_lock_then_fails_with_exit_5() {
    let tmp = tempfile::tempdir().unwrap();
    let packs = tmp.path().join("packs");
    let pack = write_pack(tmp.path(), "quick", "1.0.0", "");
    assert_eq!(
        run(&packs, &["install", pack.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let mut holder = Command::new("flock")
        .arg("--exclusive")
        .arg(packs.join(".attune-pack/lock"))
        .args(["sleep", "30"])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    for args in [&["list"][..], &["uninstall", "quick"]] {
        let second = run(
            &packs,
            &[&["--lock-timeout", "1", "--json"][..], args].concat(),
        );
        let stderr = String::from_utf8_lossy(&second.stderr);
        assert_eq!(second.status.code(), Some(5), "{args:?}: {stderr}");
        assert!(stderr.contains("waiting for the store lock"), "{stderr}");
        assert_eq!(json(&second)["error"]["code"], "locked");
    }
    holder.kill().unwrap();
    holder.wait().unwrap();
}

/// An install fetches and tests without the store's lock: meanwhile `list` answers at once
/// and another install commits. Its final re-check sees the store as it is then: the same
/// pack installed meanwhile is `already_installed`, and nothing of it is left behind.
#[test]
fn an_install_holds_the_lock_only_for_its_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let packs = tmp.path().join("packs");
    let slow = slow_pack(&tmp.path().join("a"), 3);
    let first = start_slow_install(&packs, &slow);

    let list = run(&packs, &["--lock-timeout", "1", "--json", "list"]);
    let stderr = String::from_utf8_lossy(&list.stderr);
    assert_eq!(list.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("waiting"), "{stderr}");
    let quick = write_pack(&tmp.path().join("b"), "quick", "1.0.0", "");
    let other = run(
        &packs,
        &["--lock-timeout", "1", "install", quick.to_str().unwrap()],
    );
    assert_eq!(
        other.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&other.stderr)
    );
    let same = write_pack(&tmp.path().join("c"), "slow", "2.0.0", "");
    let same = run(
        &packs,
        &["--lock-timeout", "1", "install", same.to_str().unwrap()],
    );
    assert_eq!(
        same.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&same.stderr)
    );

    let first = first.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(5));
    assert_eq!(json(&first)["error"]["code"], "already_installed");
    assert_eq!(
        consistent(&packs),
        state_of(&[("quick", "1.0.0"), ("slow", "2.0.0")])
    );
    assert!(staging_is_empty(&packs));
}

#[test]
fn uninstall_refuses_while_dependents_exist_unless_forced() {
    let tmp = tempfile::tempdir().unwrap();
    let packs = tmp.path().join("packs");
    let core = write_pack(tmp.path(), "core", "1.2.0", "");
    let app = write_pack(tmp.path(), "app", "1.0.0", "dependencies: [\"core@^1\"]\n");

    let out = run(&packs, &["install", app.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("core@^1") && stderr.contains("not installed"),
        "{stderr}"
    );
    assert!(!packs.join("app").exists());

    assert_eq!(
        run(&packs, &["install", core.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        run(&packs, &["install", app.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );

    let out = run(&packs, &["--json", "uninstall", "core"]);
    assert_eq!(out.status.code(), Some(5));
    let doc = json(&out);
    assert_eq!(doc["error"]["code"], "dependents_exist");
    assert!(doc["error"]["message"]
        .as_str()
        .unwrap()
        .contains("app 1.0.0"));
    assert!(packs.join("core/pack.yaml").exists());

    let out = run(&packs, &["--json", "uninstall", "core", "--force"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out), serde_json::json!({"removed": "core"}));
    assert!(!packs.join("core").exists());
    assert!(!packs.join(".attune-pack/receipts/core.json").exists());

    let out = run(&packs, &["uninstall", "core"]);
    assert_eq!(out.status.code(), Some(4));
}

#[test]
fn skip_deps_installs_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let packs = tmp.path().join("packs");
    let app = write_pack(tmp.path(), "app", "1.0.0", "dependencies: [\"core@^1\"]\n");
    let out = run(&packs, &["install", "--skip-deps", app.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("warning: installing with unmet dependencies"));
}

#[test]
fn reinstall_keeps_the_previous_version_and_show_reports_the_new_one() {
    let tmp = tempfile::tempdir().unwrap();
    let packs = tmp.path().join("packs");
    let v1 = write_pack(tmp.path(), "demo", "1.0.0", "");
    let v2 = write_pack(tmp.path(), "demo", "2.0.0", "");
    assert_eq!(
        run(&packs, &["install", v1.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let out = run(&packs, &["--json", "install", v2.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(5), "replacing needs --force");
    assert_eq!(json(&out)["error"]["code"], "already_installed");
    let out = run(&packs, &["install", "--force", v2.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("replaced 1.0.0"));
    let kept: Vec<String> = std::fs::read_dir(packs.join(".attune-pack/versions/demo"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".json"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(
        kept[0].starts_with("1.0.0+"),
        "version and short checksum: {kept:?}"
    );
    assert!(packs
        .join(".attune-pack/versions/demo")
        .join(&kept[0])
        .join("pack.yaml")
        .exists());

    let doc = json(&run(&packs, &["--json", "show", "demo"]));
    assert_eq!(doc["version"], "2.0.0");
    assert_eq!(doc["source"]["kind"], "local_directory");
    assert_eq!(doc["tests"]["status"], "none");
    assert!(doc["checksum"]["archive"].is_null());
    assert!(doc["checksum"]["content"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));

    let doc = json(&run(&packs, &["--json", "list"]));
    assert_eq!(doc.as_array().unwrap().len(), 1);
    assert_eq!(consistent(&packs), state_of(&[("demo", "2.0.0")]));
    let history = history(&packs);
    let seen: Vec<(&str, &str, &str)> = history
        .iter()
        .filter(|r| r["outcome"] == "ok")
        .map(|r| {
            (
                r["action"].as_str().unwrap(),
                r["to"].as_str().unwrap_or("-"),
                r["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [("install", "1.0.0", "ok"), ("install", "2.0.0", "ok")]
    );
    let replaced = history.iter().find(|r| r["to"] == "2.0.0").unwrap();
    assert_eq!(replaced["from"], "1.0.0");

    let out = run(&packs, &["--json", "show", "nope"]);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(json(&out)["error"]["code"], "not_found");
}

#[test]
fn failing_pack_tests_block_the_install_unless_skipped_or_warned() {
    let tmp = tempfile::tempdir().unwrap();
    let packs = tmp.path().join("packs");
    let testing = |on_failure: &str| {
        format!("testing:\n  on_failure: {on_failure}\n  runners:\n    t: {{type: script, entry_point: tests/fail.sh}}\n")
    };
    let blocked = write_pack(tmp.path(), "blocked", "1.0.0", &testing("block"));
    let warned = write_pack(tmp.path(), "warned", "1.0.0", &testing("warn"));
    for p in [&blocked, &warned] {
        std::fs::create_dir_all(p.join("tests")).unwrap();
        std::fs::write(p.join("tests/fail.sh"), "echo boom-output\nexit 3\n").unwrap();
    }
    let out = run(&packs, &["--json", "install", blocked.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(5));
    let doc = json(&out);
    assert_eq!(doc["error"]["code"], "tests_failed");
    assert!(doc["error"]["message"]
        .as_str()
        .unwrap()
        .contains("boom-output"));
    assert!(!packs.join("blocked").exists());
    assert!(staging_is_empty(&packs));

    let out = run(
        &packs,
        &[
            "--json",
            "install",
            "--skip-tests",
            blocked.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["tests"]["status"], "skipped");

    let out = run(&packs, &["--json", "install", warned.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let doc = json(&out);
    assert_eq!(doc["tests"]["status"], "failed");
    assert_eq!(doc["tests"]["failed"], 1);
}

#[test]
fn dry_run_changes_nothing_and_prints_a_plan() {
    let tmp = tempfile::tempdir().unwrap();
    let packs = tmp.path().join("packs");
    let pack = write_pack(tmp.path(), "demo", "1.0.0", "");
    let out = run(
        &packs,
        &["--json", "install", "--dry-run", pack.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0));
    let doc = json(&out);
    assert_eq!(doc["plan"][0]["ref"], "demo");
    assert_eq!(doc["plan"][0]["action"], "install");
    assert!(!packs.join("demo").exists());
    assert!(staging_is_empty(&packs));
}

#[test]
fn unrecognised_sources_and_bad_flags_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let packs = tmp.path().join("packs");
    let out = run(&packs, &["--json", "install", "Not A Pack!"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json(&out)["error"]["code"], "usage");
    let out = run(&packs, &["--json", "install", "--no-such-flag", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json(&out)["error"]["code"], "usage");
    let out = run(&packs, &["install", "--no-registry", "slack"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&packs, &["install", "--checksum", "sha256:zz", "."]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn pack_yaml_errors_name_the_source_and_the_file_in_it_not_staging() {
    let tmp = tempfile::tempdir().unwrap();
    let packs = tmp.path().join("packs");
    let src = tmp.path().join("badp");
    std::fs::create_dir_all(src.join("pack")).unwrap();
    std::fs::write(src.join("pack/pack.yaml"), "ref: Bad Ref\nversion: 1.0.0\n").unwrap();
    let out = run(&packs, &["install", src.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(6));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}: pack/pack.yaml: field `ref`", src.display())),
        "{stderr}"
    );
    assert!(!stderr.contains("staging"), "{stderr}");
}

/// `uninstall ..` once deleted the packs dir's parent, `uninstall ''` every pack,
/// `uninstall .attune-pack` the store's records, and `show ../../x` read any JSON file.
#[test]
fn refs_that_are_not_pack_refs_never_touch_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let packs = tmp.path().join("packs");
    let victim = tmp.path().join("victim");
    std::fs::create_dir_all(&victim).unwrap();
    std::fs::write(victim.join("keep.txt"), "mine").unwrap();
    std::fs::write(tmp.path().join("x.json"), "{\"ref\": \"x\"}").unwrap();
    let pack = write_pack(tmp.path(), "demo", "1.0.0", "");
    assert!(run(&packs, &["install", pack.to_str().unwrap()])
        .status
        .success());

    for bad in [
        "..",
        "",
        ".",
        "../victim",
        ".attune-pack",
        "../../x",
        "demo/..",
        "Demo",
        "a b",
    ] {
        for args in [
            vec!["uninstall", bad],
            vec!["uninstall", "--force", bad],
            vec!["show", bad],
        ] {
            let mut args = args.clone();
            args.insert(0, "--json");
            let out = run(&packs, &args);
            assert_eq!(out.status.code(), Some(2), "{args:?}");
            let doc = json(&out);
            assert_eq!(doc["error"]["code"], "usage", "{args:?}");
            assert!(
                doc["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("is not a pack ref"),
                "{doc}"
            );
        }
    }
    assert_eq!(
        std::fs::read_to_string(victim.join("keep.txt")).unwrap(),
        "mine"
    );
    assert!(tmp.path().join("x.json").exists());
    assert_eq!(consistent(&packs), state_of(&[("demo", "1.0.0")]));
}

/// A pack's label is the pack author's text: `show` prints it with control characters
/// escaped, and `--json` escapes the ones serde_json would leave raw (DEL and C1) as well,
/// while the document still reads back as the original text.
#[test]
fn pack_text_is_shown_with_control_characters_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let packs = tmp.path().join("packs");
    let pack = write_pack(
        tmp.path(),
        "shown",
        "1.0.0",
        "label: \"Shown\\e]0;owned\\a\\x9b31m\\x7f\"\n",
    );
    assert!(run(&packs, &["install", pack.to_str().unwrap()])
        .status
        .success());
    let raw = |b: &[u8]| {
        String::from_utf8_lossy(b)
            .chars()
            .any(|c| c.is_control() && c != '\n')
    };
    let human = run(&packs, &["show", "shown"]);
    assert!(
        !raw(&human.stdout),
        "{:?}",
        String::from_utf8_lossy(&human.stdout)
    );
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("Shown\\u{1b}]0;owned\\u{7}\\u{9b}31m\\u{7f}"),
        "{text}"
    );
    let doc = run(&packs, &["--json", "show", "shown"]);
    assert!(
        !raw(&doc.stdout),
        "{:?}",
        String::from_utf8_lossy(&doc.stdout)
    );
    assert_eq!(
        json(&doc)["label"],
        "Shown\u{1b}]0;owned\u{7}\u{9b}31m\u{7f}"
    );
}

/// A newcomer's paths are never read as registry names: `./nope` is a missing path (exit 4),
/// and `packs/hello` that is neither a path here nor a configured index says both.
#[test]
fn paths_are_never_registry_names() {
    let tmp = tempfile::tempdir().unwrap();
    let packs = tmp.path().join("packs");
    let out = run(&packs, &["install", "./nope"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("no such file or directory: ./nope"),
        "{stderr}"
    );
    assert!(!stderr.contains("registry"), "{stderr}");

    let out = std::process::Command::new(crate::support::BIN)
        .current_dir(tmp.path())
        .args([
            "--packs-dir",
            packs.to_str().unwrap(),
            "install",
            "packs/hello",
        ])
        .env("XDG_CONFIG_HOME", tmp.path())
        .env_remove("ATTUNE_PACK_CONFIG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no file or directory of that name here")
            && stderr.contains("no index named `packs`"),
        "{stderr}"
    );
}

/// A newcomer's help: global options under their own heading, every positional argument of
/// every command described, examples in `install --help`, nothing advertised that is not built.
#[test]
fn help_describes_every_argument_and_advertises_only_what_is_built() {
    let help = |args: &[&str]| {
        let out = Command::new(BIN).args(args).arg("--help").output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let top = help(&[]);
    assert!(top.contains("Global options (every command):"), "{top}");
    assert!(top.contains("bundle"), "{top}");
    let commands: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .filter(|c| c != "help")
        .collect();
    assert!(commands.len() >= 13, "{commands:?}");
    let mut nested: Vec<Vec<String>> = commands.iter().map(|c| vec![c.clone()]).collect();
    for sub in ["entry", "update", "merge", "sign"] {
        nested.push(vec!["index".into(), sub.into()]);
    }
    for sub in ["create", "list", "verify"] {
        nested.push(vec!["bundle".into(), sub.into()]);
    }
    for sub in ["login", "logout"] {
        nested.push(vec!["registry".into(), sub.into()]);
    }
    for cmd in nested {
        let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let text = help(&args);
        assert!(text.contains("Global options (every command):"), "{cmd:?}");
        let positionals = text
            .lines()
            .skip_while(|l| !l.starts_with("Arguments:"))
            .skip(1)
            .take_while(|l| !l.is_empty());
        for line in positionals.filter(|l| l.trim_start().starts_with(['<', '['])) {
            assert!(
                line.split_whitespace().count() > 1,
                "{cmd:?}: `{line}` has no description"
            );
        }
    }
    let install = help(&["install"]);
    assert!(
        install.contains("Examples:") && install.contains("--subdir packs/core"),
        "{install}"
    );
}

/// A typo in the config is a warning naming the key and the closest known one.
#[test]
fn unknown_config_keys_are_warned_about() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("config.yaml");
    std::fs::write(&config, "pack_registry:\n  indice: []\nkeep_version: 2\n").unwrap();
    let out = Command::new(BIN)
        .arg("--packs-dir")
        .arg(tmp.path().join("packs"))
        .arg("--config")
        .arg(&config)
        .arg("list")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("unknown key `pack_registry.indice` ignored; did you mean `indices`?"),
        "{err}"
    );
    assert!(err.contains("did you mean `keep_versions`?"), "{err}");
}

/// The contract users read is in the repository (docs/reference.md, linked from README.md);
/// nothing points at a document outside it.
#[test]
fn the_repository_carries_its_own_reference() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(readme.contains("docs/reference.md"));
    assert!(root.join("docs/reference.md").is_file());
    let outside = [format!("../{}", "shared"), format!("{}.md", "SPEC")];
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with('.') && name != ".ci" || name == "target" {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                for o in &outside {
                    assert!(
                        !text.contains(o.as_str()),
                        "{} mentions {o}",
                        path.display()
                    );
                }
            }
        }
    }
}
