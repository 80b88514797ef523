//! Git sources through the real binary: repositories made here with the git CLI, served over
//! file://, `git daemon` (git://) and smart HTTP (`git http-backend` behind a test server), and
//! installed by default branch, branch, tag, full and abbreviated commit id. attune-pack itself
//! runs no git program (checked with `env -i PATH=/nonexistent`).

use crate::support::git_server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use git_server::{GitDaemon, Repo, SmartHttp, TestCa};

use crate::support::{with_stdin, BIN};
const PACK: &str = "gitpack";

/// A repository with history: `main` (c1 ← c2 ← c4), `dev` (c2 ← c3), an annotated tag
/// `v1.0.0` on c1; an executable file and a relative symlink throughout.
struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    /// Served repositories live here (`pack.git`, a bare clone).
    srv: PathBuf,
    work: Repo,
    c1: String,
    c2: String,
    c3: String,
    c4: String,
}

fn pack_yaml(version: &str) -> String {
    format!("ref: {PACK}\nlabel: Git Pack\nversion: {version}\ndescription: from git\n")
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    let work = Repo::init(&root.join("work"));
    work.write("pack.yaml", &pack_yaml("1.0.0"));
    work.write_exec("bin/run.sh", "#!/bin/sh\necho one\n");
    work.write("docs/readme.txt", "docs\n");
    work.symlink("run", "bin/run.sh");
    let c1 = work.commit("one");
    work.git(&["tag", "-a", "v1.0.0", "-m", "release 1.0.0"]);
    work.write("pack.yaml", &pack_yaml("1.1.0"));
    work.write_exec("bin/run.sh", "#!/bin/sh\necho two\n");
    let c2 = work.commit("two");
    work.git(&["checkout", "-q", "-b", "dev"]);
    work.write("pack.yaml", &pack_yaml("2.0.0"));
    work.write("dev.txt", "dev only\n");
    let c3 = work.commit("three (dev)");
    work.git(&["checkout", "-q", "main"]);
    work.write("pack.yaml", &pack_yaml("1.2.0"));
    work.write_exec("bin/run.sh", "#!/bin/sh\necho four\n");
    let c4 = work.commit("four");
    let srv = root.join("srv");
    std::fs::create_dir(&srv).unwrap();
    work.bare_clone(&srv.join("pack.git"));
    Fixture {
        _tmp: tmp,
        root,
        srv,
        work,
        c1,
        c2,
        c3,
        c4,
    }
}

/// What an install of one ref must produce.
struct Expect<'a> {
    commit: &'a str,
    version: &'a str,
    run: &'a str,
    dev_file: bool,
}

impl Fixture {
    /// `main`'s tip, c4 (the default branch).
    fn expect_c4(&self) -> Expect<'_> {
        Expect {
            commit: &self.c4,
            version: "1.2.0",
            run: "echo four",
            dev_file: false,
        }
    }

    /// `dev`'s tip, c3.
    fn expect_c3(&self) -> Expect<'_> {
        Expect {
            commit: &self.c3,
            version: "2.0.0",
            run: "echo two",
            dev_file: true,
        }
    }

    /// c2, where `dev` branches off `main`.
    fn expect_c2(&self) -> Expect<'_> {
        Expect {
            commit: &self.c2,
            version: "1.1.0",
            run: "echo two",
            dev_file: false,
        }
    }

    /// c1, tagged `v1.0.0`.
    fn expect_c1(&self) -> Expect<'_> {
        Expect {
            commit: &self.c1,
            version: "1.0.0",
            run: "echo one",
            dev_file: false,
        }
    }

    fn packs(&self) -> PathBuf {
        self.root.join("packs")
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("--packs-dir")
            .arg(self.packs())
            .args(args)
            .output()
            .unwrap()
    }

    fn install(&self, url: &str, git_ref: Option<&str>, extra: &[&str]) -> Output {
        let mut args = vec!["install", url, "--json", "--force"];
        if let Some(r) = git_ref {
            args.extend(["--ref", r]);
        }
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// The five ways to name a commit, each checked against the files and the receipt.
    fn install_every_kind_of_ref(&self, url: &str, extra: &[&str]) {
        let short_c1 = &self.c1[..7];
        let cases: [(Option<&str>, Expect); 5] = [
            (None, self.expect_c4()),
            (Some("dev"), self.expect_c3()),
            (Some("v1.0.0"), self.expect_c1()),
            (Some(&self.c2), self.expect_c2()),
            (Some(short_c1), self.expect_c1()),
        ];
        for (git_ref, expect) in cases {
            let out = self.install(url, git_ref, extra);
            self.assert_installed(&out, url, git_ref, &expect);
        }
    }

    fn assert_installed(&self, out: &Output, url: &str, git_ref: Option<&str>, e: &Expect) {
        let what = format!("{url} at {git_ref:?}");
        let receipt = json(ok(out, &what));
        assert_eq!(receipt["source"]["kind"], "git", "{what}: {receipt}");
        assert_eq!(receipt["source"]["commit"], e.commit, "{what}: {receipt}");
        assert_eq!(
            receipt["source"]["ref"],
            git_ref.map_or(serde_json::Value::Null, Into::into),
            "{what}"
        );
        assert_eq!(receipt["version"], e.version, "{what}");
        assert!(receipt["checksum"]["archive"].is_null(), "{what}");
        let dir = self.packs().join(PACK);
        assert_eq!(
            std::fs::read_to_string(dir.join("pack.yaml")).unwrap(),
            pack_yaml(e.version)
        );
        let run = dir.join("bin/run.sh");
        assert_eq!(
            std::fs::read_to_string(&run).unwrap(),
            format!("#!/bin/sh\n{}\n", e.run),
            "{what}"
        );
        assert_eq!(mode(&run), 0o755, "{what}: executable bit");
        assert_eq!(mode(&dir.join("pack.yaml")), 0o644, "{what}");
        assert_eq!(
            std::fs::read_link(dir.join("run")).unwrap(),
            Path::new("bin/run.sh"),
            "{what}: relative symlink kept"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("run")).unwrap(),
            format!("#!/bin/sh\n{}\n", e.run)
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("docs/readme.txt")).unwrap(),
            "docs\n"
        );
        assert_eq!(dir.join("dev.txt").exists(), e.dev_file, "{what}");
        assert!(!dir.join(".git").exists(), "{what}: .git is not installed");
        assert!(!dir.join("HEAD").exists() && !dir.join("objects").exists());
        self.assert_staging_empty();
        let checksum = self.run(&["checksum", dir.to_str().unwrap()]);
        assert_eq!(
            String::from_utf8_lossy(&ok(&checksum, "checksum").stdout).trim(),
            receipt["checksum"]["content"].as_str().unwrap(),
            "{what}: the receipt's content checksum is the installed directory's"
        );
    }

    fn assert_staging_empty(&self) {
        let staging = self.packs().join(".attune-pack/staging");
        if staging.exists() {
            assert_eq!(
                std::fs::read_dir(&staging).unwrap().count(),
                0,
                "staging is empty"
            );
        }
    }

    /// Asserts a failure's exit and error codes, that its message contains `needle`, and that
    /// nothing was installed.
    fn assert_refused(&self, out: &Output, exit: i32, code: &str, needle: &str) {
        let message = assert_error(out, exit, code);
        assert!(message.contains(needle), "{message}");
        self.assert_nothing_installed();
    }

    /// Nothing installed and staging empty.
    fn assert_nothing_installed(&self) {
        assert!(!self.packs().join(PACK).exists(), "nothing installed");
        let receipts = self.packs().join(".attune-pack/receipts");
        if receipts.exists() {
            assert_eq!(std::fs::read_dir(&receipts).unwrap().count(), 0);
        }
        self.assert_staging_empty();
    }
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn text(out: &Output) -> String {
    format!(
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok<'a>(out: &'a Output, what: &str) -> &'a Output {
    assert_eq!(out.status.code(), Some(0), "{what}\n{}", text(out));
    out
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e})\n{}", text(out)))
}

/// Asserts exit code and error code; returns the message.
fn assert_error(out: &Output, exit: i32, code: &str) -> String {
    assert_eq!(out.status.code(), Some(exit), "{}", text(out));
    let doc = json(out);
    assert_eq!(doc["error"]["code"], code, "{doc}");
    doc["error"]["message"].as_str().unwrap().to_owned()
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

#[test]
fn file_urls_install_every_kind_of_ref_without_a_transport() {
    let f = fixture();
    f.install_every_kind_of_ref(&file_url(&f.srv.join("pack.git")), &[]);
    // A work tree's repository, by file:// URL, reads the committed tree (not the work tree).
    f.work.write("uncommitted.txt", "not committed\n");
    let out = f.install(&file_url(&f.work.dir), None, &[]);
    f.assert_installed(&out, "work tree", None, &f.expect_c4());
    assert!(!f.packs().join(PACK).join("uncommitted.txt").exists());
}

#[test]
fn a_local_bare_repository_path_ending_in_dot_git_is_read_in_place() {
    let f = fixture();
    let path = f.srv.join("pack.git");
    let out = f.install(path.to_str().unwrap(), Some("dev"), &[]);
    f.assert_installed(&out, "bare path", Some("dev"), &f.expect_c3());
}

/// `--ref` is never silently ignored: a work tree given with it is checked out at that ref
/// (not its files on disk), a bare repository without the `.git` suffix is git, and a source
/// with no refs is a usage error.
#[test]
fn a_ref_checks_out_a_work_tree_or_bare_path_and_is_refused_elsewhere() {
    let f = fixture();
    f.work.write("uncommitted.txt", "not committed\n");
    let work = f.work.dir.to_str().unwrap();
    let out = f.install(work, Some("v1.0.0"), &[]);
    f.assert_installed(&out, "work tree with --ref", Some("v1.0.0"), &f.expect_c1());
    assert!(!f.packs().join(PACK).join("uncommitted.txt").exists());

    let bare = f.srv.join("plain-bare");
    std::fs::rename(f.srv.join("pack.git"), &bare).unwrap();
    let out = f.install(bare.to_str().unwrap(), None, &[]);
    f.assert_installed(&out, "bare path", None, &f.expect_c4());

    let plain = f.root.join("plain");
    std::fs::create_dir(&plain).unwrap();
    std::fs::write(plain.join("pack.yaml"), pack_yaml("9.0.0")).unwrap();
    let out = f.install(plain.to_str().unwrap(), Some("v1.0.0"), &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("has no refs"), "{err}");
    let yaml = std::fs::read_to_string(f.packs().join(PACK).join("pack.yaml")).unwrap();
    assert!(yaml.contains("1.2.0"), "{yaml}");
}

#[test]
fn git_daemon_urls_install_every_kind_of_ref() {
    let f = fixture();
    let daemon = GitDaemon::start(&f.srv);
    f.install_every_kind_of_ref(&daemon.url("pack.git"), &[]);
}

#[test]
fn smart_http_urls_install_every_kind_of_ref() {
    let f = fixture();
    let server = SmartHttp::start(&f.srv);
    f.install_every_kind_of_ref(&server.url("pack.git"), &["--allow-http"]);
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.contains("/pack.git/info/refs?service=git-upload-pack")),
        "the smart protocol was used: {:?}",
        server.requests()
    );
}

#[test]
fn a_web_url_that_serves_no_archive_is_installed_as_smart_http_git() {
    let f = fixture();
    // Served as `/pack`: no `.git` and no --ref, so only rule 5 of the reference makes it git.
    f.work.bare_clone(&f.srv.join("pack"));
    let server = SmartHttp::start(&f.srv);
    let url = server.url("pack");
    let out = f.install(&url, None, &["--allow-http"]);
    f.assert_installed(&out, &url, None, &f.expect_c4());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("(archive URL)") && stderr.contains("trying it as a git repository"),
        "{stderr}"
    );
    let requests = server.requests();
    assert!(
        requests.iter().any(|r| r.starts_with("GET /pack "))
            && requests
                .iter()
                .any(|r| r.contains("/pack/info/refs?service=git-upload-pack")),
        "the archive attempt, then git: {requests:?}"
    );
}

#[test]
fn a_web_url_that_is_neither_archive_nor_repository_says_both() {
    let f = fixture();
    let server = SmartHttp::start(&f.srv);
    let url = server.url("nothing");
    let message = assert_error(&f.install(&url, None, &["--allow-http"]), 1, "network");
    assert!(message.contains("404"), "{message}");
    assert!(message.contains(&url), "{message}");
    assert!(
        message.contains("also tried as a git repository (smart HTTP)"),
        "{message}"
    );
    f.assert_nothing_installed();
}

#[test]
fn plain_http_git_needs_allow_http() {
    let f = fixture();
    let server = SmartHttp::start(&f.srv);
    let out = f.install(&server.url("pack.git"), None, &[]);
    assert_error(&out, 3, "insecure_http");
    assert!(server.requests().is_empty(), "nothing was fetched");
    f.assert_nothing_installed();
}

#[test]
fn credentials_in_a_git_url_are_refused_over_plain_http_and_never_shown() {
    let f = fixture();
    let server = SmartHttp::start(&f.srv);
    let url = server
        .url("pack.git")
        .replace("http://", "http://user:s3cr3t-t0ken@");
    let out = f.install(&url, None, &["--allow-http"]);
    let message = assert_error(&out, 1, "git");
    assert!(message.contains("clear text"), "{message}");
    assert!(
        message.contains(&format!("http://***@127.0.0.1:{}/pack.git", server.port)),
        "{message}"
    );
    assert!(!text(&out).contains("s3cr3t-t0ken"), "{}", text(&out));
    f.assert_nothing_installed();
}

#[test]
fn unknown_commits_are_a_clear_error_and_install_nothing() {
    let f = fixture();
    let daemon = GitDaemon::start(&f.srv);
    let server = SmartHttp::start(&f.srv);
    let unknown_short = "deadbeef";
    for c in [&f.c1, &f.c2, &f.c3, &f.c4] {
        assert!(!c.starts_with(unknown_short));
    }
    let unknown_full = "0123456789abcdef0123456789abcdef01234567";
    let sources = [
        (file_url(&f.srv.join("pack.git")), vec![]),
        (daemon.url("pack.git"), vec![]),
        (server.url("pack.git"), vec!["--allow-http"]),
    ];
    for (url, extra) in &sources {
        for unknown in [unknown_full, unknown_short] {
            let out = f.install(url, Some(unknown), extra);
            let message = assert_error(&out, 1, "git");
            assert!(
                message.contains(&format!("no branch, tag or commit `{unknown}` found")),
                "{url} {unknown}: {message}"
            );
            assert!(!message.contains("decode server reply"), "{message}");
            f.assert_nothing_installed();
        }
    }
    let out = f.install(&daemon.url("pack.git"), Some("no-such-branch"), &[]);
    f.assert_refused(&out, 1, "git", "no-such-branch");
    let out = f.install(&daemon.url("missing.git"), None, &[]);
    assert_error(&out, 1, "git");
    f.assert_nothing_installed();
}

#[test]
fn an_ambiguous_abbreviation_is_refused() {
    let f = fixture();
    // 1,000 commits make two that share their first 4 hex digits all but certain (birthday
    // bound over 65,536 values); fast-import writes them in one process.
    let repo = Repo::init(&f.root.join("amb"));
    let mut stream = String::new();
    for n in 1..=1000 {
        let yaml = pack_yaml("1.0.0");
        let msg = format!("c{n}");
        stream.push_str(&format!(
            "commit refs/heads/main\nmark :{n}\ncommitter T <t@example.com> 1700000000 +0000\ndata {}\n{msg}\n",
            msg.len()
        ));
        if n > 1 {
            stream.push_str(&format!("from :{}\n", n - 1));
        }
        stream.push_str(&format!(
            "M 100644 inline pack.yaml\ndata {}\n{yaml}\n",
            yaml.len()
        ));
        let body = n.to_string();
        stream.push_str(&format!(
            "M 100644 inline n.txt\ndata {}\n{body}\n",
            body.len()
        ));
    }
    let imported = with_stdin(
        Command::new("git")
            .current_dir(&repo.dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .args(["fast-import", "--quiet"]),
        stream.as_bytes(),
    );
    assert!(imported.status.success());
    let ids = repo.git(&["rev-list", "--all"]);
    let mut seen = std::collections::HashSet::new();
    let prefix = ids
        .lines()
        .map(|id| id[..4].to_owned())
        .find(|p| !seen.insert(p.clone()))
        .expect("two commits share 4 leading hex digits");
    let out = f.install(&file_url(&repo.dir), Some(&prefix), &[]);
    f.assert_refused(&out, 1, "git", "ambiguous");
}

#[test]
fn a_symlink_escaping_the_repository_is_unsafe() {
    let f = fixture();
    let repo = Repo::init(&f.root.join("evil"));
    repo.write("pack.yaml", &pack_yaml("1.0.0"));
    repo.symlink("passwd", "../../../../etc/passwd");
    repo.commit("escape");
    let daemon = GitDaemon::start(&f.root);
    for url in [file_url(&repo.dir), daemon.url("evil")] {
        let out = f.install(&url, None, &[]);
        f.assert_refused(&out, 3, "unsafe_archive", "passwd");
    }
}

#[test]
fn checksum_of_a_git_source_is_its_content_checksum() {
    let f = fixture();
    let daemon = GitDaemon::start(&f.srv);
    let url = daemon.url("pack.git");
    let first = json(ok(&f.install(&url, Some("v1.0.0"), &[]), "first")).clone();
    let content = first["checksum"]["content"].as_str().unwrap().to_owned();
    assert!(content.starts_with("sha256:"));
    let out = f.install(&url, Some("v1.0.0"), &["--checksum", &content]);
    ok(&out, "matching checksum");
    let wrong = format!("sha256:{}", "0".repeat(64));
    let out = f.install(&url, None, &["--checksum", &wrong]);
    let message = assert_error(&out, 3, "checksum_mismatch");
    assert!(message.contains(&wrong), "{message}");
    let receipt = json(&f.run(&["show", PACK, "--json"]));
    assert_eq!(receipt["version"], "1.0.0", "the mismatch changed nothing");
    f.assert_staging_empty();
}

#[test]
fn git_installs_need_no_external_program() {
    let f = fixture();
    let server = SmartHttp::start(&f.srv);
    for (url, extra) in [
        (server.url("pack.git"), vec!["--allow-http"]),
        (file_url(&f.srv.join("pack.git")), vec![]),
    ] {
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .env("PATH", "/nonexistent")
            .arg("--packs-dir")
            .arg(f.packs())
            .args(["install", &url, "--json", "--force", "--ref", "dev"])
            .args(&extra);
        let out = cmd.output().unwrap();
        f.assert_installed(&out, &url, Some("dev"), &f.expect_c3());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn fetch_progress_reaches_the_library_caller() {
    use attune_pack::{DetectOptions, Event, InstallOptions, Installer, PackSource};
    use std::sync::{Arc, Mutex};
    let _no_faults = crate::support::in_process::no_faults();

    let f = fixture();
    let daemon = GitDaemon::start(&f.srv);
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let installer = Installer::builder()
        .packs_dir(f.packs())
        .on_event(Arc::new(move |e: &Event| {
            sink.lock().unwrap().push(e.clone())
        }))
        .build()
        .unwrap();
    let source = PackSource::detect(&daemon.url("pack.git"), &DetectOptions::new()).unwrap();
    let report = installer
        .install(source, InstallOptions::new())
        .await
        .unwrap();
    assert_eq!(report.receipt.source.commit.as_deref(), Some(f.c4.as_str()));
    let events = events.lock().unwrap().clone();
    assert!(
        events.contains(&Event::Phase(attune_pack::Phase::Fetching)),
        "{events:?}"
    );
    let objects: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Objects { done, total } => Some((*done, *total)),
            _ => None,
        })
        .collect();
    let (done, total) = *objects.last().expect("object progress was reported");
    assert!(done > 0 && Some(done) == total, "{objects:?}");
}

#[test]
fn https_git_trusts_the_configured_ca_file_only() {
    let f = fixture();
    let ca = TestCa::new();
    let server = SmartHttp::start_tls(&f.srv, &ca);
    let url = server.url("pack.git");
    let out = f.install(&url, None, &[]);
    let message = assert_error(&out, 1, "git");
    assert!(message.to_lowercase().contains("certificate"), "{message}");
    f.assert_nothing_installed();
    let ca_file = f.root.join("ca.pem");
    std::fs::write(&ca_file, &ca.ca_pem).unwrap();
    let config = f.root.join("config.yaml");
    std::fs::write(
        &config,
        format!("pack_registry:\n  ca_file: {}\n", ca_file.display()),
    )
    .unwrap();
    let out = f.install(
        &url,
        Some("v1.0.0"),
        &["--config", config.to_str().unwrap()],
    );
    f.assert_installed(&out, &url, Some("v1.0.0"), &f.expect_c1());
    // Credentials in an https URL are used, and shown nowhere.
    let with_token = url.replace("https://", "https://user:s3cr3t-t0ken@");
    let out = f.install(&with_token, None, &["--config", config.to_str().unwrap()]);
    assert!(!text(&out).contains("s3cr3t-t0ken"), "{}", text(&out));
    let receipt = json(ok(&out, "https with credentials"));
    assert_eq!(
        receipt["source"]["url"],
        format!("https://***@127.0.0.1:{}/pack.git", server.port)
    );
    assert_eq!(receipt["source"]["commit"], f.c4.as_str());
    let stored = std::fs::read_to_string(
        f.packs()
            .join(".attune-pack/receipts")
            .join(format!("{PACK}.json")),
    )
    .unwrap();
    assert!(!stored.contains("s3cr3t-t0ken"));
}

#[test]
fn a_fetch_over_max_download_bytes_is_stopped() {
    let f = fixture();
    let repo = Repo::init(&f.root.join("big"));
    repo.write("pack.yaml", &pack_yaml("1.0.0"));
    // Incompressible content, so the pack on the wire is as large as the file.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let noise: String = (0..200_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect();
    repo.write("blob.txt", &noise);
    repo.commit("big");
    let config = f.root.join("limits.yaml");
    std::fs::write(&config, "limits: {max_download_bytes: 20000}\n").unwrap();
    let daemon = GitDaemon::start(&f.root);
    let out = f.install(
        &daemon.url("big"),
        None,
        &["--config", config.to_str().unwrap()],
    );
    f.assert_refused(&out, 3, "unsafe_archive", "max_download_bytes");
    // Without the limit the same repository installs.
    let out = f.install(&daemon.url("big"), None, &[]);
    ok(&out, "install without a limit");
}

/// A tree holding `.git` spelled as other file systems read it (and as git itself refuses to
/// check out): none of it is installed, and the content checksum is that of the tree
/// without them.
#[test]
fn every_spelling_of_dotgit_in_a_tree_is_left_out() {
    let f = fixture();
    let repo = Repo::init(&f.root.join("dotgit"));
    let yaml = repo.blob(pack_yaml("1.0.0").as_bytes());
    let config = repo.blob(b"[core]\n\thooksPath = /tmp/evil\n");
    let inner = repo.raw_tree(&[("100644", "config", &config)]);
    let mut entries = vec![("100644", "pack.yaml", yaml.as_str())];
    let names = [
        ".GIT",
        ".Git",
        ".git.",
        "git~1",
        ".git::$INDEX_ALLOCATION",
        ".g\u{200c}it",
    ];
    for name in names {
        entries.push(("40000", name, inner.as_str()));
    }
    // The same spellings as files deeper down.
    let sub = repo.raw_tree(&[("100644", ".GIT", &config), ("100644", "kept.txt", &config)]);
    entries.push(("40000", "sub", sub.as_str()));
    entries.sort_by(|a, b| {
        let key = |(mode, name, _): &(&str, &str, &str)| {
            format!("{name}{}", if *mode == "40000" { "/" } else { "" })
        };
        key(a).cmp(&key(b))
    });
    let tree = repo.raw_tree(&entries);
    repo.commit_tree(&tree, "dotgit spellings");
    let out = f.install(&file_url(&repo.dir), None, &[]);
    let receipt = json(ok(&out, "install"));
    let installed = f.packs().join(PACK);
    for name in names {
        assert!(!installed.join(name).exists(), "{name} was installed");
    }
    assert!(!installed.join("sub/.GIT").exists());
    assert!(installed.join("sub/kept.txt").is_file());

    // The checksum of the same pack without the `.git` spellings.
    let clean = f.root.join("clean");
    std::fs::create_dir_all(clean.join("sub")).unwrap();
    std::fs::write(clean.join("pack.yaml"), pack_yaml("1.0.0")).unwrap();
    std::fs::write(
        clean.join("sub/kept.txt"),
        "[core]\n\thooksPath = /tmp/evil\n",
    )
    .unwrap();
    let sum = Command::new(BIN)
        .arg("checksum")
        .arg(&clean)
        .output()
        .unwrap();
    let sum = String::from_utf8_lossy(&sum.stdout).trim().to_owned();
    assert_eq!(receipt["checksum"]["content"], sum);
}

#[test]
fn a_tree_entry_named_dot_is_refused() {
    let f = fixture();
    for name in [".", ".."] {
        let repo = Repo::init(&f.root.join(format!("dot{}", name.len())));
        let yaml = repo.blob(pack_yaml("1.0.0").as_bytes());
        let evil = repo.blob(b"evil\n");
        let tree = repo.raw_tree(&[("100644", name, &evil), ("100644", "pack.yaml", &yaml)]);
        repo.commit_tree(&tree, "dot entry");
        let out = f.install(&file_url(&repo.dir), None, &[]);
        f.assert_refused(&out, 3, "unsafe_archive", "may not be named");
        let message = assert_error(&out, 3, "unsafe_archive");
        assert!(
            message.contains(&format!("unsafe entry `{name}`")),
            "{message}"
        );
    }
}

/// A repository of many packs (Attune's own keeps `packs/core`): the root is no pack, and
/// `--subdir` installs one of them from git, from an archive of the repository and from its
/// directory alike, with the same content checksum; the receipt and the lockfile record the
/// subdir, and `update` fetches the same directory again.
#[test]
fn subdir_installs_one_pack_of_a_monorepo_from_every_source_kind() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    let repo = Repo::init(&root.join("mono"));
    repo.write("README.md", "many packs\n");
    for (name, version) in [("core", "1.0.0"), ("other", "2.0.0")] {
        repo.write(
            &format!("packs/{name}/pack.yaml"),
            &format!("ref: {name}\nversion: {version}\n"),
        );
        repo.write(&format!("packs/{name}/actions/a.yaml"), "name: a\n");
    }
    repo.commit("packs");
    let tgz = root.join("mono.tgz");
    let status = Command::new("tar")
        .args([
            "czf",
            tgz.to_str().unwrap(),
            "-C",
            root.to_str().unwrap(),
            "mono/packs",
            "mono/README.md",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let run = |packs: &str, args: &[&str]| {
        Command::new(BIN)
            .arg("--packs-dir")
            .arg(root.join(packs))
            .args(args)
            .output()
            .unwrap()
    };
    let git_url = file_url(&repo.dir);
    let out = run("p-git", &["--json", "install", &git_url]);
    let message = assert_error(&out, 4, "pack_yaml_missing");
    assert!(
        message.contains("deeper in it: packs/core, packs/other"),
        "{message}"
    );
    assert!(text(&out).contains("--subdir packs/core"), "{}", text(&out));
    let expected = String::from_utf8(
        run(
            "p-git",
            &["checksum", repo.dir.join("packs/core").to_str().unwrap()],
        )
        .stdout,
    )
    .unwrap();
    let sources = [
        ("p-git", git_url.as_str(), "packs/core", "git"),
        // Inside the archive's top folder, `mono/`, whether it is named or not.
        (
            "p-tgz2",
            tgz.to_str().unwrap(),
            "packs/core",
            "local_archive",
        ),
        (
            "p-tgz",
            tgz.to_str().unwrap(),
            "mono/packs/core/",
            "local_archive",
        ),
        (
            "p-dir",
            repo.dir.to_str().unwrap(),
            "packs/core",
            "local_directory",
        ),
    ];
    for (packs, source, subdir, kind) in sources {
        let out = run(packs, &["--json", "install", source, "--subdir", subdir]);
        let receipt = json(ok(&out, source));
        assert_eq!(receipt["ref"], "core", "{receipt}");
        assert_eq!(receipt["source"]["kind"], kind, "{receipt}");
        assert_eq!(receipt["source"]["subdir"], subdir.trim_end_matches('/'));
        assert_eq!(receipt["checksum"]["content"], expected.trim(), "{source}");
        assert!(root.join(packs).join("core/actions/a.yaml").is_file());
        assert!(!root.join(packs).join("core/packs").exists());
    }
    // `show` says where in the source the pack came from, and when, in RFC 3339.
    let show = String::from_utf8(run("p-git", &["show", "core"]).stdout).unwrap();
    assert!(
        show.contains("subdir packs/core") && show.contains("commit "),
        "{show}"
    );
    let at = show
        .lines()
        .find(|l| l.starts_with("installed_at:"))
        .unwrap();
    assert!(at.contains('T') && at.ends_with('Z'), "{at}");
    let lock = root.join("lock.json");
    ok(
        &run("p-git", &["lock", "-o", lock.to_str().unwrap()]),
        "lock",
    );
    let locked: serde_json::Value = serde_json::from_slice(&std::fs::read(&lock).unwrap()).unwrap();
    assert_eq!(locked["packs"][0]["source"]["subdir"], "packs/core");
    ok(
        &run("p-git", &["install", "--locked", lock.to_str().unwrap()]),
        "locked",
    );
    // A new version of core: update fetches packs/core again, not the root.
    repo.write("packs/core/pack.yaml", "ref: core\nversion: 1.1.0\n");
    repo.commit("core 1.1.0");
    let out = run("p-git", &["--json", "update", "core", "--skip-tests"]);
    assert_eq!(json(ok(&out, "update"))["version"], "1.1.0");

    let out = run(
        "p-git",
        &["--json", "install", &git_url, "--subdir", "packs/nope"],
    );
    assert_error(&out, 4, "not_found");
    let out = run("p-git", &["install", &git_url, "--subdir", "../x"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}
