//! Registry installs end to end: the real binary against indices on local HTTP servers and
//! in files, with priorities, versions, caching, checksums, identity checks, private-index
//! headers, and the pack author's `index` commands.

use crate::support::index_server;
use crate::support::registry::*;

use std::path::Path;
use std::process::Command;

use index_server::IndexServer;
use serde_json::{json, Value};

#[test]
fn priorities_versions_and_pins_across_http_and_file_indices() {
    let env = Env::new();
    let a = IndexServer::start();
    let b = IndexServer::start();
    let mut a_entries = served(
        &a,
        "alpha",
        &["1.0.0", "1.2.3", "1.2.9", "2.0.0", "3.0.0-rc.1"],
    );
    a_entries.extend(served(&a, "beta", &["0.1.0"]));
    a.put("index.json", index(a_entries));
    let mut b_entries = served(&b, "alpha", &["4.0.0"]);
    b_entries.extend(served(&b, "beta", &["1.0.0"]));
    b_entries.extend(served(&b, "delta", &["1.0.0-beta.1"]));
    b.put("index.json", index(b_entries));
    let c_dir = env.path("c");
    write(
        &c_dir.join("index.json"),
        index(local(&c_dir, "gamma", &["1.0.0", "1.1.0"])),
    );
    // b is listed first but a has the lower priority number; c ties with b and comes later.
    env.config(
        &format!(
            "    - {{name: b, url: \"{}\", priority: 5}}\n    - {{name: a, url: \"{}\", priority: 1}}\n    - {{name: c, url: \"{}\", priority: 5}}\n",
            b.url("index.json"),
            a.url("index.json"),
            c_dir.join("index.json").display()
        ),
        "",
    );
    let cases: &[(&[&str], &str, &str)] = &[
        (&["alpha"], "2.0.0", "a"),
        (&["alpha@latest"], "2.0.0", "a"),
        (&["alpha@1.2.3"], "1.2.3", "a"),
        (&["alpha@^1"], "1.2.9", "a"),
        (&["alpha@~1.2"], "1.2.9", "a"),
        (&["alpha@>=1.0,<1.2"], "1.0.0", "a"),
        (&["alpha@3.0.0-rc.1"], "3.0.0-rc.1", "a"),
        // a has no 4.x: the next index with a match wins.
        (&["alpha@^4"], "4.0.0", "b"),
        (&["b/alpha"], "4.0.0", "b"),
        (&["alpha", "--registry", "b"], "4.0.0", "b"),
        // The first index with a match wins, even when a later one has a higher version.
        (&["beta"], "0.1.0", "a"),
        (&["b/beta"], "1.0.0", "b"),
        (&["gamma"], "1.1.0", "c"),
        (&["gamma@1.0.0"], "1.0.0", "c"),
        (&["delta@1.0.0-beta.1"], "1.0.0-beta.1", "b"),
    ];
    for (args, version, idx) in cases {
        let (code, v, i, err) = env.plan(args);
        assert_eq!(
            (code, v.as_str(), i.as_str()),
            (0, *version, *idx),
            "{args:?}: {err}"
        );
    }
    // A pre-release only when asked for: `delta` has nothing else.
    let (code, _, _, err) = env.plan(&["delta"]);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("1.0.0-beta.1") && err.contains("pre-release"),
        "{err}"
    );

    // A real install records the registry source.
    let (code, doc, err) = env.json(&["install", "alpha@^1"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(doc["version"], "1.2.9");
    assert_eq!(doc["source"]["kind"], "registry");
    assert_eq!(doc["source"]["index"], "a");
    assert_eq!(doc["source"]["url"], a.url("packs/alpha-1.2.9.tgz"));
    assert!(doc["checksum"]["archive"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert!(env.path("packs/alpha/pack.yaml").is_file());
}

#[test]
fn not_found_names_pack_requirement_indices_and_versions() {
    let env = Env::new();
    let dir = env.path("idx");
    let cfg = env.use_file_index(&dir, local(&dir, "alpha", &["1.0.0", "2.0.0"]));
    let doc = env.refused(&["install", "alpha@^3"], 4, "not_found");
    let msg = doc["error"]["message"].as_str().unwrap();
    for needle in ["`alpha`", "^3", "main", "1.0.0, 2.0.0"] {
        assert!(msg.contains(needle), "{needle} missing in {msg}");
    }
    let (code, doc, _) = env.json(&["install", "nosuch"]);
    assert_eq!(code, 4, "{doc}");
    // An unknown index name, or the registry turned off, are usage errors.
    assert_eq!(env.json(&["install", "other/alpha"]).0, 2);
    env.config(&cfg, "  enabled: false\n");
    let (code, doc, _) = env.json(&["install", "alpha"]);
    assert_eq!(code, 2);
    assert!(doc["error"]["message"]
        .as_str()
        .unwrap()
        .contains("pack_registry.enabled"));
}

#[test]
fn a_failing_index_is_skipped_and_all_failing_is_index_unavailable() {
    let env = Env::new();
    let good = IndexServer::start();
    good.put("index.json", index(served(&good, "alpha", &["1.0.0"])));
    let broken = IndexServer::start();
    broken.put_with("index.json", 500, "oops", None);
    let html = IndexServer::start();
    html.put("index.json", "<html>captive portal</html>");
    let gone = IndexServer::start();
    let gone_url = gone.url("index.json");
    gone.shutdown();
    env.config(
        &format!(
            "    - {{name: broken, url: \"{}\", priority: 1}}\n    - {{name: html, url: \"{}\", priority: 2}}\n    - {{name: gone, url: \"{gone_url}\", priority: 3}}\n    - {{name: good, url: \"{}\", priority: 4}}\n",
            broken.url("index.json"),
            html.url("index.json"),
            good.url("index.json")
        ),
        "",
    );
    let (code, v, i, err) = env.plan(&["alpha"]);
    assert_eq!(
        (code, v.as_str(), i.as_str()),
        (0, "1.0.0", "good"),
        "{err}"
    );
    for name in ["`broken`", "`html`", "`gone`"] {
        assert!(err.contains(name), "no warning for {name}: {err}");
    }
    // Every index failing is exit 1 (index_unavailable).
    env.config(&index_line("gone", &gone_url), "");
    env.refused(&["install", "alpha"], 1, "index_unavailable");
    env.refused(&["search", "alpha"], 1, "index_unavailable");
}

#[test]
fn cache_ttl_revalidation_stale_fallback_and_offline() {
    let env = Env::new();
    let server = IndexServer::start();
    // Archives on another server, which stays up when the index server goes.
    let archives = IndexServer::start();
    server.put_with_etag(
        "index.json",
        index(served(&archives, "alpha", &["1.0.0"])),
        "\"v1\"",
    );
    let cfg = index_line("main", server.url("index.json"));

    // Offline without a cache: nothing to read.
    env.config(&cfg, "  cache_ttl: 3600\n");
    env.refused(
        &["--offline", "install", "--dry-run", "alpha"],
        1,
        "index_unavailable",
    );
    assert_eq!(server.hits("index.json"), 0);

    // A fresh cache is used without asking the server.
    assert_eq!(env.plan(&["alpha"]).0, 0);
    assert_eq!(env.plan(&["alpha"]).0, 0);
    assert_eq!(server.hits("index.json"), 1);

    // With cache_ttl 0 every use revalidates: 304 keeps the cached copy.
    env.config(&cfg, "  cache_ttl: 0\n");
    assert_eq!(env.plan(&["alpha"]).0, 0);
    assert_eq!(server.hits("index.json"), 2);
    assert_eq!(server.not_modified(), 1);

    // Offline with a cache: no request at all. The pack resolves from the cached index; its
    // archive, remote like every source of a remote index, cannot be fetched offline.
    let downloads = archives.hits("packs/alpha-1.0.0.tgz");
    let (code, doc, err) = env.json(&["--offline", "install", "--dry-run", "alpha"]);
    assert_eq!(
        (code, doc["error"]["code"].as_str()),
        (1, Some("network")),
        "{doc} {err}"
    );
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("offline") && message.contains("alpha-1.0.0.tgz"),
        "{message}"
    );
    assert_eq!(server.hits("index.json"), 2);
    assert_eq!(archives.hits("packs/alpha-1.0.0.tgz"), downloads);

    // The server is gone: the stale cache is used, with a warning.
    server.shutdown();
    let (code, v, _, err) = env.plan(&["alpha"]);
    assert_eq!((code, v.as_str()), (0, "1.0.0"), "{err}");
    assert!(
        err.contains("unreachable") && err.contains("cached copy"),
        "{err}"
    );
    let (code, doc, _) = env.json(&["registries"]);
    assert_eq!(code, 0);
    assert_eq!(doc[0]["reachable"], false);
    assert!(doc[0]["cache_age_secs"].is_u64());
}

/// The cache's files for the index at `url`'s cached copy: (document, pre-parsed form).
fn cache_files(env: &Env) -> (std::path::PathBuf, std::path::PathBuf) {
    let (name, _) = env.cached_indices().pop().expect("a cached document");
    let doc = env.path("cache/indices").join(&name);
    (doc.clone(), doc.with_extension("parsed"))
}

#[test]
fn a_warm_cache_reads_its_pre_parsed_form_only_with_its_own_document() {
    let env = Env::new();
    let server = IndexServer::start();
    let archives = IndexServer::start();
    let mut entries = served(&archives, "alpha", &["1.0.0"]);
    entries.push(json!({"ref": "broken", "version": "banana"}));
    server.put_with_etag("index.json", index(entries), "\"v1\"");
    let cfg = index_line("main", server.url("index.json"));
    env.config(&cfg, "  cache_ttl: 3600\n");

    let (code, v, _, err) = env.plan(&["alpha"]);
    assert_eq!((code, v.as_str()), (0, "1.0.0"), "{err}");
    assert!(err.contains("`broken@banana` (#1)"), "{err}");
    let (_, parsed) = cache_files(&env);
    let v1_parsed = std::fs::read(&parsed).expect("a pre-parsed form beside the document");

    // Warm: the same entry, and the skipped entry's warning given again.
    let (code, v, _, err) = env.plan(&["alpha"]);
    assert_eq!((code, v.as_str()), (0, "1.0.0"), "{err}");
    assert!(err.contains("`broken@banana` (#1)"), "{err}");

    // A damaged pre-parsed form (one flipped byte, in the entries' summaries) is not read:
    // the document is parsed again and the form written again.
    let mut damaged = v1_parsed.clone();
    let at = damaged.len() - 40;
    damaged[at] ^= 0x01;
    std::fs::write(&parsed, &damaged).unwrap();
    let (code, v, _, err) = env.plan(&["alpha"]);
    assert_eq!((code, v.as_str()), (0, "1.0.0"), "{err}");
    assert_eq!(std::fs::read(&parsed).unwrap(), v1_parsed);

    // A new document whose pre-parsed form was lost (the old one put back): the document
    // is parsed, never read through the old form.
    server.put_with_etag(
        "index.json",
        index(served(&archives, "alpha", &["2.0.0"])),
        "\"v2\"",
    );
    env.config(&cfg, "  cache_ttl: 0\n");
    assert_eq!(env.plan(&["alpha"]).1, "2.0.0");
    std::fs::write(&parsed, &v1_parsed).unwrap();
    env.config(&cfg, "  cache_ttl: 3600\n");
    for _ in 0..2 {
        let (code, v, _, err) = env.plan(&["alpha"]);
        assert_eq!((code, v.as_str()), (0, "2.0.0"), "{err}");
        assert!(!err.contains("broken"), "{err}");
    }
    assert_ne!(std::fs::read(&parsed).unwrap(), v1_parsed);
    assert_eq!(server.hits("index.json"), 2);
}

#[test]
fn checksums_from_the_index_are_enforced() {
    let env = Env::new();
    let dir = env.path("idx");
    let good = pack_tgz("alpha", "1.0.0");
    let other = pack_tgz("alpha", "9.9.9");
    write(&dir.join("alpha.tgz"), &good);
    let entries = vec![
        // The index's checksum is of another archive.
        entry("alpha", "1.0.0", vec![archive("alpha.tgz", &other)]),
        entry(
            "beta",
            "1.0.0",
            vec![json!({"type": "archive", "url": "alpha.tgz"})],
        ),
    ];
    let cfg = env.use_file_index(&dir, entries);
    let doc = env.refused(&["install", "alpha"], 3, "checksum_mismatch");
    let msg = doc["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("index `main`") && msg.contains("attune-pack index entry"),
        "{msg}"
    );
    assert!(!env.path("packs/alpha").exists());

    env.refused(&["install", "beta"], 3, "checksum_missing");

    // verify_checksums off: installs, with a warning every time.
    env.config(&cfg, "  verify_checksums: false\n");
    let (code, _, _, err) = env.plan(&["alpha"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("verify_checksums: false"), "{err}");
}

/// Attune's CLI writes its own directory checksum into indices, for archive and git sources
/// alike. Computed here from its definition: depth-first, each directory's entries sorted by
/// name (so `a/x` before `a.txt`), regular files only, each file's relative path then its
/// bytes, no separators.
#[test]
fn attunes_own_directory_checksum_is_accepted_with_a_warning() {
    let files: [(&str, &str); 4] = [
        ("a/x", "x\n"),
        ("a.txt", "t\n"),
        ("actions/run.yaml", "name: run\ndescription: Runs it\n"),
        (
            "pack.yaml",
            "ref: alpha\nlabel: alpha pack\nversion: 1.0.0\ndescription: The alpha pack\n",
        ),
    ];
    let mut hashed = Vec::new();
    for (path, text) in files {
        hashed.extend_from_slice(path.as_bytes());
        hashed.extend_from_slice(text.as_bytes());
    }
    let legacy = sha256(&hashed);
    // Shuffled in the archive, with a link Attune's walk does not hash.
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (path, text) in files.iter().rev() {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, format!("pack/{path}"), text.as_bytes())
            .unwrap();
    }
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    tar.append_link(&mut h, "pack/link", "a.txt").unwrap();
    let bytes = tar.into_inner().unwrap().finish().unwrap();

    let env = Env::new();
    let dir = env.path("idx");
    write(&dir.join("alpha.tgz"), &bytes);
    let source = json!({"type": "archive", "url": "alpha.tgz", "checksum": legacy});
    let cfg = env.use_file_index(&dir, vec![entry("alpha", "1.0.0", vec![source])]);
    let (code, doc, err) = env.json(&["install", "alpha", "--skip-tests"]);
    assert_eq!(code, 0, "{doc}\n{err}");
    assert!(err.contains("Attune's directory checksum"), "{err}");
    assert_eq!(
        std::fs::read_to_string(env.path("packs/alpha/a/x")).unwrap(),
        "x\n"
    );

    // Turned off, the same entry is a mismatch.
    env.run(&["uninstall", "alpha"]);
    env.config(&cfg, "  legacy_checksums: false\n");
    env.refused(&["install", "alpha"], 3, "checksum_mismatch");

    // One byte more in any file: no form matches, and the hint names the usual cause.
    hashed.push(b'\n');
    let source = json!({"type": "archive", "url": "alpha.tgz", "checksum": sha256(&hashed)});
    env.use_file_index(&dir, vec![entry("alpha", "1.0.0", vec![source])]);
    let out = env.run(&["install", "alpha"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("Attune directory checksum") && err.contains(".git/"),
        "{err}"
    );
    assert!(!env.path("packs/alpha").exists());
}

#[test]
fn pack_yaml_must_match_the_index_entry() {
    let env = Env::new();
    let dir = env.path("idx");
    let bytes = pack_tgz("alpha", "1.0.0");
    write(&dir.join("a.tgz"), &bytes);
    let entries = vec![
        entry("alpha", "2.0.0", vec![archive("a.tgz", &bytes)]),
        entry("impostor", "1.0.0", vec![archive("a.tgz", &bytes)]),
    ];
    env.use_file_index(&dir, entries);
    for name in ["alpha", "impostor"] {
        let doc = env.refused(&["install", name], 6, "invalid_pack");
        assert!(doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("index `main`"));
    }
}

#[test]
fn a_failing_source_falls_back_to_the_next() {
    let env = Env::new();
    let dir = env.path("idx");
    let bytes = pack_tgz("alpha", "1.0.0");
    write(&dir.join("good.tgz"), &bytes);
    // Listed archive-first on purpose: git is tried first anyway; then the archives in order.
    let sources = vec![
        archive("missing.tgz", &bytes),
        json!({"type": "git", "url": format!("file://{}", dir.join("no-repo").display()),
               "ref": "v1.0.0", "checksum": sha256(b"x")}),
        archive("good.tgz", &bytes),
    ];
    env.use_file_index(&dir, vec![entry("alpha", "1.0.0", sources)]);
    let (code, v, _, err) = env.plan(&["alpha"]);
    assert_eq!((code, v.as_str()), (0, "1.0.0"), "{err}");
    let git = err.find("the git source").expect(&err);
    let missing = err.find("missing.tgz").expect(&err);
    assert!(git < missing, "{err}");
    assert!(err.contains("trying the archive source"), "{err}");
}

/// Index-level check of origin-bound headers (no archive download needed).
#[test]
fn private_index_headers_are_sent_to_that_index_only() {
    let env = Env::new();
    let private = private_index_server();
    private.put("index.json", index(served(&private, "alpha", &["1.0.0"])));
    let public = IndexServer::start();
    public.put("index.json", index(served(&public, "beta", &["1.0.0"])));
    let indices = format!(
        "{}{}",
        corp_index_with_token(&private),
        index_line("pub", public.url("index.json"))
    );
    env.config(&indices, "");
    let (code, doc, err) = env.json(&["search", "pack"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(doc.as_array().unwrap().len(), 2, "{doc} {err}");
    assert!(!err.contains("tok-123"));
    assert_eq!(private.auth_seen().len(), 1);
    assert!(public.auth_seen().iter().all(|(_, a)| a.is_none()));
    let (code, _, _, err) = env.plan(&["alpha"]);
    assert_eq!(code, 0, "{err}");
    for (_, text) in env.cached_indices() {
        assert!(!text.contains("tok-123"));
    }
    // Without the header the server refuses, and the index is skipped.
    env.config(
        &index_line("corp", private.url("index.json")),
        "  cache_enabled: false\n",
    );
    let (code, doc, err) = env.json(&["search", "alpha"]);
    assert_eq!(code, 1, "{doc}");
    assert!(err.contains("401"), "{err}");
}

#[test]
fn private_index_headers_go_only_to_its_origin() {
    let env = Env::new();
    let private = private_index_server();
    let cdn = IndexServer::start();
    let own = pack_tgz("alpha", "1.0.0");
    let elsewhere = pack_tgz("beta", "1.0.0");
    private.put("packs/alpha.tgz", own.clone());
    cdn.put("beta.tgz", elsewhere.clone());
    private.put(
        "index.json",
        index(vec![
            entry(
                "alpha",
                "1.0.0",
                vec![archive(&private.url("packs/alpha.tgz"), &own)],
            ),
            entry(
                "beta",
                "1.0.0",
                vec![archive(&cdn.url("beta.tgz"), &elsewhere)],
            ),
        ]),
    );
    let indices = corp_index_with_token(&private);
    env.config(&indices, "");
    let (code, doc, err) = env.json(&["install", "--skip-tests", "alpha"]);
    assert_eq!(code, 0, "{doc} {err}");
    let (code, doc, err) = env.json(&["install", "--skip-tests", "beta"]);
    assert_eq!(code, 0, "{doc} {err}");
    assert!(private
        .auth_seen()
        .iter()
        .all(|(_, a)| a.as_deref() == Some("Bearer tok-123")));
    assert!(!cdn.auth_seen().is_empty());
    assert!(
        cdn.auth_seen().iter().all(|(_, a)| a.is_none()),
        "{:?}",
        cdn.auth_seen()
    );
    // The token never appears in output or in the cache's file names.
    let receipts = std::fs::read_dir(env.path("packs/.attune-pack/receipts")).unwrap();
    for r in receipts {
        let text = std::fs::read_to_string(r.unwrap().path()).unwrap();
        assert!(!text.contains("tok-123"));
    }
    for (name, text) in env.cached_indices() {
        assert!(!name.contains("127.0.0.1"));
        assert!(!text.contains("tok-123"));
    }
    // Without the header the server refuses: the index is unavailable.
    env.config(
        &index_line("corp", private.url("index.json")),
        "  cache_enabled: false\n",
    );
    let (code, doc, _) = env.json(&["install", "--dry-run", "alpha"]);
    assert_eq!(code, 1, "{doc}");
}

#[test]
fn search_and_registries() {
    let env = Env::new();
    let server = IndexServer::start();
    let mut entries = served(&server, "slack", &["1.0.0", "2.1.0", "3.0.0-rc.1"]);
    entries.extend(served(&server, "github", &["1.0.0"]));
    server.put("index.json", index(entries));
    let dir = env.path("idx");
    write(
        &dir.join("index.json"),
        index(local(&dir, "jira", &["0.5.0"])),
    );
    env.config(
        &format!(
            "    - {{name: web, url: \"{}\", priority: 1}}\n    - {{name: files, url: \"{}\", priority: 2}}\n    - {{name: off, url: \"https://user:pw@example.invalid/i.json?sig=x\", enabled: false}}\n",
            server.url("index.json"),
            dir.join("index.json").display()
        ),
        "",
    );
    let (code, doc, err) = env.json(&["search", "slack"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        doc,
        json!([{"ref": "slack", "version": "2.1.0", "label": "slack pack", "description": "The slack pack", "index": "web"}])
    );
    // Keywords and descriptions match too; every index is searched.
    let (_, doc, _) = env.json(&["search", "DEMO"]);
    let refs: Vec<&str> = doc
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["ref"].as_str().unwrap())
        .collect();
    assert_eq!(refs, ["github", "slack", "jira"]);
    let (_, doc, _) = env.json(&["search", "kw-jira"]);
    assert_eq!(doc[0]["index"], "files");
    let (_, doc, _) = env.json(&["search", "demo", "--registry", "files"]);
    assert_eq!(doc.as_array().unwrap().len(), 1);

    let (code, doc, err) = env.json(&["registries"]);
    assert_eq!(code, 0, "{err}");
    let list = doc.as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[0]["name"], "web");
    assert_eq!(list[0]["reachable"], true);
    assert!(list[0]["cache_age_secs"].as_u64().unwrap() < 60);
    assert_eq!(list[1]["reachable"], true);
    assert_eq!(list[1]["cache_age_secs"], Value::Null);
    assert_eq!(list[2]["enabled"], false);
    assert_eq!(list[2]["reachable"], Value::Null);
    assert_eq!(list[2]["url"], "https://***@example.invalid/i.json?***");
    assert_eq!(list[2]["priority"], 100);
}

#[test]
fn index_entry_update_merge_then_install_round_trip() {
    let env = Env::new();
    let work = env.path("work");
    std::fs::create_dir_all(&work).unwrap();
    write(&env.path("config.yaml"), "{}\n");
    // A pack directory and a published archive of it.
    let pack_dir = env.path("src/alpha");
    write(
        &pack_dir.join("pack.yaml"),
        "ref: alpha\nlabel: Alpha\nversion: 1.0.0\ndescription: First\n",
    );
    write(
        &pack_dir.join("actions/run.yaml"),
        "name: run\ndescription: Runs\n",
    );
    write(&pack_dir.join("sensors/watch.yaml"), "name: watch\n");
    let beta = pack_tgz("beta", "2.0.0");
    std::fs::write(work.join("beta.tgz"), &beta).unwrap();
    let alpha_tgz = work.join("alpha.tgz");
    {
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&alpha_tgz).unwrap(),
            flate2::Compression::default(),
        );
        let mut t = tar::Builder::new(gz);
        t.append_dir_all("alpha", &pack_dir).unwrap();
        t.into_inner().unwrap().finish().unwrap();
    }
    let pack_dir_s = pack_dir.display().to_string();
    let alpha_s = alpha_tgz.display().to_string();
    let beta_s = work.join("beta.tgz").display().to_string();

    // `index entry` of a directory: content checksum for git, archive checksum for --archive.
    let (code, e, err) = env.json(&[
        "index",
        "entry",
        &pack_dir_s,
        "--git-url",
        "https://git.example/alpha.git",
        "--archive-url",
        "alpha.tgz",
        "--archive",
        &alpha_s,
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(e["ref"], "alpha");
    // The reference's index entry always has author and license as strings (Attune requires
    // them); this pack.yaml names neither, so they are empty, with a warning.
    assert_eq!((&e["author"], &e["license"]), (&json!(""), &json!("")));
    assert!(err.contains("has no author, license"), "{err}");
    assert_eq!(e["contents"]["actions"][0]["name"], "run");
    assert_eq!(e["contents"]["sensors"][0]["name"], "watch");
    assert_eq!(e["install_sources"][0]["type"], "git");
    assert_eq!(e["install_sources"][0]["ref"], "v1.0.0");
    let dir_sum = env.run(&["checksum", &pack_dir_s]);
    assert_eq!(
        e["install_sources"][0]["checksum"].as_str().unwrap(),
        String::from_utf8_lossy(&dir_sum.stdout).trim()
    );
    assert_eq!(
        e["install_sources"][1]["checksum"].as_str().unwrap(),
        sha256(&std::fs::read(&alpha_tgz).unwrap())
    );
    // Usage errors: no source at all.
    assert_eq!(env.json(&["index", "entry", &pack_dir_s]).0, 2);

    // `index update` creates, adds, replaces.
    let one = work.join("one.json").display().to_string();
    let two = work.join("two.json").display().to_string();
    let (code, doc, err) = env.json(&[
        "index",
        "update",
        &one,
        &alpha_s,
        "--archive-url",
        "alpha.tgz",
    ]);
    assert_eq!((code, doc["action"].as_str()), (0, Some("added")), "{err}");
    let (_, doc, _) = env.json(&[
        "index",
        "update",
        &one,
        &alpha_s,
        "--archive-url",
        "alpha.tgz",
    ]);
    assert_eq!(doc["action"], "replaced");
    let (code, _, err) = env.json(&[
        "index",
        "update",
        &two,
        &beta_s,
        "--archive-url",
        "beta.tgz",
    ]);
    assert_eq!(code, 0, "{err}");

    // `index merge`, then install both from the merged index.
    let merged = work.join("merged.json").display().to_string();
    let (code, doc, err) = env.json(&["index", "merge", &one, &two, "-o", &merged]);
    assert_eq!((code, doc["packs"].as_u64()), (0, Some(2)), "{err}");
    env.config(&index_line("mine", &merged), "");
    for (name, version) in [("alpha", "1.0.0"), ("beta", "2.0.0")] {
        let (code, doc, err) = env.json(&["install", "--skip-tests", name]);
        assert_eq!(code, 0, "{name}: {doc} {err}");
        assert_eq!(doc["version"], version);
        assert_eq!(doc["source"]["index"], "mine");
    }

    // A conflicting duplicate (same ref and version, other content) is refused without --force.
    let three = work.join("three.json").display().to_string();
    env.json(&[
        "index",
        "update",
        &three,
        &alpha_s,
        "--archive-url",
        "https://elsewhere/alpha.tgz",
    ]);
    let out = work.join("out.json").display().to_string();
    let doc = env.refused(&["index", "merge", &one, &three, "-o", &out], 5, "conflict");
    assert!(doc["error"]["message"].as_str().unwrap().contains("alpha"));
    assert!(!Path::new(&out).exists());
    let (code, _, err) = env.json(&["index", "merge", &one, &three, "-o", &out, "--force"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("replaces the different one"), "{err}");
}

/// A git install source from an index generated by `index update --git-url`: the checkout is
/// verified against the content checksum, and the receipt records ref and commit.
#[test]
fn git_source_from_a_generated_index() {
    let env = Env::new();
    write(&env.path("config.yaml"), "{}\n");
    let repo = env.path("repo");
    write(&repo.join("pack.yaml"), "ref: gitpack\nversion: 1.0.0\n");
    write(&repo.join("actions/run.yaml"), "name: run\n");
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(&repo)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "v1"]);
    git(&["tag", "v1.0.0"]);
    let idx = env.path("index.json").display().to_string();
    let url = format!("file://{}", repo.display());
    let (code, _, err) = env.json(&[
        "index",
        "update",
        &idx,
        &repo.display().to_string(),
        "--git-url",
        &url,
    ]);
    assert_eq!(code, 0, "{err}");
    env.config(&index_line("g", &idx), "");
    let (code, doc, err) = env.json(&["install", "--skip-tests", "gitpack"]);
    assert_eq!(code, 0, "{doc} {err}");
    assert_eq!(doc["source"]["kind"], "registry");
    assert_eq!(doc["source"]["index"], "g");
    assert_eq!(doc["source"]["ref"], "v1.0.0");
    assert_eq!(doc["source"]["commit"].as_str().map(str::len), Some(40));
    // A changed checkout no longer matches the index's content checksum.
    write(
        &repo.join("actions/run.yaml"),
        "name: run\ndescription: changed\n",
    );
    git(&["commit", "-q", "-am", "change"]);
    git(&["tag", "-f", "v1.0.0"]);
    env.refused(
        &["install", "--force", "--skip-tests", "gitpack"],
        3,
        "checksum_mismatch",
    );
}

#[test]
fn with_deps_installs_missing_dependencies_from_the_registry_first() {
    let env = Env::new();
    let server = IndexServer::start();
    let mut entries = served(&server, "beta", &["1.0.0", "1.2.0", "2.0.0"]);
    entries.push(served_with_deps(&server, "alpha", "1.0.0", &["beta@^1"]));
    server.put("index.json", index(entries));
    env.config(&index_line("main", server.url("index.json")), "");

    // Without --with-deps the unmet dependency is refused and nothing is installed.
    let doc = env.refused(&["install", "alpha"], 5, "dependency_unmet");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(message.contains("beta@^1"), "{message}");
    assert!(!env.path("packs/alpha").exists());

    // The plan lists the dependency (highest matching version) before the pack.
    let (code, doc, err) = env.json(&["install", "--dry-run", "--with-deps", "alpha"]);
    assert_eq!(code, 0, "{err}");
    let plan: Vec<(String, String)> = doc["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["ref"].as_str().unwrap().to_owned(),
                p["version"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        plan,
        [
            ("beta".to_owned(), "1.2.0".to_owned()),
            ("alpha".to_owned(), "1.0.0".to_owned())
        ],
        "{doc}"
    );
    assert!(!env.path("packs/beta").exists() && !env.path("packs/alpha").exists());

    let (code, doc, err) = env.json(&["install", "--with-deps", "alpha"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(doc["ref"], "alpha");
    assert!(err.contains("beta 1.2.0"), "{err}");
    let (_, beta, _) = env.json(&["show", "beta"]);
    assert_eq!(beta["version"], "1.2.0", "{beta}");
    assert!(env.path("packs/alpha/pack.yaml").is_file());

    // An installed dependency that already satisfies the requirement is not reinstalled.
    let (code, _, err) = env.json(&["install", "--with-deps", "--force", "alpha"]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("Installed dependency"), "{err}");
}

#[test]
fn with_deps_installs_each_dependency_once_and_replaces_only_with_force() {
    let server = IndexServer::start();
    let mut entries = served(&server, "beta", &["1.2.0", "2.0.0"]);
    entries.push(served_with_deps(&server, "gamma", "1.0.0", &["beta@^1"]));
    entries.push(served_with_deps(
        &server,
        "alpha",
        "1.0.0",
        &["gamma", "beta@^1"],
    ));
    // A cycle whose versions do not fit: p 1.0.0 needs q, q needs p@^2.
    entries.push(served_with_deps(&server, "p", "1.0.0", &["q"]));
    entries.push(served_with_deps(&server, "q", "1.0.0", &["p@^2"]));
    server.put("index.json", index(entries));
    let line = index_line("main", server.url("index.json"));

    // beta comes with gamma; alpha's own need for it is then met: planned and installed once.
    let env = Env::new();
    env.config(&line, "");
    let (code, doc, err) = env.json(&["install", "--dry-run", "--with-deps", "alpha"]);
    assert_eq!(code, 0, "{err}");
    let planned: Vec<&str> = doc["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["ref"].as_str().unwrap())
        .collect();
    assert_eq!(planned, ["beta", "gamma", "alpha"], "{doc}");
    let (code, _, err) = env.json(&["install", "--with-deps", "alpha"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(err.matches("Installed dependency beta").count(), 1, "{err}");
    assert!(env.path("packs/gamma/pack.yaml").is_file());

    // An installed version that does not match is replaced only with --force.
    let env = Env::new();
    env.config(&line, "");
    let (code, _, err) = env.json(&["install", "beta@2.0.0"]);
    assert_eq!(code, 0, "{err}");
    let doc = env.refused(&["install", "--with-deps", "gamma"], 5, "dependency_unmet");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("beta 2.0.0 is installed") && message.contains("--force"),
        "{message}"
    );
    let (_, beta, _) = env.json(&["show", "beta"]);
    assert_eq!(beta["version"], "2.0.0");
    let (code, _, err) = env.json(&["install", "--with-deps", "--force", "gamma"]);
    assert_eq!(code, 0, "{err}");
    let (_, beta, _) = env.json(&["show", "beta"]);
    assert_eq!(beta["version"], "1.2.0");

    // A pending pack counts as present only at a matching version.
    let env = Env::new();
    env.config(&line, "");
    let doc = env.refused(&["install", "--with-deps", "p"], 5, "dependency_unmet");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`p@^2` is required, p 1.0.0 is being installed"),
        "{message}"
    );
    assert!(!env.path("packs/p").exists() && !env.path("packs/q").exists());
}

/// An index document over `limits.max_index_bytes` is not read (from a file) or not
/// downloaded past the limit (over HTTP): that index is unavailable, the warning names the
/// limit, and with no other index the install is `index_unavailable`.
#[test]
fn an_index_over_max_index_bytes_is_unavailable_naming_the_limit() {
    let env = Env::new();
    let server = IndexServer::start();
    let doc = index(served(&server, "alpha", &["1.0.0"]));
    assert!(doc.len() > 400, "{}", doc.len());
    server.put("index.json", doc.clone());
    let file = env.path("local/index.json");
    write(&file, &doc);
    let indices = format!(
        "    - {{name: web, url: \"{}\"}}\n    - {{name: disk, url: \"{}\"}}\n",
        server.url("index.json"),
        file.display()
    );
    let config = |limit: &str| {
        write(
            &env.path("config.yaml"),
            format!("limits: {{max_index_bytes: {limit}}}\npack_registry:\n  allow_http: true\n  indices:\n{indices}"),
        )
    };
    config("400");
    let doc = env.refused(
        &["install", "--skip-tests", "alpha"],
        1,
        "index_unavailable",
    );
    let (_, _, stderr) = env.json(&["search", "alpha"]);
    for name in ["`web`", "`disk`"] {
        let line = stderr
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no warning for {name}: {stderr}"));
        assert!(line.contains("limits.max_index_bytes"), "{line}");
    }
    assert!(
        doc["error"]["message"].as_str().unwrap().contains("web"),
        "{doc}"
    );
    config("64MiB");
    let (code, v, i, err) = env.plan(&["alpha"]);
    assert_eq!((code, v.as_str(), i.as_str()), (0, "1.0.0", "web"), "{err}");
}

/// A tampered archive is a checksum mismatch (exit 3), even when what it holds is wrong in
/// other ways too: another pack's pack.yaml (exit 6 otherwise) or none at all (exit 4).
#[test]
fn tampering_is_reported_as_a_checksum_mismatch_first() {
    let env = Env::new();
    let dir = env.path("idx");
    let published = pack_tgz("alpha", "1.0.0");
    let swapped = pack_tgz("evil", "6.6.6");
    let empty = {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut tar = tar::Builder::new(&mut gz);
        let mut header = tar::Header::new_gnu();
        header.set_size(5);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, "README", &b"hello"[..])
            .unwrap();
        tar.finish().unwrap();
        drop(tar);
        gz.finish().unwrap()
    };
    // The published pack, plus a link out of it (into the archive, not out of it: that
    // would be refused while it is extracted).
    let escaping = {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut tar = tar::Builder::new(&mut gz);
        let yaml = b"ref: alpha\nversion: 1.0.0\n";
        let mut header = tar::Header::new_gnu();
        header.set_size(yaml.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, "pack/pack.yaml", &yaml[..])
            .unwrap();
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_size(0);
        tar.append_link(&mut link, "pack/out", "../pack.yaml")
            .unwrap();
        tar.finish().unwrap();
        drop(tar);
        gz.finish().unwrap()
    };
    let cases = [
        ("another pack", swapped),
        ("no pack.yaml", empty),
        ("a link out of the pack", escaping),
    ];
    for (name, tampered) in cases {
        write(&dir.join("alpha.tgz"), &tampered);
        env.use_file_index(
            &dir,
            vec![entry(
                "alpha",
                "1.0.0",
                vec![archive("alpha.tgz", &published)],
            )],
        );
        let doc = env.refused(&["install", "alpha"], 3, "checksum_mismatch");
        assert!(
            doc["error"]["message"].as_str().unwrap().contains("alpha"),
            "{name}: {doc}"
        );
        assert!(!env.path("packs/alpha").exists() && !env.path("packs/evil").exists());
    }
}

/// An index fetched over http(s) may not name files of this host: a `file://` URL or a local
/// path is refused (exit 3, `host_not_allowed`), even with the right checksum; an entry with
/// a remote source beside it installs from that one, with a warning.
#[test]
fn a_remote_index_cannot_name_local_sources() {
    let env = Env::new();
    let server = IndexServer::start();
    let dir = env.path("here");
    let mut entries = local_abs(&dir, "alpha", &["1.0.0"]);
    let mut beta = local_abs(&dir, "beta", &["1.0.0"]);
    let remote = served(&server, "beta", &["1.0.0"]);
    beta[0]["install_sources"]
        .as_array_mut()
        .unwrap()
        .push(remote[0]["install_sources"][0].clone());
    entries.extend(beta);
    server.put("index.json", index(entries));
    env.config(&index_line("web", server.url("index.json")), "");
    let doc = env.refused(&["install", "alpha"], 3, "host_not_allowed");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("remote index may only name remote sources"),
        "{message}"
    );
    assert!(!env.path("packs/alpha").exists());

    let (code, doc, err) = env.json(&["install", "beta"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(doc["source"]["url"], server.url("packs/beta-1.0.0.tgz"));
    assert!(err.contains("is not used"), "{err}");
}

/// Two `--with-deps` installs that share a dependency, at the same time: each fetches and
/// tests it without the store lock; the second to commit finds it installed by the first,
/// keeps that one, and installs its own pack against it.
#[test]
fn concurrent_installs_that_share_a_dependency_both_succeed() {
    let env = Env::new();
    let server = IndexServer::start();
    // The shared dependency's own test takes a while, so both installs are in it at once.
    let files = [
        (
            "pack/pack.yaml",
            "ref: shared\nversion: 1.0.0\ntesting:\n  runners:\n    wait: {type: script, entry_point: tests/wait.sh, timeout: 60}\n",
        ),
        ("pack/tests/wait.sh", "#!/bin/sh\nsleep 2\n"),
    ];
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (name, text) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o755);
        h.set_cksum();
        tar.append_data(&mut h, name, text.as_bytes()).unwrap();
    }
    let bytes = tar.into_inner().unwrap().finish().unwrap();
    server.put("packs/shared.tgz", bytes.clone());
    let mut entries = vec![entry(
        "shared",
        "1.0.0",
        vec![archive(&server.url("packs/shared.tgz"), &bytes)],
    )];
    for pack in ["pa", "pb"] {
        entries.push(served_with_deps(&server, pack, "1.0.0", &["shared@^1"]));
    }
    server.put("index.json", index(entries));
    env.config(&index_line("main", server.url("index.json")), "");

    let env = &env;
    let outs: Vec<_> = std::thread::scope(|s| {
        let runs: Vec<_> = ["pa", "pb"]
            .map(|pack| s.spawn(move || env.run(&["install", "--with-deps", pack])))
            .into_iter()
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for out in &outs {
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{err}");
    }
    let said: String = outs
        .iter()
        .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        .collect();
    assert!(
        said.contains("shared was installed by another command meanwhile; it is kept"),
        "{said}"
    );
    for pack in ["shared", "pa", "pb"] {
        assert!(
            env.path(&format!("packs/{pack}/pack.yaml")).is_file(),
            "{pack}"
        );
    }
}

/// The refs a search for `query` finds.
fn found(env: &Env, query: &str) -> Vec<String> {
    let (code, doc, err) = env.json(&["search", query]);
    assert_eq!(code, 0, "{err}");
    doc.as_array()
        .unwrap()
        .iter()
        .map(|h| h["ref"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_changed_local_index_file_is_never_read_through_an_old_pre_parsed_form() {
    let env = Env::new();
    let dir = env.path("reg");
    let path = dir.join("index.json");
    // Every ref below has the length of the one it replaces, so the documents do too.
    let document = |pack_ref: &str| index(local(&dir, pack_ref, &["1.0.0"]));
    env.use_file_index(&dir, local(&dir, "alpha", &["1.0.0"]));
    assert_eq!(found(&env, "alpha"), ["alpha"]);
    let forms = || -> Vec<String> {
        std::fs::read_dir(env.path("cache/indices"))
            .map(|d| {
                d.map(|e| e.unwrap().file_name().into_string().unwrap())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert!(
        forms().iter().any(|f| f.ends_with(".local")),
        "the first command keeps a pre-parsed form: {:?}",
        forms()
    );
    // The second reads it, and does not write it again.
    let form_written = || {
        let form = forms().into_iter().find(|f| f.ends_with(".local")).unwrap();
        let form = env.path("cache/indices").join(form);
        std::fs::metadata(form).unwrap().modified().unwrap()
    };
    let first = form_written();
    assert_eq!(found(&env, "alpha"), ["alpha"]);
    assert_eq!(form_written(), first);
    let set_time = |path: &Path, time| {
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(time).unwrap();
    };
    let time = std::fs::metadata(&path).unwrap().modified().unwrap();

    // Another file renamed over it: the same size and modification time, another inode.
    let next = dir.join("next.json");
    write(&next, document("bravo"));
    assert_eq!(
        std::fs::metadata(&next).unwrap().len(),
        std::fs::metadata(&path).unwrap().len()
    );
    set_time(&next, time);
    std::fs::rename(&next, &path).unwrap();
    assert_eq!(found(&env, "bravo"), ["bravo"]);
    assert!(found(&env, "alpha").is_empty());

    // Written in place (the same inode) to another size, its modification time put back.
    write(&path, document("charlie"));
    set_time(&path, time);
    assert_eq!(found(&env, "charlie"), ["charlie"]);

    // Written in place to the same size, even with its modification time put back: the
    // status-change time moved.
    write(&path, document("foxtrot"));
    set_time(&path, time);
    assert_eq!(found(&env, "foxtrot"), ["foxtrot"]);
    assert!(found(&env, "charlie").is_empty());
}
