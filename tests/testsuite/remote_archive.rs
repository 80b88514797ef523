//! Archive URLs through the real binary, against HTTP(S) servers started by the tests on
//! 127.0.0.1: formats (by name and by first bytes), failures (404, 5xx, cut-off bodies,
//! stalls, lying Content-Length, bad certificates), redirects, proxies, the network policy,
//! checksums, limits and redaction of credentials.

use crate::support::http_server;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use http_server::{HttpServer, Reply, TestCa};
use serde_json::Value;
use sha2::{Digest, Sha256, Sha512};

use crate::support::BIN;

/// Variables of the developer's or CI's environment that would change what the binary does.
const HOST_VARS: &[&str] = &[
    "ATTUNE_PACKS_DIR",
    "ATTUNE_PACK_CACHE_DIR",
    "ATTUNE_PACK_CONFIG",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

struct Env {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    packs: PathBuf,
    config: PathBuf,
}

impl Env {
    fn new() -> Env {
        Env::with_config("")
    }

    fn with_config(yaml: &str) -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let config = root.join("config.yaml");
        std::fs::write(&config, yaml).unwrap();
        Env {
            packs: root.join("packs"),
            root,
            config,
            _tmp: tmp,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        for var in HOST_VARS {
            cmd.env_remove(var);
        }
        cmd.env("XDG_CACHE_HOME", self.root.join("cache"))
            .arg("--packs-dir")
            .arg(&self.packs)
            .arg("--config")
            .arg(&self.config)
            .args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().unwrap())
    }

    /// `install URL --json` plus `extra`.
    fn install(&self, url: &str, extra: &[&str]) -> Run {
        let mut args = vec!["install", url, "--json"];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    fn pack_file(&self, rel: &str) -> PathBuf {
        self.packs.join("hello").join(rel)
    }

    fn assert_installed(&self) {
        assert_eq!(
            std::fs::read_to_string(self.pack_file("actions/hello.sh")).unwrap(),
            HELLO_SH
        );
        assert!(self.pack_file("pack.yaml").is_file());
        assert!(self
            .packs
            .join(".attune-pack/receipts/hello.json")
            .is_file());
        self.assert_staging_empty();
    }

    /// Nothing installed, and staging left empty.
    fn assert_nothing_installed(&self) {
        assert!(!self.packs.join("hello").exists(), "the pack was installed");
        assert!(!self.packs.join(".attune-pack/receipts/hello.json").exists());
        self.assert_staging_empty();
    }

    fn assert_staging_empty(&self) {
        let staging = self.packs.join(".attune-pack/staging");
        if staging.exists() {
            assert_eq!(names_in(&staging), BTreeSet::new(), "staging is not empty");
        }
    }
}

fn names_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// What a run of the binary did.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("stdout is not JSON ({e}): {}\n{}", self.stdout, self.stderr)
        })
    }

    /// Asserts success and returns the receipt.
    fn receipt(&self) -> Value {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self.json()
    }

    /// Asserts failure with this exit code and error code; returns the error message.
    fn failure(&self, exit: i32, code: &str) -> String {
        assert_eq!(
            self.code, exit,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        let doc = self.json();
        assert_eq!(doc["error"]["code"], code, "{doc}");
        doc["error"]["message"].as_str().unwrap().to_owned()
    }
}

const PACK_YAML: &str = "ref: hello\nversion: 1.2.3\nlabel: Hello\ndescription: a test pack\n";
const HELLO_SH: &str = "#!/bin/sh\necho hello\n";

/// The pack's files, under `prefix` (`""` or `hello-main/`, as GitHub archives have it).
fn pack_files(prefix: &str) -> Vec<(String, Vec<u8>, u32)> {
    vec![
        (format!("{prefix}pack.yaml"), PACK_YAML.into(), 0o644),
        (format!("{prefix}actions/hello.sh"), HELLO_SH.into(), 0o755),
        // Incompressible, so the download spans many network reads.
        (format!("{prefix}data/blob.bin"), noise(3 << 20), 0o644),
    ]
}

fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn tar_bytes(prefix: &str) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data, mode) in pack_files(prefix) {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, &name, &data[..]).unwrap();
    }
    builder.into_inner().unwrap()
}

fn tar_gz_bytes(prefix: &str) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar_bytes(prefix)).unwrap();
    gz.finish().unwrap()
}

fn zip_bytes(prefix: &str) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data, mode) in pack_files(prefix) {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(mode);
        zip.start_file(name, options).unwrap();
        zip.write_all(&data).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn sha512(bytes: &[u8]) -> String {
    format!("sha512:{}", hex::encode(Sha512::digest(bytes)))
}

/// Checks the receipt of an archive install from `url` of `archive`.
fn assert_archive_receipt(receipt: &Value, url: &str, archive: &[u8]) {
    assert_eq!(receipt["ref"], "hello");
    assert_eq!(receipt["version"], "1.2.3");
    assert_eq!(receipt["source"]["kind"], "archive");
    assert_eq!(receipt["source"]["url"], url);
    assert_eq!(receipt["checksum"]["archive"], sha256(archive));
}

#[test]
fn installs_tar_gz_zip_and_tar_by_their_names() {
    let server = HttpServer::start();
    for (name, bytes) in [
        ("hello.tar.gz", tar_gz_bytes("")),
        ("hello.tgz", tar_gz_bytes("hello/")),
        ("hello.zip", zip_bytes("")),
        ("hello.tar", tar_bytes("")),
    ] {
        let env = Env::new();
        server.serve(name, bytes.clone());
        let url = server.url(name);
        let run = env.install(&url, &["--allow-http"]);
        assert_archive_receipt(&run.receipt(), &url, &bytes);
        env.assert_installed();
        assert!(run.stderr.contains("(archive"), "{}", run.stderr);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(env.pack_file("actions/hello.sh"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o755, "{name}");
        }
        assert_eq!(
            std::fs::read(env.pack_file("data/blob.bin")).unwrap(),
            noise(3 << 20)
        );
    }
}

#[test]
fn formats_without_a_name_are_read_from_the_first_bytes() {
    let server = HttpServer::start();
    let tgz = tar_gz_bytes("hello-main/");
    server.serve("/org/hello/archive/main", tgz.clone());
    let zip = zip_bytes("");
    server.serve("/download", zip.clone());
    let tar = tar_bytes("");
    server.serve("/raw", tar.clone());
    for (url, bytes) in [
        (server.url("/org/hello/archive/main"), tgz),
        (server.url("/download?id=3"), zip),
        (server.url("/raw"), tar),
    ] {
        let env = Env::new();
        let run = env.install(&url, &["--allow-http"]);
        let shown = url.replace("?id=3", "?***");
        assert_archive_receipt(&run.receipt(), &shown, &bytes);
        env.assert_installed();
    }
}

#[test]
fn xz_zstd_and_bzip2_tars_install_from_urls_like_the_tar_gz() {
    use crate::support::archives::Compressor;
    let server = HttpServer::start();
    let tar = tar_bytes("");
    let tgz = Compressor::Gzip.compress(&tar);
    server.serve("/hello.tar.gz", tgz.clone());
    let env = Env::new();
    let from_tar_gz = env
        .install(&server.url("/hello.tar.gz"), &["--allow-http"])
        .receipt();
    for (compressor, name) in [
        (Compressor::Xz, "hello.tar.xz"),
        (Compressor::Zstd, "hello.tzst"),
        (Compressor::Bzip2, "hello.tbz2"),
    ] {
        let bytes = compressor.compress(&tar);
        server.serve(name, bytes.clone());
        // And under a URL that says nothing of the format.
        let unnamed = format!("/download/{}", compressor.name());
        server.serve(&unnamed, bytes.clone());
        for url in [server.url(name), server.url(&unnamed)] {
            let env = Env::new();
            let receipt = env.install(&url, &["--allow-http"]).receipt();
            assert_archive_receipt(&receipt, &url, &bytes);
            assert_eq!(
                receipt["checksum"]["content"], from_tar_gz["checksum"]["content"],
                "{url}"
            );
            env.assert_installed();
        }
    }
}

#[test]
fn a_download_that_is_not_an_archive_is_archive_corrupt() {
    let server = HttpServer::start();
    server.script(
        "/archive/main",
        vec![Reply::ok("<html>sign in</html>").header("Content-Type", "text/html")],
    );
    let env = Env::new();
    let message = env
        .install(&server.url("/archive/main"), &["--allow-http"])
        .failure(1, "archive_corrupt");
    assert!(message.contains("not a zip or tar archive"), "{message}");
    assert!(message.contains("text/html"), "{message}");
    // rule 5 of the reference: a URL not named like an archive may be a git repository; it is not.
    assert!(
        message.contains("also tried as a git repository (smart HTTP)"),
        "{message}"
    );
    assert_eq!(
        server.hits("/archive/main/info/refs"),
        1,
        "git's discovery request was made"
    );
    env.assert_nothing_installed();

    // A URL named like an archive is not tried as git (rule 4).
    server.script(
        "/pack.tar.gz",
        vec![Reply::ok("<html>sign in</html>").header("Content-Type", "text/html")],
    );
    let message = env
        .install(&server.url("/pack.tar.gz"), &["--allow-http"])
        .failure(1, "archive_corrupt");
    assert!(!message.contains("also tried"), "{message}");
    assert_eq!(server.hits("/pack.tar.gz/info/refs"), 0);
    env.assert_nothing_installed();
}

#[test]
fn not_found_names_the_status_and_the_url() {
    let server = HttpServer::start();
    let env = Env::new();
    let url = server.url("/missing.tar.gz");
    let message = env.install(&url, &["--allow-http"]).failure(1, "network");
    assert!(message.contains("404"), "{message}");
    assert!(message.contains(&url), "{message}");
    assert_eq!(server.hits("/missing.tar.gz"), 1, "a 404 is not retried");
    env.assert_nothing_installed();
}

#[test]
fn server_errors_are_retried() {
    let server = HttpServer::start();
    let bytes = tar_gz_bytes("");
    server.script(
        "/flaky.tar.gz",
        vec![
            Reply::status(500, "oops"),
            Reply::status(503, "busy").header("Retry-After", "0"),
            Reply::ok(bytes.clone()),
        ],
    );
    let env = Env::new();
    let url = server.url("/flaky.tar.gz");
    assert_archive_receipt(
        &env.install(&url, &["--allow-http"]).receipt(),
        &url,
        &bytes,
    );
    assert_eq!(server.hits("/flaky.tar.gz"), 3);
    env.assert_installed();

    server.script("/down.tar.gz", vec![Reply::status(500, "down")]);
    let env = Env::new();
    let message = env
        .install(&server.url("/down.tar.gz"), &["--allow-http"])
        .failure(1, "network");
    assert!(message.contains("HTTP 500"), "{message}");
    assert_eq!(server.hits("/down.tar.gz"), 4, "tried 4 times in all");
}

#[test]
fn a_body_cut_off_mid_stream_installs_nothing() {
    let server = HttpServer::start();
    for (name, bytes) in [
        ("cut.tar.gz", tar_gz_bytes("")),
        ("cut.zip", zip_bytes("")),
        ("cut.tar", tar_bytes("")),
    ] {
        let half = bytes.len() / 2;
        server.script(&format!("/{name}"), vec![Reply::ok(bytes).cut_after(half)]);
        let env = Env::new();
        let run = env.install(&server.url(name), &["--allow-http"]);
        assert_eq!(run.code, 1, "{name}: {}", run.stderr);
        let code = run.json()["error"]["code"].as_str().unwrap().to_owned();
        assert!(
            code == "network" || code == "archive_corrupt",
            "{name}: {code}"
        );
        assert_eq!(
            server.hits(name),
            1,
            "{name}: nothing is retried once bytes flowed"
        );
        env.assert_nothing_installed();
    }
}

#[test]
fn a_stall_longer_than_the_timeout_fails() {
    let server = HttpServer::start();
    let bytes = tar_gz_bytes("");
    let half = bytes.len() / 2;
    server.script(
        "/stall.tar.gz",
        vec![Reply::ok(bytes).stall_after(half, Duration::from_secs(6))],
    );
    let env = Env::with_config("pack_registry:\n  timeout: 1\n");
    let message = env
        .install(&server.url("/stall.tar.gz"), &["--allow-http"])
        .failure(1, "network");
    assert!(message.contains("no data received for 1 s"), "{message}");
    assert!(
        server.hung_up("/stall.tar.gz"),
        "the client waited for the server to end the stall"
    );
    env.assert_nothing_installed();
}

#[test]
fn redirect_chains_are_followed_and_bounded() {
    let server = HttpServer::start();
    let bytes = zip_bytes("");
    server.script("/a", vec![Reply::redirect(302, "/b")]);
    server.script("/b", vec![Reply::redirect(301, &server.url("/c"))]);
    server.script("/c", vec![Reply::redirect(307, "files/hello.zip")]);
    server.serve("/files/hello.zip", bytes.clone());
    let env = Env::new();
    let url = server.url("/a");
    // The receipt names what the user asked for, not where it was found.
    assert_archive_receipt(
        &env.install(&url, &["--allow-http"]).receipt(),
        &url,
        &bytes,
    );
    env.assert_installed();

    server.script("/loop", vec![Reply::redirect(302, "/loop")]);
    let env = Env::new();
    let message = env
        .install(&server.url("/loop"), &["--allow-http"])
        .failure(1, "network");
    assert!(message.contains("redirects"), "{message}");
    assert_eq!(server.hits("/loop"), 11);
}

#[test]
fn every_redirect_hop_is_checked_against_the_policy() {
    let server = HttpServer::start();
    server.serve("/hello.tar.gz", tar_gz_bytes(""));
    let elsewhere = format!("http://localhost:{}/hello.tar.gz", server.port());
    server.script("/away", vec![Reply::redirect(302, &elsewhere)]);
    let env = Env::with_config("pack_registry:\n  allowed_source_hosts: [127.0.0.1]\n");
    let message = env
        .install(&server.url("/away"), &["--allow-http"])
        .failure(3, "host_not_allowed");
    assert!(message.contains("localhost"), "{message}");
    assert_eq!(server.hits("/hello.tar.gz"), 0);

    // https → http is a downgrade, refused without --allow-http.
    let ca = TestCa::new();
    let tls = HttpServer::start_tls(&ca.server_cert_pem, &ca.server_key_pem);
    tls.script(
        "/down",
        vec![Reply::redirect(302, &server.url("/hello.tar.gz"))],
    );
    let env = env_trusting(&ca);
    env.install(&tls.url("/down"), &[])
        .failure(3, "insecure_http");
    assert_eq!(server.hits("/hello.tar.gz"), 0);
}

#[test]
fn a_wrong_content_length_installs_nothing() {
    let server = HttpServer::start();
    let bytes = tar_gz_bytes("");
    let len = bytes.len() as u64;
    server.script(
        "/long.tar.gz",
        vec![Reply::ok(bytes.clone()).content_length(len + 1000)],
    );
    server.script(
        "/short.tar.gz",
        vec![Reply::ok(bytes).content_length(len - 1000)],
    );
    let env = Env::new();
    let message = env
        .install(&server.url("/long.tar.gz"), &["--allow-http"])
        .failure(1, "network");
    assert!(message.contains("download failed"), "{message}");
    env.assert_nothing_installed();

    let run = env.install(&server.url("/short.tar.gz"), &["--allow-http"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    env.assert_nothing_installed();
}

/// An environment whose config names `ca`'s certificate as `ca_file`.
fn env_trusting(ca: &TestCa) -> Env {
    let env = Env::new();
    let path = env.root.join("ca.pem");
    std::fs::write(&path, &ca.ca_pem).unwrap();
    std::fs::write(
        &env.config,
        format!("pack_registry:\n  ca_file: {}\n", path.display()),
    )
    .unwrap();
    env
}

#[test]
fn tls_with_a_private_ca_needs_ca_file_or_ssl_cert_file() {
    let ca = TestCa::new();
    let server = HttpServer::start_tls(&ca.server_cert_pem, &ca.server_key_pem);
    let bytes = tar_gz_bytes("");
    server.serve("/hello.tar.gz", bytes.clone());
    let url = server.url("/hello.tar.gz");
    assert!(url.starts_with("https://"));

    let env = Env::new();
    let message = env.install(&url, &[]).failure(1, "network");
    assert!(message.contains("TLS handshake failed"), "{message}");
    assert!(message.contains("UnknownIssuer"), "{message}");
    env.assert_nothing_installed();

    let env = env_trusting(&ca);
    assert_archive_receipt(&env.install(&url, &[]).receipt(), &url, &bytes);
    env.assert_installed();

    let env = Env::new();
    let pem = env.root.join("extra-ca.pem");
    std::fs::write(&pem, &ca.ca_pem).unwrap();
    let run = Run::from(
        env.command(&["install", &url, "--json"])
            .env("SSL_CERT_FILE", &pem)
            .output()
            .unwrap(),
    );
    assert_archive_receipt(&run.receipt(), &url, &bytes);

    let env = Env::with_config("pack_registry:\n  ca_file: /nonexistent/ca.pem\n");
    let message = env.install(&url, &[]).failure(2, "usage");
    assert!(message.contains("ca_file"), "{message}");
}

#[test]
fn checksum_of_the_archive_bytes_is_checked() {
    let server = HttpServer::start();
    let bytes = zip_bytes("");
    server.serve("/hello.zip", bytes.clone());
    let url = server.url("/hello.zip");

    let env = Env::new();
    let receipt = env
        .install(&url, &["--allow-http", "--checksum", &sha256(&bytes)])
        .receipt();
    assert_archive_receipt(&receipt, &url, &bytes);

    let env = Env::new();
    env.install(&url, &["--allow-http", "--checksum", &sha512(&bytes)])
        .receipt();
    env.assert_installed();

    let env = Env::new();
    let wrong = sha256(b"something else");
    let message = env
        .install(&url, &["--allow-http", "--checksum", &wrong])
        .failure(3, "checksum_mismatch");
    assert!(message.contains(&wrong), "{message}");
    assert!(message.contains(&sha256(&bytes)), "{message}");
    env.assert_nothing_installed();
}

#[test]
fn plain_http_needs_allow_http() {
    let server = HttpServer::start();
    server.serve("/hello.tar.gz", tar_gz_bytes(""));
    let env = Env::new();
    let message = env
        .install(&server.url("/hello.tar.gz"), &[])
        .failure(3, "insecure_http");
    assert!(message.contains("--allow-http"), "{message}");
    assert_eq!(server.hits("/hello.tar.gz"), 0);

    let env = Env::with_config("pack_registry:\n  allow_http: true\n");
    env.install(&server.url("/hello.tar.gz"), &[]).receipt();
    env.assert_installed();
}

#[test]
fn allowed_source_hosts_is_enforced() {
    let server = HttpServer::start();
    server.serve("/hello.tar.gz", tar_gz_bytes(""));
    let env = Env::with_config("pack_registry:\n  allowed_source_hosts: [packs.example.com]\n");
    let message = env
        .install(&server.url("/hello.tar.gz"), &["--allow-http"])
        .failure(3, "host_not_allowed");
    assert!(message.contains("127.0.0.1"), "{message}");
    assert_eq!(server.hits("/hello.tar.gz"), 0);

    let env = Env::with_config("pack_registry:\n  allowed_source_hosts: [127.0.0.1]\n");
    env.install(&server.url("/hello.tar.gz"), &["--allow-http"])
        .receipt();
}

#[test]
fn max_download_bytes_is_enforced() {
    let server = HttpServer::start();
    let bytes = tar_gz_bytes("");
    server.serve("/hello.tar.gz", bytes.clone());
    // A server that does not announce the size is stopped while streaming.
    server.script(
        "/unsized.zip",
        vec![Reply::ok(zip_bytes("")).without_length()],
    );
    let env = Env::with_config("limits:\n  max_download_bytes: 100000\n");
    for path in ["/hello.tar.gz", "/unsized.zip"] {
        let message = env
            .install(&server.url(path), &["--allow-http"])
            .failure(3, "unsafe_archive");
        assert!(message.contains("max_download_bytes"), "{path}: {message}");
        env.assert_nothing_installed();
    }
}

#[test]
fn credentials_and_queries_never_reach_output() {
    let server = HttpServer::start();
    let bytes = tar_gz_bytes("");
    server.serve("/hello.tar.gz", bytes.clone());
    let port = server.port();
    let url = format!("http://user:s3cret@127.0.0.1:{port}/hello.tar.gz?X-Amz-Signature=t0ken");
    let env = Env::new();
    let run = env.install(&url, &["--allow-http"]);
    let receipt = run.receipt();
    let shown = format!("http://***@127.0.0.1:{port}/hello.tar.gz?***");
    assert_archive_receipt(&receipt, &shown, &bytes);
    let stored =
        std::fs::read_to_string(env.packs.join(".attune-pack/receipts/hello.json")).unwrap();
    for text in [&run.stdout, &run.stderr, &stored] {
        assert!(
            !text.contains("s3cret") && !text.contains("t0ken"),
            "{text}"
        );
    }
    // The credentials were used, as HTTP basic authentication.
    let seen = server.seen();
    let auth = seen[0].headers.get("authorization").unwrap();
    assert!(auth.starts_with("Basic "), "{auth}");
    assert!(seen[0].target.contains("X-Amz-Signature=t0ken"));

    let missing =
        format!("http://user:s3cret@127.0.0.1:{port}/missing.tar.gz?X-Amz-Signature=t0ken");
    let run = env.install(&missing, &["--allow-http"]);
    let message = run.failure(1, "network");
    assert!(message.contains("404"), "{message}");
    for text in [&run.stdout, &run.stderr] {
        assert!(
            !text.contains("s3cret") && !text.contains("t0ken"),
            "{text}"
        );
    }
}

#[test]
fn offline_refuses_archive_urls() {
    let server = HttpServer::start();
    server.serve("/hello.tar.gz", tar_gz_bytes(""));
    let env = Env::new();
    let message = env
        .install(&server.url("/hello.tar.gz"), &["--allow-http", "--offline"])
        .failure(1, "network");
    assert!(message.contains("offline"), "{message}");
    assert_eq!(server.hits("/hello.tar.gz"), 0);
}

#[test]
fn index_headers_go_only_to_their_origin() {
    let index_host = HttpServer::start();
    let other = HttpServer::start();
    other.serve("/hello.tar.gz", tar_gz_bytes(""));
    index_host.serve("/packs/hello.tar.gz", tar_gz_bytes(""));
    index_host.script(
        "/elsewhere.tar.gz",
        vec![Reply::redirect(302, &other.url("/hello.tar.gz"))],
    );
    let env = Env::with_config(&format!(
        "pack_registry:\n  indices:\n    - url: {}\n      headers: {{X-Registry-Token: t0ken}}\n",
        index_host.url("/index.json")
    ));
    env.install(&index_host.url("/packs/hello.tar.gz"), &["--allow-http"])
        .receipt();
    let seen = index_host.seen();
    assert_eq!(seen[0].headers.get("x-registry-token").unwrap(), "t0ken");

    let env2 = Env::with_config(&std::fs::read_to_string(&env.config).unwrap());
    env2.install(&index_host.url("/elsewhere.tar.gz"), &["--allow-http"])
        .receipt();
    let redirected = index_host.seen();
    assert_eq!(
        redirected
            .last()
            .unwrap()
            .headers
            .get("x-registry-token")
            .unwrap(),
        "t0ken"
    );
    let seen_elsewhere = other.seen();
    assert_eq!(seen_elsewhere.len(), 1);
    assert!(!seen_elsewhere[0].headers.contains_key("x-registry-token"));
}

#[test]
fn proxies_from_the_environment_are_used() {
    let proxy = HttpServer::start();
    let bytes = tar_gz_bytes("");
    proxy.serve("/hello.tar.gz", bytes.clone());
    let env = Env::new();
    let url = "http://packs.invalid/hello.tar.gz";
    let run = Run::from(
        env.command(&["install", url, "--json", "--allow-http"])
            .env("HTTP_PROXY", proxy.url("/"))
            .output()
            .unwrap(),
    );
    assert_archive_receipt(&run.receipt(), url, &bytes);
    assert_eq!(proxy.seen()[0].target, url);

    // NO_PROXY sends matching hosts direct.
    let direct = HttpServer::start();
    direct.serve("/hello.tar.gz", bytes);
    let dead_proxy = format!("http://127.0.0.1:{}/", unused_port());
    let env = Env::new();
    let run = Run::from(
        env.command(&[
            "install",
            &direct.url("/hello.tar.gz"),
            "--json",
            "--allow-http",
        ])
        .env("HTTP_PROXY", &dead_proxy)
        .env("NO_PROXY", "127.0.0.1")
        .output()
        .unwrap(),
    );
    run.receipt();
    assert_eq!(direct.hits("/hello.tar.gz"), 1);
}

fn unused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_refused_connection_is_a_network_error() {
    let env = Env::new();
    let url = format!("http://127.0.0.1:{}/hello.tar.gz", unused_port());
    let message = env.install(&url, &["--allow-http"]).failure(1, "network");
    assert!(message.contains("cannot connect"), "{message}");
    env.assert_nothing_installed();
}

#[test]
fn needs_no_external_program() {
    let server = HttpServer::start();
    server.serve("/hello.tar.gz", tar_gz_bytes(""));
    let env = Env::new();
    let output = Command::new(BIN)
        .env_clear()
        .env("PATH", "/nonexistent")
        .arg("--packs-dir")
        .arg(&env.packs)
        .args(["install", &server.url("/hello.tar.gz"), "--allow-http"])
        .output()
        .unwrap();
    let run = Run::from(output);
    assert_eq!(run.code, 0, "{}", run.stderr);
    env.assert_installed();
}

#[test]
fn an_unsafe_entry_stops_a_stalled_download_at_once() {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    // Written raw: tar's own setters refuse `..`, which is the point of this archive.
    header.as_old_mut().name[..7].copy_from_slice(b"../evil");
    header.set_size(4);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    builder.append(&header, &b"evil"[..]).unwrap();
    for (name, data, mode) in pack_files("") {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        builder.append_data(&mut header, &name, &data[..]).unwrap();
    }
    let bytes = builder.into_inner().unwrap();
    let server = HttpServer::start();
    server.script(
        "/evil.tar",
        vec![Reply::ok(bytes).stall_after(64 * 1024, Duration::from_secs(30))],
    );
    let env = Env::new();
    let message = env
        .install(&server.url("/evil.tar"), &["--allow-http"])
        .failure(3, "unsafe_archive");
    assert!(message.contains("../evil"), "{message}");
    assert!(
        server.hung_up("/evil.tar"),
        "the client read on after the unsafe entry"
    );
    env.assert_nothing_installed();
}

#[cfg(unix)]
#[test]
fn ctrl_c_during_a_stalled_download_exits_130_and_leaves_nothing() {
    let server = HttpServer::start();
    let bytes = tar_gz_bytes("");
    server.script(
        "/slow.tar.gz",
        vec![Reply::ok(bytes).stall_after(100_000, Duration::from_secs(30))],
    );
    let env = Env::new();
    let mut child = env
        .command(&["install", &server.url("/slow.tar.gz"), "--allow-http"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    server.wait_stalled("/slow.tar.gz");
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(
        server.hung_up("/slow.tar.gz"),
        "the interrupted client waited for the stalled download"
    );
    env.assert_nothing_installed();
}

/// Every file under `dir`, as (path, content) text, for grepping.
/// Every file under `dir` but the store's private record of unredacted sources, which must be
/// readable by its owner only.
fn everything_under(dir: &Path) -> Vec<(String, String)> {
    use std::os::unix::fs::PermissionsExt;
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| {
            let private = e.path().components().any(|c| c.as_os_str() == "private");
            if private {
                let mode = e.metadata().unwrap().permissions().mode() & 0o777;
                let want = if e.file_type().is_dir() { 0o700 } else { 0o600 };
                assert_eq!(mode, want, "{}", e.path().display());
            }
            !private
        })
        .map(|e| {
            let text = std::fs::read(e.path()).unwrap_or_default();
            (
                e.path().display().to_string(),
                String::from_utf8_lossy(&text).into_owned(),
            )
        })
        .collect()
}

/// Malformed credentials (a `/`, `?`, `#` or `@` in the password, or percent-encoded) are
/// hidden however the URL is read: in what is printed, in errors, in `--json`, in the receipt,
/// the history and the cache, for archive URLs and git URLs alike.
#[test]
fn malformed_credentials_never_reach_output_or_disk() {
    let server = HttpServer::start();
    let bytes = tar_gz_bytes("");
    server.serve("/hello.tar.gz", bytes);
    let port = server.port();
    let secrets = ["pa/ss", "pa?ss", "pa#ss", "p@ss", "pa%2Fss"];
    for secret in secrets {
        for tail in ["hello.tar.gz", "repo.git", "missing"] {
            let url = format!("http://user:{secret}@127.0.0.1:{port}/{tail}");
            let env = Env::new();
            let run = env.install(&url, &["--allow-http"]);
            let mut texts = vec![
                ("stdout".to_owned(), run.stdout.clone()),
                ("stderr".to_owned(), run.stderr.clone()),
            ];
            texts.extend(everything_under(&env.root));
            for (place, text) in texts {
                for s in secrets {
                    assert!(
                        !text.contains(s) && !place.contains(s),
                        "{url}: `{s}` in {place}:\n{text}"
                    );
                }
            }
            // Something was said about the URL, with its userinfo hidden.
            assert!(run.stderr.contains("***@"), "{url}: {}", run.stderr);
        }
    }
}
