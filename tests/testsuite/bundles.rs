//! Offline bundles: `bundle create` from a loopback registry (a git pack depending on an
//! archive pack), from a lockfile and from the store; `bundle list`; `bundle verify` refusing
//! any flipped byte, checking signatures made by us and by the real `minisign`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

use crate::support::git_server::{GitDaemon, Repo};
use crate::support::index_server::IndexServer;
use crate::support::registry::{archive, entry, index, index_line, pack_tgz, sha256, Env};
use crate::support::succeeded;

const EPOCH: &str = "1767225600";

struct Fixture {
    env: Env,
    base_tgz: Vec<u8>,
    app_content: String,
    _server: IndexServer,
    _daemon: GitDaemon,
}

/// A registry on 127.0.0.1: `app` 2.0.0 in git (an executable and a symlink, depending on
/// `base@^1`), `base` 1.0.0 as a .tgz over HTTP.
fn fixture() -> Fixture {
    let env = Env::new();
    let repo = Repo::init(&env.path("work/app"));
    repo.write(
        "pack.yaml",
        "ref: app\nversion: 2.0.0\ndescription: The app\nauthor: t\nlicense: MIT\ndependencies: [\"base@^1\"]\n",
    );
    repo.write("actions/run.yaml", "name: run\ndescription: Runs\n");
    repo.write_exec("actions/run.sh", "#!/bin/sh\necho hi\n");
    repo.symlink("actions/again.sh", "run.sh");
    repo.commit("app 2.0.0");
    repo.git(&["tag", "v2.0.0"]);
    std::fs::create_dir_all(env.path("srv")).unwrap();
    repo.bare_clone(&env.path("srv/app.git"));
    let daemon = GitDaemon::start(&env.path("srv"));
    let app_content = checksum_of(&env, &repo.dir);

    let server = IndexServer::start();
    let base_tgz = pack_tgz("base", "1.0.0");
    server.put("packs/base-1.0.0.tgz", base_tgz.clone());
    let git = json!({"type": "git", "url": daemon.url("app.git"), "ref": "v2.0.0", "checksum": app_content});
    let mut app = entry("app", "2.0.0", vec![git]);
    app["dependencies"] = json!({"packs": ["base@^1"]});
    let base = entry(
        "base",
        "1.0.0",
        vec![archive(&server.url("packs/base-1.0.0.tgz"), &base_tgz)],
    );
    server.put("index.json", index(vec![app, base]));
    env.config(&index_line("main", server.url("index.json")), "");
    Fixture {
        env,
        base_tgz,
        app_content,
        _server: server,
        _daemon: daemon,
    }
}

fn checksum_of(env: &Env, dir: &Path) -> String {
    let out = env.run(&["checksum", dir.to_str().unwrap()]);
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The binary as [`Env::run`] runs it, with `SOURCE_DATE_EPOCH` set.
fn run(env: &Env, args: &[&str]) -> Output {
    env.command(args)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .output()
        .unwrap()
}

fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn create(env: &Env, name: &str, args: &[&str]) -> PathBuf {
    let path = env.path(name);
    let mut all = vec!["bundle", "create", "-o", path.to_str().unwrap()];
    all.extend_from_slice(args);
    ok(run(env, &all));
    path
}

/// (name, offset of the header, offset of the data, size) of every member.
fn members(bytes: &[u8]) -> Vec<(String, usize, usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while bytes[at] != 0 {
        let h = &bytes[at..at + 512];
        let field = |r: std::ops::Range<usize>| {
            let f = &h[r];
            String::from_utf8_lossy(&f[..f.iter().position(|b| *b == 0).unwrap_or(f.len())])
                .into_owned()
        };
        let (prefix, name) = (field(345..500), field(0..100));
        let name = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let size = usize::from_str_radix(&field(124..135), 8).unwrap();
        out.push((name, at, at + 512, size));
        at += 512 + size.div_ceil(512) * 512;
    }
    out
}

fn member<'a>(bytes: &'a [u8], name: &str) -> &'a [u8] {
    let (_, _, data, size) = members(bytes).into_iter().find(|m| m.0 == name).unwrap();
    &bytes[data..data + size]
}

fn listed(env: &Env, bundle: &Path) -> Vec<Value> {
    let out = ok(run(
        env,
        &["--json", "bundle", "list", bundle.to_str().unwrap()],
    ));
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn a_bundle_with_deps_holds_both_packs_and_is_byte_identical_when_made_again() {
    let f = fixture();
    let first = create(&f.env, "a.bundle", &["app", "--with-deps"]);
    let second = create(&f.env, "b.bundle", &["app", "--with-deps"]);
    let bytes = std::fs::read(&first).unwrap();
    assert_eq!(bytes, std::fs::read(&second).unwrap(), "not reproducible");

    let names: Vec<String> = members(&bytes).into_iter().map(|m| m.0).collect();
    assert_eq!(
        names,
        [
            "index.json",
            "manifest.json",
            "packs/app-2.0.0.tar.gz",
            "packs/base-1.0.0.tar.gz"
        ]
    );
    // The archive exactly as published.
    assert_eq!(member(&bytes, "packs/base-1.0.0.tar.gz"), &f.base_tgz[..]);
    let index: Value = serde_json::from_slice(member(&bytes, "index.json")).unwrap();
    assert_eq!(index["registry_name"], "bundle");
    assert_eq!(index["last_updated"], "2026-01-01T00:00:00Z");
    let app = &index["packs"][0];
    assert_eq!(app["dependencies"]["packs"], json!(["base@^1"]));
    let source = &app["install_sources"][0];
    assert_eq!(source["url"], "packs/app-2.0.0.tar.gz");
    assert_eq!(
        source["checksum"].as_str().unwrap(),
        sha256(member(&bytes, "packs/app-2.0.0.tar.gz"))
    );

    let list = listed(&f.env, &first);
    let row = |r: &str| list.iter().find(|p| p["ref"] == r).unwrap().clone();
    assert_eq!(
        (row("app")["kind"].clone(), row("app")["version"].clone()),
        (json!("git"), json!("2.0.0"))
    );
    assert_eq!(row("app")["checksum"], f.app_content);
    assert_eq!(row("base")["kind"], "archive");
    let human =
        String::from_utf8(ok(run(&f.env, &["bundle", "list", first.to_str().unwrap()])).stdout)
            .unwrap();
    assert!(
        human.contains("app") && human.contains("base  ") && human.contains(&f.app_content),
        "{human}"
    );

    // The git pack's tar.gz installs to the same content checksum as the git source.
    let tgz = f.env.path("app.tar.gz");
    std::fs::write(&tgz, member(&bytes, "packs/app-2.0.0.tar.gz")).unwrap();
    let (code, receipt, stderr) = f.env.json(&[
        "install",
        tgz.to_str().unwrap(),
        "--skip-tests",
        "--skip-deps",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(receipt["checksum"]["content"], f.app_content);

    let out = ok(run(
        &f.env,
        &["--json", "bundle", "verify", first.to_str().unwrap()],
    ));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc,
        json!({"packs": 2, "signed": false, "signed_by": null, "timestamp": 1767225600})
    );
}

pub(crate) fn minisign_key(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (public, secret) = (
        dir.join(format!("{name}.pub")),
        dir.join(format!("{name}.key")),
    );
    succeeded(
        Command::new("minisign")
            .args(["-G", "-W", "-p"])
            .arg(&public)
            .arg("-s")
            .arg(&secret),
    );
    (public, secret)
}

#[test]
fn any_flipped_byte_is_refused_as_tampering() {
    let f = fixture();
    let (_, key) = minisign_key(f.env.tmp.path(), "k");
    let bundle = create(
        &f.env,
        "s.bundle",
        &["app", "--with-deps", "--sign-key", key.to_str().unwrap()],
    );
    let bytes = std::fs::read(&bundle).unwrap();
    let m = members(&bytes);
    let find = |n: &str| m.iter().find(|x| x.0 == n).unwrap().clone();
    let (index, sig, manifest, pack) = (
        find("index.json"),
        find("index.json.minisig"),
        find("manifest.json"),
        find("packs/base-1.0.0.tar.gz"),
    );
    let offsets = [
        ("the index header's mode", index.1 + 101),
        ("the index header's mtime", index.1 + 140),
        ("the index header's owner name", index.1 + 270),
        ("index.json", index.2 + 30),
        ("the index padding", index.2 + index.3 + 1),
        ("the signature", sig.2 + 80),
        ("the signature header", sig.1 + 5),
        ("manifest.json", manifest.2 + 40),
        ("a pack file", pack.2 + pack.3 / 2),
        ("a pack header's checksum", pack.1 + 150),
        ("the end blocks", bytes.len() - 3),
    ];
    let tampered = f.env.path("t.bundle");
    for (what, at) in offsets {
        let mut b = bytes.clone();
        b[at] ^= 0x20;
        std::fs::write(&tampered, &b).unwrap();
        let out = run(
            &f.env,
            &["--json", "bundle", "verify", tampered.to_str().unwrap()],
        );
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            (out.status.code(), doc["error"]["code"].as_str()),
            (Some(3), Some("checksum_mismatch")),
            "flipping a byte of {what} (offset {at}): {doc}"
        );
        let list = run(&f.env, &["bundle", "list", tampered.to_str().unwrap()]);
        assert_eq!(
            list.status.code(),
            Some(3),
            "bundle list after flipping {what}"
        );
    }
    for (what, b) in [
        ("a byte appended", [&bytes[..], b"x"].concat()),
        ("truncated", bytes[..bytes.len() - 512].to_vec()),
    ] {
        std::fs::write(&tampered, &b).unwrap();
        let out = run(&f.env, &["bundle", "verify", tampered.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(3), "{what}");
    }
    let out = run(&f.env, &["bundle", "verify", tampered.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("tampered")
            || String::from_utf8_lossy(&out.stderr).contains("truncated")
    );
}

#[test]
fn signatures_interoperate_with_minisign_and_trusted_keys_are_enforced() {
    let f = fixture();
    let dir = f.env.tmp.path();
    let (public, key) = minisign_key(dir, "k");
    let (other, _) = minisign_key(dir, "other");
    let bundle = create(
        &f.env,
        "s.bundle",
        &["base", "--sign-key", key.to_str().unwrap()],
    );
    let bytes = std::fs::read(&bundle).unwrap();
    let check = dir.join("check");
    std::fs::create_dir(&check).unwrap();
    std::fs::write(check.join("index.json"), member(&bytes, "index.json")).unwrap();
    std::fs::write(
        check.join("index.json.minisig"),
        member(&bytes, "index.json.minisig"),
    )
    .unwrap();
    let out = succeeded(
        Command::new("minisign")
            .current_dir(&check)
            .args(["-Vm", "index.json", "-p"])
            .arg(&public),
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("timestamp:{EPOCH}")));

    let b = bundle.to_str().unwrap();
    let verify = |key: &Path| {
        let key = key.to_str().unwrap();
        run(
            &f.env,
            &["--json", "bundle", "verify", b, "--trusted-key", key],
        )
    };
    let out = ok(verify(&public));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["signed_by"].is_string(), "{doc}");
    let out = verify(&other);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (out.status.code(), doc["error"]["code"].as_str()),
        (Some(3), Some("signature_invalid")),
        "{doc}"
    );
    // Signed, no key: a warning that it was not checked.
    let out = ok(run(&f.env, &["bundle", "verify", b]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not checked"));
    // Unsigned, with a key: refused.
    let unsigned = create(&f.env, "u.bundle", &["base"]);
    let out = run(
        &f.env,
        &[
            "bundle",
            "verify",
            unsigned.to_str().unwrap(),
            "--trusted-key",
            public.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not signed"));
}

#[test]
fn bundles_from_a_lockfile_and_from_the_store_match_the_receipts() {
    let f = fixture();
    let (code, _, stderr) = f
        .env
        .json(&["install", "app", "--with-deps", "--skip-tests"]);
    assert_eq!(code, 0, "{stderr}");
    let (_, receipts, _) = f.env.json(&["list"]);
    let content = |list: &[Value], r: &str| {
        list.iter().find(|p| p["ref"] == r).map(|p| {
            p.get("checksum")
                .and_then(|c| c.get("content"))
                .unwrap_or(&p["checksum"])
                .clone()
        })
    };
    let receipts = receipts.as_array().unwrap().clone();
    let lock = f.env.path("packs.lock");
    ok(run(&f.env, &["lock", "-o", lock.to_str().unwrap()]));
    for args in [
        vec!["--from-lock", lock.to_str().unwrap()],
        vec!["--all-installed"],
    ] {
        let bundle = create(&f.env, "l.bundle", &args);
        let list = listed(&f.env, &bundle);
        assert_eq!(list.len(), 2, "{args:?}");
        for r in ["app", "base"] {
            assert_eq!(
                content(&list, r),
                content(&receipts, r),
                "{r} with {args:?}"
            );
        }
        ok(run(&f.env, &["bundle", "verify", bundle.to_str().unwrap()]));
    }
}

#[test]
fn a_failed_create_leaves_no_file() {
    let f = fixture();
    let server = IndexServer::start();
    let tgz = pack_tgz("base", "1.0.0");
    server.put("packs/base.tgz", tgz);
    let wrong = json!({"type": "archive", "url": server.url("packs/base.tgz"), "checksum": sha256(b"other")});
    server.put(
        "index.json",
        index(vec![entry("base", "1.0.0", vec![wrong])]),
    );
    f.env
        .config(&index_line("main", server.url("index.json")), "");
    let out_dir = f.env.path("out");
    std::fs::create_dir(&out_dir).unwrap();
    let target = out_dir.join("x.bundle");
    let out = run(
        &f.env,
        &[
            "--json",
            "bundle",
            "create",
            "-o",
            target.to_str().unwrap(),
            "base",
        ],
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (out.status.code(), doc["error"]["code"].as_str()),
        (Some(3), Some("checksum_mismatch")),
        "{doc}"
    );
    assert_eq!(
        std::fs::read_dir(&out_dir).unwrap().count(),
        0,
        "left something behind"
    );

    let out = run(
        &f.env,
        &["bundle", "create", "-o", target.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--all-installed"));
    assert!(!target.exists());
}

/// The binary with nothing of this environment: no network servers are needed, and no
/// program on PATH could be run (`env -i PATH=/nonexistent`).
fn run_bare(packs: &Path, args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(crate::support::BIN)
        .env_clear()
        .env("PATH", "/nonexistent")
        .arg("--packs-dir")
        .arg(packs)
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{stderr}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap_or(-1), doc, stderr)
}

/// [`run_bare`] that must fail with `exit` and `code`; the error's message.
fn refused_bare(packs: &Path, args: &[&str], exit: i32, code: &str) -> String {
    let (got, doc, stderr) = run_bare(packs, args);
    assert_eq!(
        (got, doc["error"]["code"].as_str()),
        (exit, Some(code)),
        "{doc}\n{stderr}"
    );
    doc["error"]["message"].as_str().unwrap().to_owned()
}

/// `content` of each receipt, by ref.
fn contents(receipts: &Value) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = receipts
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let c = r["checksum"]["content"].as_str().unwrap().to_owned();
            (r["ref"].as_str().unwrap().to_owned(), c)
        })
        .collect();
    all.sort();
    all
}

#[test]
fn a_signed_bundle_installs_with_its_dependency_after_every_server_is_gone_and_path_is_empty() {
    let Fixture {
        env,
        _server,
        _daemon,
        ..
    } = fixture();
    let (public, secret) = minisign_key(env.tmp.path(), "k");
    let bundle = create(
        &env,
        "site.bundle",
        &["app", "--with-deps", "--sign-key", secret.to_str().unwrap()],
    );
    ok(run(
        &env,
        &["install", "app", "--with-deps", "--skip-tests"],
    ));
    let direct: Value = serde_json::from_slice(&ok(run(&env, &["--json", "list"])).stdout).unwrap();
    ok(run(
        &env,
        &["lock", "-o", env.path("site.lock").to_str().unwrap()],
    ));
    _server.shutdown();
    drop(_daemon);

    let offline = env.path("offline");
    let key = public.to_str().unwrap();
    let b = bundle.to_str().unwrap();
    let (code, doc, stderr) = run_bare(
        &offline,
        &[
            "install",
            "--bundle",
            b,
            "--trusted-key",
            key,
            "app",
            "--with-deps",
            "--skip-tests",
        ],
    );
    assert_eq!(code, 0, "{doc}\n{stderr}");
    assert_eq!(doc["source"]["kind"], "bundle");
    assert_eq!(doc["source"]["path"], b);
    assert_eq!(doc["source"]["origin"]["kind"], "git");
    assert_eq!(
        doc["source"]["commit"], doc["source"]["origin"]["commit"],
        "{doc}"
    );
    assert_eq!(doc["source"]["commit"].as_str().unwrap().len(), 40);
    let (_, list, _) = run_bare(&offline, &["list"]);
    assert_eq!(contents(&list), contents(&direct));
    let base = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ref"] == "base")
        .unwrap();
    assert_eq!(base["source"]["origin"]["kind"], "archive");
    assert!(base["source"]["key_id"].is_string(), "{base}");

    // A lockfile is met from the bundle alone, commits and checksums compared.
    let locked = env.path("locked");
    let lock = env.path("site.lock");
    let (code, doc, stderr) = run_bare(
        &locked,
        &[
            "install",
            "--locked",
            lock.to_str().unwrap(),
            "--bundle",
            b,
            "--trusted-key",
            key,
            "--skip-tests",
        ],
    );
    assert_eq!(code, 0, "{doc}\n{stderr}");
    let (_, list, _) = run_bare(&locked, &["list"]);
    assert_eq!(contents(&list), contents(&direct));
}

#[test]
fn a_tampered_or_foreign_bundle_installs_nothing() {
    let f = fixture();
    let (public, secret) = minisign_key(f.env.tmp.path(), "k");
    let (other, _) = minisign_key(f.env.tmp.path(), "other");
    let bundle = create(
        &f.env,
        "site.bundle",
        &["app", "--with-deps", "--sign-key", secret.to_str().unwrap()],
    );
    let bytes = std::fs::read(&bundle).unwrap();
    let pack = members(&bytes)
        .into_iter()
        .find(|m| m.0 == "packs/base-1.0.0.tar.gz")
        .unwrap();
    let offline = f.env.path("offline");
    let flipped = f.env.path("flipped.bundle");
    for at in [100, pack.2 + pack.3 / 2, bytes.len() - 3] {
        let mut bad = bytes.clone();
        bad[at] ^= 0x20;
        std::fs::write(&flipped, &bad).unwrap();
        let f = flipped.to_str().unwrap();
        let args = ["install", "--bundle", f, "base", "--skip-tests"];
        let msg = refused_bare(&offline, &args, 3, "checksum_mismatch");
        assert!(msg.contains("corrupt or was altered"), "byte {at}: {msg}");
        assert!(!offline.join("base").exists());
    }
    let b = bundle.to_str().unwrap();
    let msg = refused_bare(
        &offline,
        &[
            "install",
            "--bundle",
            b,
            "--trusted-key",
            other.to_str().unwrap(),
            "base",
            "--skip-tests",
        ],
        3,
        "signature_invalid",
    );
    assert!(msg.contains("not trusted"), "{msg}");
    assert!(!offline.join("base").exists());
    // Without keys, the bundle's own digests still hold it together; a warning says the
    // signature was not checked.
    let (code, doc, stderr) = run_bare(
        &offline,
        &["install", "--bundle", b, "base", "--skip-tests"],
    );
    assert_eq!(code, 0, "{doc}\n{stderr}");
    assert!(stderr.contains("not checked"), "{stderr}");
    // A name the bundle lacks is not found in it; a path is not a pack name.
    let msg = refused_bare(
        &offline,
        &["install", "--bundle", b, "nope"],
        4,
        "not_found",
    );
    assert!(msg.contains("`nope`"), "{msg}");
    let dir = f.env.path("work/app");
    let args = ["install", "--bundle", b, dir.to_str().unwrap()];
    let msg = refused_bare(&offline, &args, 2, "usage");
    assert!(msg.contains("bundle list"), "{msg}");
    let _ = public;
}

#[test]
fn an_older_bundle_by_the_same_key_is_refused_unless_downgrading() {
    let f = fixture();
    let (public, secret) = minisign_key(f.env.tmp.path(), "k");
    let s = secret.to_str().unwrap();
    let old = create(&f.env, "old.bundle", &["base", "--sign-key", s]);
    let newer = f.env.path("new.bundle");
    let out = Command::new(crate::support::BIN)
        .args(["--config", f.env.path("config.yaml").to_str().unwrap()])
        .args(["--cache-dir", f.env.path("cache").to_str().unwrap()])
        .args([
            "bundle",
            "create",
            "-o",
            newer.to_str().unwrap(),
            "base",
            "--sign-key",
            s,
        ])
        .env("SOURCE_DATE_EPOCH", "1767229200")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let offline = f.env.path("offline");
    let key = public.to_str().unwrap();
    let (new_b, old_b) = (newer.to_str().unwrap(), old.to_str().unwrap());
    let args = |b| {
        vec![
            "install",
            "--bundle",
            b,
            "--trusted-key",
            key,
            "base",
            "--skip-tests",
            "--force",
        ]
    };
    assert_eq!(run_bare(&offline, &args(new_b)).0, 0);
    let msg = refused_bare(&offline, &args(old_b), 3, "signature_invalid");
    assert!(msg.contains("older than"), "{msg}");
    let mut downgrade = args(old_b);
    downgrade.push("--allow-downgrade");
    assert_eq!(run_bare(&offline, &downgrade).0, 0);
}

#[test]
fn without_source_date_epoch_the_bundle_takes_its_indices_time_and_may_be_a_configured_index() {
    let f = fixture();
    let (public, secret) = minisign_key(f.env.tmp.path(), "k");
    let bundle = f.env.path("site.bundle");
    let b = bundle.to_str().unwrap();
    let out = f.env.run(&[
        "bundle",
        "create",
        "-o",
        b,
        "base",
        "--sign-key",
        secret.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, doc, _) = f.env.json(&["bundle", "verify", b]);
    assert_eq!(code, 0, "{doc}");
    // support::registry::index writes last_updated 2025-01-01T00:00:00Z.
    assert_eq!(doc["timestamp"], 1_735_689_600);

    // The bundle as an index of the config, its keys enforced like any index's.
    let line =
        |key: &str| format!("    - {{name: usb, url: \"{b}\", trusted_keys: [\"{key}\"]}}\n");
    f.env.config(&line(public.to_str().unwrap()), "");
    let (code, receipt, stderr) = f.env.json(&["install", "base", "--skip-tests"]);
    assert_eq!(code, 0, "{receipt}\n{stderr}");
    assert_eq!(receipt["source"]["kind"], "bundle");
    assert_eq!(receipt["source"]["index"], "usb");
    let (other, _) = minisign_key(f.env.tmp.path(), "other");
    f.env.config(&line(other.to_str().unwrap()), "");
    let doc = f.env.refused(
        &["install", "base", "--skip-tests", "--force"],
        3,
        "signature_invalid",
    );
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("signature of bundle"),
        "{doc}"
    );
}
