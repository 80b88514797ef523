//! A pack's own tests against the installer: they run in a throwaway copy, so nothing they
//! write reaches the installed pack; each runner's process group is gone when the install
//! returns, at a timeout too, without waiting for output a background process holds open;
//! signals stop an install cleanly with 128 + their number; a file-size limit is an error,
//! not a kill. Tests synchronise through files the runners write and pipes, never by sleeping.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use crate::support::packs::write_pack;
use crate::support::store::{consistent, packs as state_of};
use crate::support::{run, BIN};

/// A pack whose one test runner is `script` (a shell script; `PIDFILE` in it is replaced by
/// a path where the runner can write its pid, which is its process group).
fn pack_with_test(dir: &Path, version: &str, script: &str, timeout: u64) -> (PathBuf, PathBuf) {
    let pidfile = dir.join(format!("runner-{version}.pid"));
    let testing = format!(
        "testing:\n  runners:\n    t: {{type: script, entry_point: tests/t.sh, timeout: {timeout}}}\n"
    );
    let root = write_pack(dir, "p", version, &testing, 2);
    std::fs::create_dir_all(root.join("tests")).unwrap();
    let script = script.replace("PIDFILE", &pidfile.display().to_string());
    std::fs::write(root.join("tests/t.sh"), format!("#!/bin/sh\n{script}")).unwrap();
    (root, pidfile)
}

/// Runs the command on a thread and gives up (failing the test) if it never ends: a runner
/// that is not killed at its timeout would keep it waiting for ever.
fn run_to_end(packs: &Path, args: &[&str]) -> Output {
    let (packs, args): (PathBuf, Vec<String>) = (
        packs.to_owned(),
        args.iter().map(|a| a.to_string()).collect(),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let _ = tx.send(run(&packs, &args));
    });
    rx.recv_timeout(Duration::from_secs(300))
        .expect("the install did not end after its tests' timeout")
}

/// The runner's process group (from its pid file) has no process left.
fn assert_group_gone(pidfile: &Path) {
    let pid: i32 = std::fs::read_to_string(pidfile)
        .unwrap_or_else(|e| panic!("the runner did not write {}: {e}", pidfile.display()))
        .trim()
        .parse()
        .unwrap();
    // SAFETY: signal 0 only asks whether the group exists.
    let alive = unsafe { libc::killpg(pid, 0) } == 0;
    assert!(
        !alive,
        "process group {pid} of the pack's test runner is still there"
    );
}

#[test]
fn what_tests_write_never_reaches_the_installed_pack() {
    let tmp = tempfile::tempdir().unwrap();
    let packs = tmp.path().join("packs");
    // The runner writes a report, and leaves a process that would write another file later.
    let (pack, pidfile) = pack_with_test(
        tmp.path(),
        "1.0.0",
        "echo $$ > PIDFILE\necho report > report.log\nmkdir -p cache && echo x > cache/x\n(sleep 2; echo late > late.txt) &\necho ok\n",
        60,
    );
    let out = run_to_end(&packs, &["--json", "install", pack.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let receipt: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(receipt["tests"]["status"], "passed");
    assert_group_gone(&pidfile);
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
    let (pack, pidfile) = pack_with_test(
        tmp.path(),
        "1.0.0",
        "echo $$ > PIDFILE\necho started\nsleep 100000 &\nexec sleep 100000\n",
        1,
    );
    let out = run_to_end(&packs, &["--json", "install", pack.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(5));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"]["code"], "tests_failed");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(message.contains("timed out after 1 s"), "{message}");
    assert_group_gone(&pidfile);
    assert_eq!(consistent(&packs), state_of(&[]));
}

#[test]
fn test_output_is_shown_with_control_characters_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let packs = tmp.path().join("packs");
    let (pack, _) = pack_with_test(
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

/// Starts an install of `pack` and returns once its test runner has started.
fn start_install(packs: &Path, pack: &Path, pidfile: &Path) -> Child {
    let mut child = Command::new(BIN)
        .arg("--packs-dir")
        .arg(packs)
        .args(["-v", "install", "--force"])
        .arg(pack)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains("running pack tests") {
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    // The runner writes its pid first thing; the pipe it reads is the sign it did.
    let fifo = pidfile.with_extension("ready");
    let _ = std::fs::read(&fifo);
    child
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
        let ready = tmp.path().join("runner-2.0.0.ready");
        let made = Command::new("mkfifo").arg(&ready).status().unwrap();
        assert!(made.success());
        let (pack, pidfile) = pack_with_test(
            tmp.path(),
            "2.0.0",
            &format!(
                "echo $$ > PIDFILE\necho go > {}\nexec sleep 100000\n",
                ready.display()
            ),
            600,
        );
        let mut child = start_install(&packs, &pack, &pidfile);
        // SAFETY: sending a signal to the child this test started.
        assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code), "SIG{name}");
        assert_group_gone(&pidfile);
        assert_eq!(consistent(&packs), state_of(&[("p", "1.0.0")]), "SIG{name}");
    }
}

/// With a file-size limit, the write that passes it fails with EFBIG: a clean error, not a
/// death by SIGXFSZ that leaves staging behind.
#[test]
fn a_file_size_limit_is_an_error_that_leaves_nothing() {
    use std::os::unix::process::CommandExt;
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
