//! The life of installed packs, end to end with the real binary: `outdated` and `update`
//! against a registry on a local HTTP server, a git branch that moves, an archive URL that
//! changes; `rollback`; lockfiles reproduced into another store; the history; and several
//! packs in one command.

use crate::support::git_server::{GitDaemon, Repo};
use crate::support::index_server::IndexServer;
use crate::support::registry::*;
use crate::support::store::consistent;

use serde_json::{json, Value};

/// A registry `main` on `server` whose index lists `entries`.
fn publish(env: &Env, server: &IndexServer, entries: Vec<Value>) {
    server.put("index.json", index(entries));
    env.config(
        &index_line("main", server.url("index.json")),
        "  cache_ttl: 0\n",
    );
}

/// Runs with `--json`, asserts success, returns the document.
fn ok(env: &Env, args: &[&str]) -> Value {
    let (code, doc, stderr) = env.json(args);
    assert_eq!(code, 0, "{args:?}: {doc}\n{stderr}");
    doc
}

/// The names under `versions/REF/` that are kept versions (not their records).
fn kept(env: &Env, pack_ref: &str) -> Vec<String> {
    let dir = env.path(&format!("packs/.attune-pack/versions/{pack_ref}"));
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| !n.ends_with(".json"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn active_version(env: &Env, pack_ref: &str) -> String {
    let yaml = std::fs::read_to_string(env.path(&format!("packs/{pack_ref}/pack.yaml"))).unwrap();
    yaml.lines()
        .find_map(|l| l.strip_prefix("version: "))
        .unwrap()
        .to_owned()
}

fn history(env: &Env, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["history"];
    all.extend_from_slice(args);
    ok(env, &all).as_array().unwrap().clone()
}

/// `(action, from, to, outcome, error)` of each history record.
fn actions(records: &[Value]) -> Vec<(String, Value, Value, String, Value)> {
    records
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_owned(),
                r["from"].clone(),
                r["to"].clone(),
                r["outcome"].as_str().unwrap().to_owned(),
                r["error"].clone(),
            )
        })
        .collect()
}

#[test]
fn outdated_update_then_rollback_twice() {
    let env = Env::new();
    let server = IndexServer::start();
    publish(&env, &server, served(&server, "slack", &["1.0.0"]));
    let receipt = ok(&env, &["install", "slack@^1", "--skip-tests"]);
    assert_eq!(receipt["requirement"], "^1");
    assert_eq!(ok(&env, &["outdated"]), json!([]), "nothing newer yet");

    publish(
        &env,
        &server,
        served(&server, "slack", &["1.0.0", "1.1.0", "2.0.0"]),
    );
    let outdated = ok(&env, &["outdated"]);
    assert_eq!(
        outdated,
        json!([{"ref": "slack", "installed": "1.0.0", "wanted": "1.1.0", "latest": "2.0.0", "index": "main", "commit": null}])
    );
    let text = env.run(&["outdated"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("1.1.0"));

    let dry = ok(&env, &["update", "slack", "--dry-run"]);
    assert_eq!(dry["version"], "1.1.0");
    assert_eq!(
        active_version(&env, "slack"),
        "1.0.0",
        "a dry run changes nothing"
    );

    let updated = ok(&env, &["update", "slack"]);
    assert_eq!(updated["version"], "1.1.0", "the requirement ^1 holds");
    assert_eq!(updated["requirement"], "^1");
    assert_eq!(active_version(&env, "slack"), "1.1.0");
    assert_eq!(kept(&env, "slack").len(), 1);
    assert!(
        kept(&env, "slack")[0].starts_with("1.0.0+"),
        "{:?}",
        kept(&env, "slack")
    );
    let again = ok(&env, &["update", "slack"]);
    assert_eq!(again["version"], "1.1.0", "up to date: the same receipt");

    let back = ok(&env, &["rollback", "slack"]);
    assert_eq!(back["version"], "1.0.0");
    assert_eq!(active_version(&env, "slack"), "1.0.0");
    assert_eq!(ok(&env, &["show", "slack"])["version"], "1.0.0");
    assert!(kept(&env, "slack")[0].starts_with("1.1.0+"));
    let forth = ok(&env, &["rollback", "slack"]);
    assert_eq!(forth["version"], "1.1.0", "a second rollback swaps back");
    assert_eq!(active_version(&env, "slack"), "1.1.0");
    assert!(kept(&env, "slack")[0].starts_with("1.0.0+"));
    consistent(&env.path("packs"));

    let latest = ok(&env, &["update", "slack", "--latest"]);
    assert_eq!(latest["version"], "2.0.0");
    assert_eq!(
        latest["requirement"],
        Value::Null,
        "--latest drops the requirement"
    );

    let records = history(&env, &["slack"]);
    let seen: Vec<(String, String)> = actions(&records)
        .into_iter()
        .map(|(a, from, to, outcome, _)| (format!("{a} {from} -> {to}"), outcome))
        .collect();
    assert_eq!(
        seen,
        [
            ("install null -> \"1.0.0\"".to_owned(), "ok".to_owned()),
            ("update \"1.0.0\" -> \"1.1.0\"".into(), "ok".into()),
            ("rollback \"1.1.0\" -> \"1.0.0\"".into(), "ok".into()),
            ("rollback \"1.0.0\" -> \"1.1.0\"".into(), "ok".into()),
            ("update \"1.1.0\" -> \"2.0.0\"".into(), "ok".into()),
        ]
    );
    for r in &records {
        for field in ["time", "user", "uid", "ref", "source", "checksum"] {
            assert!(r.get(field).is_some(), "{field} in {r}");
        }
    }
}

#[test]
fn an_exact_pin_says_what_is_newer_and_how_to_move() {
    let env = Env::new();
    let server = IndexServer::start();
    publish(
        &env,
        &server,
        served(&server, "slack", &["1.0.0", "1.2.0", "2.0.0-rc.1"]),
    );
    ok(&env, &["install", "slack@1.0.0"]);
    let held = ok(&env, &["update", "slack"]);
    assert_eq!(held["version"], "1.0.0");
    assert_eq!(held["wanted"], "1.0.0");
    assert_eq!(held["latest"], "1.2.0", "a pre-release is not the latest");

    let out = env.run(&["update", "slack"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for part in [
        "slack 1.0.0 is up to date",
        "its requirement `=1.0.0` holds it",
        "1.2.0 is available",
        "attune-pack update slack@^1",
        "attune-pack update slack --latest",
    ] {
        assert!(text.contains(part), "`{part}` not in: {text}");
    }
    let moved = ok(&env, &["update", "slack@^1"]);
    assert_eq!(moved["version"], "1.2.0");
    let out = env.run(&["update", "slack"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.trim(), "slack 1.2.0 is up to date");
}

#[test]
fn a_new_requirement_on_the_command_line_is_recorded() {
    let env = Env::new();
    let server = IndexServer::start();
    publish(
        &env,
        &server,
        served(&server, "slack", &["1.0.0", "2.0.0", "3.0.0"]),
    );
    ok(&env, &["install", "slack@1.0.0"]);
    let outdated = ok(&env, &["outdated"]);
    assert_eq!(outdated[0]["wanted"], "1.0.0", "an exact pin wants itself");
    assert_eq!(outdated[0]["latest"], "3.0.0");
    let same = ok(&env, &["update", "slack@^1"]);
    assert_eq!(same["version"], "1.0.0", "nothing newer within ^1");
    assert_eq!(
        same["requirement"], "^1",
        "the new requirement is recorded all the same"
    );
    assert_eq!(ok(&env, &["show", "slack"])["requirement"], "^1");
    let updated = ok(&env, &["update", "slack@^2"]);
    assert_eq!(updated["version"], "2.0.0");
    assert_eq!(updated["requirement"], "^2");
    let (code, doc, _) = env.json(&["update", "slack@nonsense!"]);
    assert_eq!((code, doc["error"]["code"].as_str()), (2, Some("usage")));
    let (code, doc, _) = env.json(&["rollback", "nope"]);
    assert_eq!(
        (code, doc["error"]["code"].as_str()),
        (4, Some("not_found"))
    );
}

#[test]
fn an_update_that_breaks_a_dependent_is_refused_unless_forced() {
    let env = Env::new();
    let server = IndexServer::start();
    let mut entries = served(&server, "base", &["1.0.0"]);
    entries.push(served_with_deps(&server, "app", "1.0.0", &["base@^1"]));
    publish(&env, &server, entries.clone());
    ok(&env, &["install", "base", "app"]);

    entries.extend(served(&server, "base", &["2.0.0"]));
    entries.push(served_with_deps(&server, "app2", "1.0.0", &["base@^2"]));
    publish(&env, &server, entries);
    let doc = env.refused(&["update", "base"], 5, "dependency_unmet");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`app` 1.0.0 requires `base@^1`"),
        "{message}"
    );
    assert!(message.contains("1.0.0 to 2.0.0"), "{message}");
    assert_eq!(active_version(&env, "base"), "1.0.0", "nothing changed");
    assert!(kept(&env, "base").is_empty());
    let last = history(&env, &["base"]).pop().unwrap();
    assert_eq!(
        (
            last["action"].as_str(),
            last["outcome"].as_str(),
            last["error"].as_str()
        ),
        (Some("update"), Some("failed"), Some("dependency_unmet"))
    );

    let forced = ok(&env, &["update", "base", "--force"]);
    assert_eq!(forced["version"], "2.0.0");

    // A rollback is held to the same rule.
    ok(&env, &["install", "app2"]);
    let doc = env.refused(&["rollback", "base"], 5, "dependency_unmet");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`app2` 1.0.0 requires `base@^2`"),
        "{message}"
    );
    assert_eq!(active_version(&env, "base"), "2.0.0");
    assert_eq!(
        ok(&env, &["rollback", "base", "--force"])["version"],
        "1.0.0"
    );
}

#[test]
fn a_git_branch_that_moved_is_outdated_and_updated() {
    let env = Env::new();
    env.config("", "");
    let srv = env.path("srv");
    std::fs::create_dir_all(&srv).unwrap();
    let repo = Repo::init(&env.path("work"));
    repo.write("pack.yaml", "ref: gitpack\nversion: 1.0.0\n");
    let first = repo.commit("v1");
    let bare = repo.bare_clone(&srv.join("gitpack.git"));
    let daemon = GitDaemon::start(&srv);
    let url = daemon.url("gitpack.git");
    let receipt = ok(&env, &["install", &url, "--ref", "main"]);
    assert_eq!(receipt["source"]["commit"], first.as_str());

    assert_eq!(ok(&env, &["outdated", "--check-sources"]), json!([]));
    repo.write("pack.yaml", "ref: gitpack\nversion: 1.1.0\n");
    let second = repo.commit("v1.1");
    repo.git(&["push", "-q", bare.to_str().unwrap(), "main"]);
    assert_eq!(
        ok(&env, &["outdated"]),
        json!([]),
        "origins only when asked"
    );
    let outdated = ok(&env, &["outdated", "--check-sources"]);
    assert_eq!(outdated[0]["ref"], "gitpack");
    assert_eq!(outdated[0]["commit"], second.as_str());

    let updated = ok(&env, &["update", "gitpack"]);
    assert_eq!(updated["version"], "1.1.0");
    assert_eq!(updated["source"]["commit"], second.as_str());
    let back = ok(&env, &["rollback", "gitpack"]);
    assert_eq!(back["source"]["commit"], first.as_str());
}

#[test]
fn an_archive_url_is_checked_with_a_conditional_request() {
    let env = Env::new();
    env.config("", "");
    let server = IndexServer::start();
    server.put_with_etag("p.tgz", pack_tgz("arch", "1.0.0"), "\"v1\"");
    let url = server.url("p.tgz");
    ok(&env, &["--allow-http", "install", &url]);
    assert_eq!(server.hits("p.tgz"), 1);

    assert_eq!(
        ok(&env, &["--allow-http", "outdated", "--check-sources"]),
        json!([])
    );
    assert_eq!(server.not_modified(), 1, "answered 304, nothing downloaded");

    server.put_with_etag("p.tgz", pack_tgz("arch", "1.1.0"), "\"v2\"");
    let outdated = ok(&env, &["--allow-http", "outdated", "--check-sources"]);
    assert_eq!(outdated[0]["ref"], "arch");
    let updated = ok(&env, &["--allow-http", "update", "arch"]);
    assert_eq!(updated["version"], "1.1.0");
}

#[test]
fn a_lockfile_is_reproduced_into_an_empty_store_and_a_tampered_one_refused() {
    let env = Env::new();
    let server = IndexServer::start();
    let mut entries = served(&server, "base", &["1.0.0"]);
    entries.push(served_with_deps(&server, "app", "1.2.0", &["base@^1"]));
    publish(&env, &server, entries);
    ok(&env, &["install", "app", "--with-deps"]);
    let repo = Repo::init(&env.path("work"));
    repo.write("pack.yaml", "ref: gitpack\nversion: 0.1.0\n");
    let commit = repo.commit("v0.1");
    let srv = env.path("srv");
    std::fs::create_dir_all(&srv).unwrap();
    let bare = repo.bare_clone(&srv.join("gitpack.git"));
    let daemon = GitDaemon::start(&srv);
    ok(&env, &["install", &daemon.url("gitpack.git")]);

    let lockfile = env.path("packs.lock.json");
    ok(&env, &["lock", "-o", lockfile.to_str().unwrap()]);
    let lock: Value = serde_json::from_slice(&std::fs::read(&lockfile).unwrap()).unwrap();
    assert_eq!(lock["version"], 1);
    let refs: Vec<&str> = lock["packs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["ref"].as_str().unwrap())
        .collect();
    assert_eq!(refs, ["app", "base", "gitpack"]);
    let git = &lock["packs"][2];
    assert_eq!(git["source"]["commit"], commit.as_str());
    assert!(git["checksum"]["content"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));

    // The branch moves on: the lockfile still installs the locked commit.
    repo.write("pack.yaml", "ref: gitpack\nversion: 0.2.0\n");
    let moved = repo.commit("v0.2");
    repo.git(&["push", "-q", bare.to_str().unwrap(), "main"]);

    // Another host: its own store and cache, the same registry config.
    let host = Env::new();
    std::fs::copy(env.path("config.yaml"), host.path("config.yaml")).unwrap();
    let other = host.path("packs");
    let in_other = |args: &[&str]| host.json(args);
    let mut tampered = lock.clone();
    tampered["packs"][1]["checksum"]["content"] = json!(format!("sha256:{}", "0".repeat(64)));
    let bad = env.path("tampered.json");
    std::fs::write(&bad, tampered.to_string()).unwrap();
    let (code, doc, stderr) = in_other(&["install", "--locked", bad.to_str().unwrap()]);
    assert_eq!(code, 3, "{doc}\n{stderr}");
    assert_eq!(doc["error"]["code"], "lock_mismatch");
    assert!(
        doc["error"]["message"].as_str().unwrap().contains("base"),
        "{doc}"
    );
    let none: Vec<_> = std::fs::read_dir(&other)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    assert!(none.is_empty(), "nothing installed: {none:?}");

    // A commit changed in the lockfile: what it names is not what was locked.
    let mut moved_commit = lock.clone();
    moved_commit["packs"][2]["source"]["commit"] = json!(moved);
    std::fs::write(&bad, moved_commit.to_string()).unwrap();
    let (code, doc, _) = in_other(&["install", "--locked", bad.to_str().unwrap()]);
    assert_eq!(
        (code, doc["error"]["code"].as_str()),
        (3, Some("lock_mismatch"))
    );
    assert!(doc["error"]["message"]
        .as_str()
        .unwrap()
        .contains("gitpack"));

    let (code, doc, _) = in_other(&[
        "install",
        "--locked",
        lockfile.to_str().unwrap(),
        "--dry-run",
    ]);
    assert_eq!((code, doc.as_array().map(Vec::len)), (0, Some(3)));
    assert!(!other.join("app").exists(), "a dry run installs nothing");

    let (code, doc, stderr) = in_other(&["install", "--locked", lockfile.to_str().unwrap()]);
    assert_eq!(code, 0, "{doc}\n{stderr}");
    let installed = doc.as_array().unwrap();
    assert_eq!(installed.len(), 3);
    for (got, want) in installed.iter().zip(lock["packs"].as_array().unwrap()) {
        assert_eq!(got["ref"], want["ref"]);
        assert_eq!(got["version"], want["version"]);
        assert_eq!(got["checksum"], want["checksum"]);
        assert_eq!(got["requirement"], want["requirement"]);
    }
    assert_eq!(
        installed[2]["version"], "0.1.0",
        "the locked commit, not the branch"
    );
    consistent(&other);
    let (_, again, _) = in_other(&["install", "--locked", lockfile.to_str().unwrap()]);
    assert_eq!(
        again.as_array().unwrap().len(),
        3,
        "unchanged the second time"
    );

    // --exact removes what the lockfile does not list.
    let mut fewer = lock.clone();
    fewer["packs"].as_array_mut().unwrap().remove(2);
    let fewer_path = env.path("fewer.json");
    std::fs::write(&fewer_path, fewer.to_string()).unwrap();
    let (code, doc, _) = in_other(&[
        "install",
        "--locked",
        fewer_path.to_str().unwrap(),
        "--exact",
    ]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc[2], json!({"removed": "gitpack"}));
    assert!(!other.join("gitpack").exists());
}

#[test]
fn history_records_failed_and_successful_installs() {
    let env = Env::new();
    let server = IndexServer::start();
    let good = pack_tgz("hist", "1.0.0");
    server.put("packs/hist.tgz", good.clone());
    let mut entry_bad = entry(
        "hist",
        "1.0.0",
        vec![
            json!({"type": "archive", "url": server.url("packs/hist.tgz"), "checksum": format!("sha256:{}", "1".repeat(64))}),
        ],
    );
    publish(&env, &server, vec![entry_bad.clone()]);
    env.refused(&["install", "hist"], 3, "checksum_mismatch");
    entry_bad["install_sources"] = json!([archive(&server.url("packs/hist.tgz"), &good)]);
    publish(&env, &server, vec![entry_bad]);
    ok(&env, &["install", "hist"]);

    let records = history(&env, &[]);
    let seen: Vec<(String, String, Value)> = actions(&records)
        .into_iter()
        .map(|(a, _, _, outcome, error)| (a, outcome, error))
        .collect();
    assert_eq!(
        seen,
        [
            (
                "install".into(),
                "failed".into(),
                json!("checksum_mismatch")
            ),
            ("install".into(), "ok".into(), Value::Null),
        ]
    );
    assert_eq!(records[0]["ref"], "hist");
    assert!(records[1]["source"]["url"]
        .as_str()
        .unwrap()
        .ends_with("hist.tgz"));

    // A crash mid-append leaves a torn last line: skipped with a warning.
    let path = env.path("packs/.attune-pack/history.jsonl");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("{\"time\": \"2026-");
    std::fs::write(&path, text).unwrap();
    let (code, doc, stderr) = env.json(&["history"]);
    assert_eq!((code, doc.as_array().unwrap().len()), (0, 2));
    assert!(stderr.contains("could not be read"), "{stderr}");
    let table = String::from_utf8_lossy(&env.run(&["history", "hist"]).stdout).into_owned();
    assert!(table.contains("failed (checksum_mismatch)"), "{table}");
}

#[test]
fn three_packs_in_one_command_with_the_middle_one_failing() {
    let env = Env::new();
    let server = IndexServer::start();
    let mut entries = served(&server, "aaa", &["1.0.0"]);
    entries.extend(served(&server, "ccc", &["1.0.0"]));
    publish(&env, &server, entries);
    let (code, doc, stderr) = env.json(&["install", "aaa", "bbb", "ccc"]);
    assert_eq!(code, 4, "the first failure's exit code: {stderr}");
    let items = doc.as_array().unwrap();
    assert_eq!(items[0]["ref"], "aaa");
    assert_eq!(items[1]["source"], "bbb");
    assert_eq!(items[1]["error"]["code"], "not_found");
    assert_eq!(items[2]["ref"], "ccc");
    assert!(
        stderr.contains("2 of 3 succeeded; failed: bbb (not_found)"),
        "{stderr}"
    );
    assert!(env.path("packs/aaa/pack.yaml").exists() && env.path("packs/ccc/pack.yaml").exists());

    let (code, doc, _) = env.json(&["uninstall", "aaa", "bbb", "ccc"]);
    assert_eq!(code, 4);
    assert_eq!(doc[0], json!({"removed": "aaa"}));
    assert_eq!(doc[1]["error"]["code"], "not_found");
    assert_eq!(doc[2], json!({"removed": "ccc"}));

    let one = ok(&env, &["install", "aaa"]);
    assert_eq!(one["ref"], "aaa", "one argument: one document");
    let all = ok(&env, &["update", "--all"]);
    assert_eq!(all.as_array().unwrap().len(), 1, "--all: an array");
}

#[test]
fn read_only_commands_never_create_the_store() {
    let env = Env::new();
    env.config("", "");
    let lockfile = env.path("empty.lock.json");
    let lock = ["lock", "-o", lockfile.to_str().unwrap()];
    for args in [&["list"][..], &["history"], &["outdated"], &lock] {
        let out = env.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!env.path("packs").exists(), "{args:?} created the store");
    }
    let lock: Value = serde_json::from_slice(&std::fs::read(&lockfile).unwrap()).unwrap();
    assert_eq!(lock, json!({"version": 1, "packs": []}));
    // A lockfile written to a device is written through it, never renamed over it.
    let out = env.run(&["lock", "-o", "/dev/null"]);
    assert!(out.status.success());
    let null = std::fs::metadata("/dev/null").unwrap();
    assert!(!null.is_file(), "/dev/null is still a device");
}

/// Credentials in a source URL stay out of receipts, the history and lockfiles; the store's
/// private record (0600) keeps them, so `update` on this host can fetch the source again.
#[test]
fn credentials_reach_only_the_private_record() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.config("", "");
    let server = IndexServer::start();
    server.require_auth("Basic dXNlcjpzM2NyZXQ="); // user:s3cret
    server.put("p.tgz", pack_tgz("secret", "1.0.0"));
    let url = server
        .url("p.tgz")
        .replace("http://", "http://user:s3cret@");
    ok(&env, &["--allow-http", "install", &url]);
    server.put("p.tgz", pack_tgz("secret", "1.1.0"));
    let updated = ok(&env, &["--allow-http", "update", "secret"]);
    assert_eq!(updated["version"], "1.1.0");
    let lockfile = env.path("secret.lock.json");
    ok(&env, &["lock", "-o", lockfile.to_str().unwrap()]);

    let private = env.path("packs/.attune-pack/private/secret.json");
    let mode = std::fs::metadata(&private).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(std::fs::read_to_string(&private)
        .unwrap()
        .contains("s3cret"));
    for path in [
        lockfile,
        env.path("packs/.attune-pack/history.jsonl"),
        env.path("packs/.attune-pack/receipts/secret.json"),
    ] {
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("s3cret"), "{}: {text}", path.display());
        assert!(text.contains("***@"), "{}: {text}", path.display());
    }
}
