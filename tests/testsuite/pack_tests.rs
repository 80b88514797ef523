//! A pack's own tests against the installer: they run in a throwaway copy, so nothing they
//! write reaches the installed pack; they are untrusted code, so they see none of the
//! caller's secrets, cannot write outside their copy, run as `nobody` under root, and leave
//! no process behind, `setsid` daemons included; each runner's process group is gone when
//! the install returns, at a timeout too, without waiting for output a background process
//! holds open; signals stop an install cleanly with 128 + their number; a file-size limit is
//! an error, not a kill. Tests synchronise through a pipe the runners write to as their
//! descriptor 3 (the one way out of their sandbox), never by sleeping.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use crate::support::packs::write_pack;
use crate::support::store::{consistent, packs as state_of};
use crate::support::{run, BIN};

/// A pack whose one test runner is `script` (a shell script, which may write to the
/// report pipe as `>&3`).
fn pack_with_test(dir: &Path, version: &str, script: &str, timeout: u64) -> PathBuf {
    pack_with_testing(dir, version, script, &format!("timeout: {timeout}"), "")
}

/// Like [`pack_with_test`], with more of the runner's fields and of the `testing` section.
fn pack_with_testing(dir: &Path, version: &str, script: &str, fields: &str, more: &str) -> PathBuf {
    let testing = format!(
        "testing:\n  runners:\n    t: {{type: script, entry_point: tests/t.sh, {fields}}}\n{more}"
    );
    let root = write_pack(dir, "p", version, &testing, 2);
    std::fs::create_dir_all(root.join("tests")).unwrap();
    std::fs::write(root.join("tests/t.sh"), format!("#!/bin/sh\n{script}")).unwrap();
    root
}

/// Starts `cmd` with a pipe as its descriptor 3, which the pack's test runner inherits;
/// returns the read end.
fn spawn_reporting(cmd: &mut Command) -> (Child, BufReader<File>) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two-int array.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both descriptors were just made and are owned here alone.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let fd = fds[1];
    // SAFETY: dup2 is async-signal-safe; the copy at 3 is not closed on exec.
    unsafe {
        cmd.pre_exec(move || match libc::dup2(fd, 3) {
            3 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        });
    }
    let child = cmd.spawn().unwrap();
    drop(write);
    (child, BufReader::new(File::from(read)))
}

/// Runs the command on a thread and gives up (failing the test) if it never ends, or if
/// something it started still holds the report pipe open afterwards; returns its output and
/// what its runners reported.
fn run_to_end(packs: &Path, args: &[&str], env: &[(&str, &str)]) -> (Output, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("--packs-dir").arg(packs).args(args);
    cmd.envs(env.iter().copied());
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let (child, mut report) = spawn_reporting(&mut cmd);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let out = child.wait_with_output().unwrap();
        let mut text = String::new();
        report.read_to_string(&mut text).unwrap();
        let _ = tx.send((out, text));
    });
    rx.recv_timeout(Duration::from_secs(300))
        .expect("the install did not end, or a process its tests started outlived it")
}

/// The pids a runner reported (`echo $$ >&3`) are all gone.
fn assert_gone(report: &str) {
    let pids: Vec<i32> = report
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert!(!pids.is_empty(), "the runner reported no pid: {report:?}");
    for pid in pids {
        // SAFETY: signal 0 only asks whether the process (or group) exists.
        let alive = unsafe { libc::kill(pid, 0) == 0 || libc::killpg(pid, 0) == 0 };
        assert!(
            !alive,
            "process {pid} the pack's tests started is still there"
        );
    }
}

#[test]
fn what_tests_write_never_reaches_the_installed_pack() {
    let tmp = tempfile::tempdir().unwrap();
    let packs = tmp.path().join("packs");
    // The runner writes a report, and leaves a process that would write another file later.
    let pack = pack_with_test(
        tmp.path(),
        "1.0.0",
        "echo $$ >&3\necho report > report.log\nmkdir -p cache && echo x > cache/x\n(sleep 2; echo late > late.txt) &\necho ok\n",
        60,
    );
    let (out, report) = run_to_end(&packs, &["--json", "install", pack.to_str().unwrap()], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let receipt: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(receipt["tests"]["status"], "passed");
    assert_gone(&report);
    for left in ["report.log", "cache", "late.txt"] {
        assert!(
            !packs.join("p").join(left).exists(),
            "{left} reached the installed pack"
        );
    }
    // The receipt's content checksum is the installed directory's (checked by consistent()).
    assert_eq!(consistent(&packs), state_of(&[("p", "1.0.0")]));
}

#[test]
fn a_timeout_kills_the_runner_group_without_waiting_for_its_output() {
    let tmp = tempfile::tempdir().unwrap();
    let packs = tmp.path().join("packs");
    // A background process holds the output pipes open; the runner itself never ends.
    let pack = pack_with_test(
        tmp.path(),
        "1.0.0",
        "echo $$ >&3\necho started\nsleep 100000 &\nexec sleep 100000\n",
        1,
    );
    let (out, report) = run_to_end(&packs, &["--json", "install", pack.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(5));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"]["code"], "tests_failed");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(message.contains("timed out after 1 s"), "{message}");
    assert_gone(&report);
    assert_eq!(consistent(&packs), state_of(&[]));
}

#[test]
fn test_output_is_shown_with_control_characters_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let packs = tmp.path().join("packs");
    let pack = pack_with_test(
        tmp.path(),
        "1.0.0",
        "printf 'boom \\033]0;owned\\007 \\033[2J done\\n'\nexit 1\n",
        60,
    );
    let out = run(&packs, &["install", pack.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains('\x1b') && !stderr.contains('\x07'),
        "{stderr:?}"
    );
    assert!(stderr.contains("boom \\u{1b}]0;owned\\u{7}"), "{stderr}");
}

/// Starts an install of `pack` and returns once its test runner has started, with the pid
/// it reported.
fn start_install(packs: &Path, pack: &Path) -> (Child, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("--packs-dir")
        .arg(packs)
        .args(["-v", "install", "--force"])
        .arg(pack)
        .stderr(Stdio::null())
        .stdout(Stdio::null());
    let (child, mut report) = spawn_reporting(&mut cmd);
    // The runner writes its pid first thing: the line is the sign it started.
    let mut pid = String::new();
    report.read_line(&mut pid).unwrap();
    (child, pid)
}

#[test]
fn sigint_sigterm_and_sighup_stop_an_install_cleanly() {
    for (signal, name, code) in [
        (libc::SIGINT, "INT", 130),
        (libc::SIGTERM, "TERM", 143),
        (libc::SIGHUP, "HUP", 129),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let packs = tmp.path().join("packs");
        let old = write_pack(tmp.path(), "p", "1.0.0", "", 1);
        assert!(run(&packs, &["install", old.to_str().unwrap()])
            .status
            .success());
        let script = "echo $$ >&3\nexec sleep 100000\n";
        let pack = pack_with_test(tmp.path(), "2.0.0", script, 600);
        let (mut child, pid) = start_install(&packs, &pack);
        // SAFETY: sending a signal to the child this test started.
        assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code), "SIG{name}");
        assert_gone(&pid);
        assert_eq!(consistent(&packs), state_of(&[("p", "1.0.0")]), "SIG{name}");
    }
}

/// With a file-size limit, the write that passes it fails with EFBIG: a clean error, not a
/// death by SIGXFSZ that leaves staging behind.
#[test]
fn a_file_size_limit_is_an_error_that_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let packs = tmp.path().join("packs");
    let pack = write_pack(tmp.path(), "p", "1.0.0", "", 1);
    std::fs::write(pack.join("big.bin"), vec![7u8; 4 << 20]).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.arg("--packs-dir").arg(&packs).arg("install").arg(&pack);
    // SAFETY: setrlimit is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 1 << 20,
                rlim_max: 1 << 20,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &limit);
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("File too large"), "{stderr}");
    assert_eq!(consistent(&packs), state_of(&[]));
}

/// As root, the user the tests run as: `nobody`'s uid; otherwise this process's.
fn expected_uid() -> String {
    // SAFETY: geteuid cannot fail.
    let user: &[&str] = match unsafe { libc::geteuid() } {
        0 => &["-u", "nobody"],
        _ => &["-u"],
    };
    let out = Command::new("id").args(user).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn tests_see_none_of_the_callers_secrets_and_run_as_nobody_under_root() {
    let tmp = tempfile::tempdir().unwrap();
    let packs = tmp.path().join("packs");
    let config = tmp.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "pack_registry:\n  indices:\n    - url: {}\n      headers: {{Authorization: \"Bearer ${{REGISTRY_TOKEN}}\"}}\n\
             test_env: [REGISTRY_TOKEN, HTTPS_PROXY, ATTUNE_API_TOKEN, CALLER_PLAIN]\n",
            tmp.path().join("no-index").display()
        ),
    )
    .unwrap();
    let pack = pack_with_testing(
        tmp.path(),
        "1.0.0",
        "id -u >&3\nenv >&3\n",
        "timeout: 60",
        "  env: {PACK_OWN: from-the-pack}\n",
    );
    let (out, report) = run_to_end(
        &packs,
        &[
            "--config",
            config.to_str().unwrap(),
            "--json",
            "install",
            pack.to_str().unwrap(),
        ],
        &[
            ("ATTUNE_API_TOKEN", "api-token-1f3a"),
            ("REGISTRY_TOKEN", "registry-token-77c2"),
            (
                "HTTPS_PROXY",
                "http://user:proxy-password-9d@proxy.example:3128",
            ),
            (
                "https_proxy",
                "http://user:proxy-password-9d@proxy.example:3128",
            ),
            ("CALLER_UNNAMED", "not-asked-for-5e"),
            ("CALLER_PLAIN", "asked-for"),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for secret in [
        "api-token-1f3a",
        "registry-token-77c2",
        "proxy-password-9d",
        "not-asked-for-5e",
    ] {
        assert!(
            !report.contains(secret),
            "the tests saw {secret}:\n{report}"
        );
    }
    let mut lines = report.lines();
    assert_eq!(lines.next(), Some(expected_uid().as_str()), "{report}");
    let env: Vec<&str> = lines.collect();
    for expected in [
        "CALLER_PLAIN=asked-for",
        "PACK_OWN=from-the-pack",
        "PYTHONDONTWRITEBYTECODE=1",
    ] {
        assert!(env.contains(&expected), "{expected} missing:\n{report}");
    }
    assert!(
        stderr.contains("not passed to the pack's tests, being secrets attune-pack may hold: REGISTRY_TOKEN, HTTPS_PROXY, ATTUNE_API_TOKEN"),
        "{stderr}"
    );
}

/// Everything under `dir` named `name`.
fn found(dir: &Path, name: &str) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_name() == name)
        .map(|e| e.path().to_owned())
        .collect()
}

/// Tries every write a test should not be able to make, reporting each as `refused` or
/// `WRITTEN` on the report pipe.
const HOSTILE: &str = r#"try() { if sh -c "$1" 2>/dev/null; then echo "WRITTEN: $1" >&3; else echo "refused: $1" >&3; fi; }
try 'echo x > ../../../escaped'
try 'echo x > PACKS/.attune-pack/escaped'
try 'echo x > PACKS/escaped'
for d in $(find PACKS/.attune-pack -type d 2>/dev/null); do try "echo x > $d/escaped"; done
for f in $(find PACKS/.attune-pack -type f 2>/dev/null); do try "echo tampered >> $f"; done
echo x > mine && echo "own copy: writable" >&3
"#;

/// The kernel has Landlock (its ABI version asked of `landlock_create_ruleset`).
fn kernel_has_landlock() -> bool {
    // SAFETY: with LANDLOCK_CREATE_RULESET_VERSION the call only returns a number.
    unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, 0usize, 0usize, 1u32) > 0 }
}

#[test]
fn tests_cannot_write_outside_their_copy_and_what_is_installed_is_what_was_verified() {
    // Once as this kernel allows (Landlock where it has it), once with Landlock turned off:
    // the read-only fallback, as another user when this is root.
    for failpoints in ["", "pack_tests.landlock=eio"] {
        let tmp = tempfile::tempdir().unwrap();
        // Reachable by `nobody`, so that what keeps it out is the sandbox.
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let packs = tmp.path().join("packs");
        let script = HOSTILE.replace("PACKS", &packs.display().to_string());
        let pack = pack_with_test(tmp.path(), "1.0.0", &script, 60);
        let (out, report) = run_to_end(
            &packs,
            &["--json", "install", pack.to_str().unwrap()],
            &[("ATTUNE_PACK_FAILPOINTS", failpoints)][..usize::from(!failpoints.is_empty())],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{failpoints}: {stderr}");
        let receipt: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let sandbox = receipt["tests"]["sandbox"].as_str().unwrap();
        match failpoints {
            "" if kernel_has_landlock() => assert_eq!(sandbox, "landlock"),
            "" => assert!(["readonly", "none"].contains(&sandbox), "{sandbox}"),
            _ => assert_ne!(sandbox, "landlock"),
        }
        assert!(report.contains("own copy: writable"), "{report}");
        let store = format!("refused: echo x > {}/.attune-pack/escaped", packs.display());
        assert!(
            report.contains("refused: echo x > ../../../escaped"),
            "{report}"
        );
        assert!(report.contains(&store), "{report}");
        assert!(
            !report.contains("WRITTEN"),
            "{failpoints} ({sandbox}):\n{report}"
        );
        assert_eq!(found(tmp.path(), "escaped"), Vec::<PathBuf>::new());
        let source = Command::new(BIN)
            .arg("checksum")
            .arg(&pack)
            .output()
            .unwrap();
        let installed = Command::new(BIN)
            .arg("checksum")
            .arg(packs.join("p"))
            .output()
            .unwrap();
        assert!(source.status.success() && !source.stdout.is_empty());
        assert_eq!(source.stdout, installed.stdout, "{failpoints}");
        assert_eq!(consistent(&packs), state_of(&[("p", "1.0.0")]));
    }
}

#[test]
fn a_setsid_daemon_a_test_starts_is_gone_when_the_install_returns() {
    let tmp = tempfile::tempdir().unwrap();
    let packs = tmp.path().join("packs");
    // One in a new session, one double-forked into another: neither in the runner's group.
    // The runner ends only once both have reported (through files in its own copy).
    let script = "setsid sh -c 'echo $$ >&3; touch a; exec sleep 100000' &\n\
                  (setsid sh -c 'echo $$ >&3; touch b; exec sleep 100000' &)\n\
                  while [ ! -e a ] || [ ! -e b ]; do sleep 0.01; done\n";
    let pack = pack_with_test(tmp.path(), "1.0.0", script, 60);
    let (out, report) = run_to_end(&packs, &["--json", "install", pack.to_str().unwrap()], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The report pipe closed, so nothing holds it open; and the daemons' pids are gone.
    assert_eq!(report.lines().count(), 2, "{report}");
    assert_gone(&report);
}
