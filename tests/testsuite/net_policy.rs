//! The network policy's address rule (`pack_registry.private_networks`), checked on the
//! address each connection goes to: archive URLs, redirects, git over smart HTTP and
//! git://, index sources; the cloud metadata address never contacted, seen from outside
//! with strace.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::git_server::{GitDaemon, Repo, SmartHttp};
use crate::support::http_server::{HttpServer, Reply};
use crate::support::registry::{archive, entry, index, index_line, pack_tgz, write, Env};

const DENY: &str = "  private_networks: deny\n";

/// An env whose config denies private addresses, with `extra` more `pack_registry` keys
/// and `indices` as the indices list (it may be empty).
fn denying(indices: &str, extra: &str) -> Env {
    let env = Env::new();
    env.config(indices, &format!("{DENY}{extra}"));
    env
}

/// Refused with `address_not_allowed`, naming the host, the address and the config key.
fn assert_refused(env: &Env, args: &[&str], host: &str, address: &str) {
    let doc = env.refused(args, 3, "address_not_allowed");
    let message = doc["error"]["message"].as_str().unwrap();
    for part in [host, address, "allowed_source_hosts"] {
        assert!(message.contains(part), "{part} not in: {message}");
    }
    assert!(!env.path("packs/hello").exists());
}

fn served_pack() -> HttpServer {
    let server = HttpServer::start();
    server.serve("/hello.tgz", pack_tgz("hello", "1.0.0"));
    server
}

#[test]
fn deny_refuses_loopback_by_address_and_by_name() {
    let server = served_pack();
    let env = denying("", "");
    let url = server.url("/hello.tgz");
    assert_refused(&env, &["install", &url], "127.0.0.1", "127.0.0.1");
    let by_name = url.replace("127.0.0.1", "localhost");
    // localhost resolves to ::1 as well on some hosts: either is named.
    let doc = env.refused(&["install", &by_name], 3, "address_not_allowed");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(message.contains("localhost at "), "{message}");
    assert!(message.contains("loopback"), "{message}");
    assert_eq!(server.hits("/hello.tgz"), 0);
}

#[test]
fn an_allowlisted_host_passes_and_allow_is_the_default() {
    let server = served_pack();
    let url = server.url("/hello.tgz");
    let env = denying("", "  allowed_source_hosts: [127.0.0.1]\n");
    let (code, doc, stderr) = env.json(&["install", &url]);
    assert_eq!(code, 0, "{doc} {stderr}");
    assert!(env.path("packs/hello/pack.yaml").is_file());

    let env = Env::new();
    env.config("", "");
    let (code, doc, stderr) = env.json(&["install", &url]);
    assert_eq!(code, 0, "{doc} {stderr}");
}

#[test]
fn a_redirect_to_an_unlisted_loopback_name_is_refused() {
    let target = served_pack();
    let first = HttpServer::start();
    let away = target.url("/hello.tgz").replace("127.0.0.1", "localhost");
    first.script("/go.tgz", vec![Reply::redirect(302, &away)]);
    // localhost is an index host, so the host list lets it pass: only the address rule is
    // left to refuse it.
    let index_host = away.replace("/hello.tgz", "/index.json");
    let env = denying(
        &index_line("side", index_host),
        "  allowed_source_hosts: [127.0.0.1]\n",
    );
    let doc = env.refused(
        &["install", &first.url("/go.tgz")],
        3,
        "address_not_allowed",
    );
    assert!(doc["error"]["message"]
        .as_str()
        .unwrap()
        .contains("localhost"));
    assert_eq!(first.hits("/go.tgz"), 1);
    assert_eq!(target.hits("/hello.tgz"), 0);
}

fn git_pack(root: &Path) -> Repo {
    let repo = Repo::init(&root.join("work"));
    repo.write("pack.yaml", "ref: hello\nversion: 1.0.0\n");
    repo.commit("first");
    std::fs::create_dir_all(root.join("srv")).unwrap();
    repo.bare_clone(&root.join("srv/hello.git"));
    repo
}

#[test]
fn git_over_smart_http_and_git_daemon_are_refused_under_deny() {
    let tmp = tempfile::tempdir().unwrap();
    git_pack(tmp.path());
    let http = SmartHttp::start(&tmp.path().join("srv"));
    let env = denying("", "");
    let url = http.url("hello.git");
    assert_refused(&env, &["install", &url], "127.0.0.1", "127.0.0.1");
    assert!(http.requests().is_empty(), "{:?}", http.requests());
    let by_name = url.replace("127.0.0.1", "localhost");
    env.refused(&["install", &by_name], 3, "address_not_allowed");
    assert!(http.requests().is_empty(), "{:?}", http.requests());

    let daemon = GitDaemon::start(&tmp.path().join("srv"));
    let git_url = daemon.url("hello.git");
    assert_refused(&env, &["install", &git_url], "127.0.0.1", "127.0.0.1");

    // Allowlisted, both work.
    let env = denying("", "  allowed_source_hosts: [127.0.0.1, localhost]\n");
    let (code, doc, stderr) = env.json(&["install", &url]);
    assert_eq!(code, 0, "{doc} {stderr}");
}

/// The addresses the command tried to connect to, as strace saw them.
fn connects(env: &Env, args: &[&str]) -> (Value, String) {
    let log = env.path("strace.log");
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qq", "-e", "trace=connect", "-o"])
        .arg(&log)
        .arg(crate::support::BIN);
    let inner = env.command(&[]);
    for arg in inner.get_args() {
        cmd.arg(arg);
    }
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let out = cmd.arg("--json").args(args).output().unwrap();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (doc, std::fs::read_to_string(&log).unwrap_or_default())
}

#[test]
fn the_metadata_address_is_never_contacted_even_when_private_networks_are_allowed() {
    let env = Env::new();
    env.config("", "");
    let redirecting = HttpServer::start();
    redirecting.script(
        "/pack.tgz",
        vec![Reply::redirect(
            302,
            "http://169.254.169.254/latest/meta-data/pack.tgz",
        )],
    );
    for url in [
        "http://169.254.169.254/latest/meta-data/pack.tgz".to_owned(),
        "http://[::ffff:169.254.169.254]/pack.tgz".to_owned(),
        "http://[fd00:ec2::254]/pack.tgz".to_owned(),
        redirecting.url("/pack.tgz"),
    ] {
        let (doc, trace) = connects(&env, &["install", &url]);
        assert_eq!(doc["error"]["code"], "address_not_allowed", "{url}: {doc}");
        assert!(
            doc["error"]["message"]
                .as_str()
                .unwrap()
                .contains("cloud metadata"),
            "{doc}"
        );
        for addr in ["169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254"] {
            assert!(
                !trace.contains(addr),
                "{url}: connected to {addr}:\n{trace}"
            );
        }
    }
    // strace did see the connection that was allowed.
    let (_, trace) = connects(&env, &["install", &redirecting.url("/pack.tgz")]);
    assert!(trace.contains("127.0.0.1"), "{trace}");
    assert_eq!(redirecting.hits("/pack.tgz"), 2);
}

#[test]
fn index_sources_with_credentials_are_refused() {
    let env = Env::new();
    let server = HttpServer::start();
    let bytes = pack_tgz("hello", "1.0.0");
    server.serve("/hello.tgz", bytes.clone());
    let with_user = server
        .url("/hello.tgz")
        .replace("http://", "http://deploy:s3cret@");
    let dir = env.path("idx");
    std::fs::create_dir_all(&dir).unwrap();
    write(
        &dir.join("index.json"),
        index(vec![entry(
            "hello",
            "1.0.0",
            vec![archive(&with_user, &bytes)],
        )]),
    );
    env.config(&index_line("main", dir.join("index.json").display()), "");
    let doc = env.refused(&["install", "hello"], 3, "credentials_in_url");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(!message.contains("s3cret"), "{message}");
    assert_eq!(server.hits("/hello.tgz"), 0);
    // The same URL given by the user on the command line is theirs to send.
    let (code, doc, stderr) = env.json(&["install", &with_user]);
    assert_eq!(code, 0, "{doc} {stderr}");
}
