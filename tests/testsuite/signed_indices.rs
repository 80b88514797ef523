//! Signed indices: keys made and documents signed by the real `minisign` program (Debian's
//! package), checked by attune-pack; and `index sign` checked by `minisign -V`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::index_server::IndexServer;
use crate::support::registry::{index, local, served, write, Env};
use crate::support::{succeeded, with_stdin};

/// A minisign key pair made by `minisign -G`.
struct Key {
    public: PathBuf,
    secret: PathBuf,
}

impl Key {
    /// A key without a password (`-W`).
    fn new(dir: &Path, name: &str) -> Key {
        let key = Key {
            public: dir.join(format!("{name}.pub")),
            secret: dir.join(format!("{name}.key")),
        };
        minisign(&[
            "-G",
            "-W",
            "-p",
            key.public.to_str().unwrap(),
            "-s",
            key.secret.to_str().unwrap(),
        ]);
        key
    }

    /// The base64 line, as it goes into `trusted_keys`.
    fn line(&self) -> String {
        let text = std::fs::read_to_string(&self.public).unwrap();
        text.lines().nth(1).unwrap().to_owned()
    }

    /// The key id minisign prints in the public key's comment.
    fn id(&self) -> String {
        let text = std::fs::read_to_string(&self.public).unwrap();
        // minisign prints it without leading zeros; attune-pack shows all 8 bytes.
        let id = text.lines().next().unwrap().rsplit(' ').next().unwrap();
        format!("{id:0>16}")
    }

    /// `minisign -S` of `file` with the trusted comment `timestamp:T` (minisign's own form).
    fn sign(&self, file: &Path, timestamp: u64) {
        let comment = format!("timestamp:{timestamp}\tfile:index.json");
        self.sign_with(file, &comment);
    }

    fn sign_with(&self, file: &Path, comment: &str) {
        minisign(&[
            "-S",
            "-s",
            self.secret.to_str().unwrap(),
            "-m",
            file.to_str().unwrap(),
            "-t",
            comment,
        ]);
    }
}

fn minisign(args: &[&str]) {
    succeeded(Command::new("minisign").args(args));
}

/// An index file `main` with `hello` 1.0.0 (archive beside it), trusting `keys`.
fn signed_registry(env: &Env, keys: &[&Key]) -> PathBuf {
    let dir = env.path("reg");
    let path = dir.join("index.json");
    write(&path, index(local(&dir, "hello", &["1.0.0"])));
    trust(env, &path.display().to_string(), keys);
    path
}

fn trust(env: &Env, url: &str, keys: &[&Key]) {
    let lines: Vec<String> = keys.iter().map(|k| format!("\"{}\"", k.line())).collect();
    env.config(
        &format!(
            "    - name: main\n      url: \"{url}\"\n      trusted_keys: [{}]\n",
            lines.join(", ")
        ),
        "",
    );
}

/// `args` refused as `signature_invalid` (exit 3), the message naming `why`.
fn refused_because(env: &Env, args: &[&str], why: &str) {
    let doc = env.refused(args, 3, "signature_invalid");
    let msg = doc["error"]["message"].as_str().unwrap();
    assert!(msg.contains(why), "{msg}");
}

fn installed(env: &Env) -> bool {
    env.path("packs/hello/pack.yaml").exists()
}

#[test]
fn an_index_signed_by_minisign_is_verified_and_the_receipt_names_the_key() {
    let env = Env::new();
    let key = Key::new(env.tmp.path(), "k");
    let index = signed_registry(&env, &[&key]);
    key.sign(&index, 1_700_000_000);
    let (code, doc, stderr) = env.json(&["install", "hello", "--skip-tests"]);
    assert_eq!(code, 0, "{doc}\n{stderr}");
    assert_eq!(doc["source"]["key_id"], Value::from(key.id()));
    assert_eq!(doc["source"]["index"], "main");
    let seen: Value = serde_json::from_slice(
        &std::fs::read(env.path("packs/.attune-pack/signatures.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(seen["index:main"], 1_700_000_000);
}

#[test]
fn an_altered_unsigned_or_foreign_signed_index_is_refused_with_nothing_installed() {
    let env = Env::new();
    let key = Key::new(env.tmp.path(), "k");
    let other = Key::new(env.tmp.path(), "other");
    let index = signed_registry(&env, &[&key]);
    key.sign(&index, 10);
    let text = std::fs::read_to_string(&index).unwrap();
    write(&index, text.replace("The hello pack", "The hellO pack"));
    let doc = env.refused(
        &["install", "hello", "--skip-tests"],
        3,
        "signature_invalid",
    );
    let msg = doc["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("index `main`") && msg.contains("does not match the document"),
        "{msg}"
    );
    assert!(!installed(&env));

    write(&index, &text);
    other.sign(&index, 10);
    let doc = env.refused(
        &["install", "hello", "--skip-tests"],
        3,
        "signature_invalid",
    );
    let msg = doc["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains(&other.id()) && msg.contains("not trusted"),
        "{msg}"
    );

    std::fs::remove_file(index.with_extension("json.minisig")).unwrap();
    refused_because(&env, &["install", "hello", "--skip-tests"], "not signed");
    assert!(!installed(&env));
    assert!(
        !env.path("packs/.attune-pack/staging").exists()
            || std::fs::read_dir(env.path("packs/.attune-pack/staging"))
                .unwrap()
                .count()
                == 0
    );
}

#[test]
fn a_refused_index_is_not_reported_as_a_missing_pack_even_when_another_index_answers() {
    let env = Env::new();
    let key = Key::new(env.tmp.path(), "k");
    let dir = env.path("reg");
    write(
        &dir.join("index.json"),
        index(local(&dir, "hello", &["1.0.0"])),
    );
    let open = env.path("open");
    write(
        &open.join("index.json"),
        index(local(&open, "other", &["1.0.0"])),
    );
    // Signed by nobody, while a key is required: the unsigned index must not pass for it.
    env.config(
        &format!(
            "    - {{name: main, url: \"{}\", trusted_keys: [\"{}\"]}}\n    - {{name: open, url: \"{}\"}}\n",
            dir.join("index.json").display(),
            key.line(),
            open.join("index.json").display()
        ),
        "",
    );
    refused_because(&env, &["install", "hello", "--skip-tests"], "index `main`");
    // A pack the other index has is still installed from it.
    let (code, doc, stderr) = env.json(&["install", "other", "--skip-tests"]);
    assert_eq!(code, 0, "{doc}\n{stderr}");
    assert_eq!(doc["source"]["index"], "open");
    assert!(doc["source"].get("key_id").is_none(), "{doc}");
}

#[test]
fn an_older_index_is_refused_after_a_newer_one_unless_downgrading_on_purpose() {
    let env = Env::new();
    let key = Key::new(env.tmp.path(), "k");
    let index = signed_registry(&env, &[&key]);
    key.sign(&index, 2_000_000_000);
    let newer = std::fs::read(index.with_extension("json.minisig")).unwrap();
    key.sign(&index, 1_900_000_000);
    let older = std::fs::read(index.with_extension("json.minisig")).unwrap();

    replay_is_refused(&env, &index, &newer, &older, "older than");
}

/// With `newer` seen, `replayed` is refused (naming `why` and the newer time) even with the
/// cache wiped, accepted with `--allow-downgrade`, and refused again after that.
fn replay_is_refused(env: &Env, index: &Path, newer: &[u8], replayed: &[u8], why: &str) {
    let sig = index.with_extension("json.minisig");
    write(&sig, newer);
    assert_eq!(env.json(&["install", "hello", "--skip-tests"]).0, 0);
    write(&sig, replayed);
    // The record is in the store: wiping the cache does not reset it.
    let _ = std::fs::remove_dir_all(env.path("cache"));
    let doc = env.refused(
        &["install", "hello", "--skip-tests", "--force"],
        3,
        "signature_invalid",
    );
    let msg = doc["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains(why) && msg.contains("2033-05-18T03:33:20Z"),
        "{msg}"
    );
    let out = env.run(&[
        "install",
        "hello",
        "--skip-tests",
        "--force",
        "--allow-downgrade",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-downgrade"));
    // Going back did not lower the record.
    refused_because(env, &["search", "hello"], why);
}

#[test]
fn a_signature_without_a_timestamp_is_accepted_with_a_warning() {
    let env = Env::new();
    let key = Key::new(env.tmp.path(), "k");
    let index = signed_registry(&env, &[&key]);
    key.sign_with(&index, "release 7");
    let out = env.run(&["install", "hello", "--skip-tests"]);
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no timestamp") && stderr.contains("rollback protection is off"),
        "{stderr}"
    );
}

#[test]
fn an_untimestamped_signature_is_refused_once_a_timestamped_one_was_seen() {
    let env = Env::new();
    let key = Key::new(env.tmp.path(), "k");
    let index = signed_registry(&env, &[&key]);
    let sig = index.with_extension("json.minisig");
    // An old signature whose trusted comment was made without a timestamp.
    key.sign_with(&index, "release 7");
    let stripped = std::fs::read(&sig).unwrap();
    key.sign(&index, 2_000_000_000);
    let newer = std::fs::read(&sig).unwrap();
    replay_is_refused(&env, &index, &newer, &stripped, "without a timestamp");
}

#[test]
fn a_rotated_key_is_accepted_and_a_key_may_be_given_as_a_file() {
    let env = Env::new();
    let old = Key::new(env.tmp.path(), "old");
    let new = Key::new(env.tmp.path(), "new");
    let index = signed_registry(&env, &[&new, &old]);
    old.sign(&index, 100);
    let (code, doc, _) = env.json(&["install", "hello", "--skip-tests"]);
    assert_eq!(
        (code, doc["source"]["key_id"].as_str()),
        (0, Some(old.id().as_str()))
    );
    new.sign(&index, 200);
    // The old key is dropped; the new one is given as its .pub file.
    env.config(
        &format!(
            "    - name: main\n      url: \"{}\"\n      trusted_keys: [\"{}\"]\n",
            index.display(),
            new.public.display()
        ),
        "",
    );
    let (code, doc, stderr) = env.json(&["install", "hello", "--skip-tests", "--force"]);
    assert_eq!(code, 0, "{doc}\n{stderr}");
    assert_eq!(doc["source"]["key_id"], Value::from(new.id()));
    old.sign(&index, 300);
    refused_because(
        &env,
        &["install", "hello", "--skip-tests", "--force"],
        &old.id(),
    );
}

#[test]
fn a_trusted_key_that_is_neither_a_key_nor_a_file_is_a_usage_error() {
    let env = Env::new();
    let key = Key::new(env.tmp.path(), "k");
    let index = signed_registry(&env, &[&key]);
    key.sign(&index, 1);
    env.config(
        &format!(
            "    - {{name: main, url: \"{}\", trusted_keys: [\"RWQnotakey\"]}}\n",
            index.display()
        ),
        "",
    );
    let doc = env.refused(&["install", "hello", "--skip-tests"], 2, "usage");
    assert!(doc["error"]["message"]
        .as_str()
        .unwrap()
        .contains("RWQnotakey"));
}

#[test]
fn a_served_index_is_verified_and_its_signature_cached_for_offline_use() {
    let env = Env::new();
    let key = Key::new(env.tmp.path(), "k");
    let server = IndexServer::start();
    let doc = index(served(&server, "hello", &["1.0.0"]));
    let file = env.path("served.json");
    write(&file, &doc);
    key.sign(&file, 50);
    server.put_with_etag("index.json", doc.clone(), "\"v1\"");
    server.put(
        "index.json.minisig",
        std::fs::read(env.path("served.json.minisig")).unwrap(),
    );
    trust(&env, &server.url("index.json"), &[&key]);
    // Ask the server every time.
    let config = std::fs::read_to_string(env.path("config.yaml")).unwrap();
    write(
        &env.path("config.yaml"),
        config.replace("  indices:", "  cache_ttl: 0\n  indices:"),
    );
    let (code, receipt, stderr) = env.json(&["install", "hello", "--skip-tests"]);
    assert_eq!(code, 0, "{receipt}\n{stderr}");
    assert_eq!(receipt["source"]["key_id"], Value::from(key.id()));
    assert_eq!(server.hits("index.json.minisig"), 1);
    let cached = env.cached_indices();
    assert!(
        cached
            .iter()
            .any(|(_, text)| text.contains("trusted comment")),
        "{cached:?}"
    );

    // Offline, the cached copy and its cached signature are checked again.
    let out = env.run(&["--offline", "search", "hello"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Also when the index is read from its pre-parsed form: an altered cached signature is
    // refused.
    let (name, text) = env.cached_indices().pop().unwrap();
    let cache_file = env.path("cache/indices").join(name);
    assert!(cache_file.with_extension("parsed").is_file());
    write(
        &cache_file,
        text.replacen("timestamp:50", "timestamp:99", 1),
    );
    refused_because(
        &env,
        &["--offline", "install", "hello", "--skip-tests", "--force"],
        "trusted comment",
    );
    write(&cache_file, text);

    // The server now sends a changed document under the old signature: refused, and the
    // good cached copy is not used in its place.
    let altered = doc.replace("The hello pack", "Evil");
    server.put_with_etag("index.json", altered, "\"v2\"");
    env.refused(
        &["install", "hello", "--skip-tests", "--force"],
        3,
        "signature_invalid",
    );
    let out = Command::new(crate::support::BIN)
        .args(["--packs-dir", env.path("packs").to_str().unwrap()])
        .args(["--cache-dir", env.path("cache").to_str().unwrap()])
        .args(["--config", env.path("config.yaml").to_str().unwrap()])
        .args(["registries", "--json"])
        .output()
        .unwrap();
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["reachable"], false, "{list}");
}

#[test]
fn index_sign_writes_a_signature_minisign_verifies() {
    let env = Env::new();
    let plain = Key::new(env.tmp.path(), "plain");
    let index = signed_registry(&env, &[&plain]);
    let (code, doc, stderr) = env.json(&[
        "index",
        "sign",
        index.to_str().unwrap(),
        "--secret-key",
        plain.secret.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{doc}\n{stderr}");
    assert_eq!(doc["key_id"], Value::from(plain.id()));
    let verify = |key: &Key| {
        Command::new("minisign")
            .args([
                "-V",
                "-m",
                index.to_str().unwrap(),
                "-p",
                key.public.to_str().unwrap(),
            ])
            .output()
            .unwrap()
    };
    let out = verify(&plain);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("timestamp:"));
    assert_eq!(env.json(&["install", "hello", "--skip-tests"]).0, 0);

    // An encrypted key (minisign -G with a password on stdin) opens with --password-file.
    let secret = env.path("enc.key");
    let public = env.path("enc.pub");
    let made = with_stdin(
        Command::new("minisign").args([
            "-G",
            "-p",
            public.to_str().unwrap(),
            "-s",
            secret.to_str().unwrap(),
        ]),
        b"s3cret\ns3cret\n",
    );
    assert!(made.status.success());
    write(&env.path("pw"), "s3cret\n");
    write(&env.path("bad-pw"), "guess\n");
    let enc = Key { public, secret };
    let sign = |pw: &str| {
        env.json(&[
            "index",
            "sign",
            index.to_str().unwrap(),
            "--secret-key",
            enc.secret.to_str().unwrap(),
            "--password-file",
            env.path(pw).to_str().unwrap(),
        ])
    };
    let (code, doc, _) = sign("bad-pw");
    assert_eq!(
        (code, doc["error"]["code"].as_str()),
        (2, Some("usage")),
        "{doc}"
    );
    assert!(doc["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Wrong password"));
    assert_eq!(sign("pw").0, 0);
    assert!(verify(&enc).status.success());
    // Without a password file and with no terminal, it says what to give.
    let doc = env.refused(
        &[
            "index",
            "sign",
            index.to_str().unwrap(),
            "--secret-key",
            enc.secret.to_str().unwrap(),
        ],
        2,
        "usage",
    );
    assert!(doc["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--password-file"));
}
