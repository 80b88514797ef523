//! Fault injection at every step of a commit, an uninstall and their recovery (the binary
//! built with the `failpoints` feature): each step fails once with EIO, fails for good with
//! ENOSPC, or kills the process. After each, the outcome reported is the outcome on disk:
//! exit 0 means the new state is in place with its receipt; a failure means the old state
//! (at once for a one-time fault, after the next command's recovery otherwise); a kill means
//! one of the two after the next command. The next command always leaves a consistent store.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::support::in_process::Faults;
use crate::support::packs::write_pack;
use crate::support::store::{history, packs, recovered, state, State};
use crate::support::BIN;

/// Every named step of an install's commit (and its undo).
const COMMIT_POINTS: &[&str] = &[
    "listing.write",
    "journal.create",
    "journal.append",
    "commit.displace",
    "commit.activate",
    "commit.kept_receipt",
    "commit.receipt",
    "fs.sync_dir",
    "journal.remove",
    "prune.remove",
    "trash.move",
    "trash.purge",
    "history.append",
    "undo.rename",
    "undo.receipt",
];

/// Every named step of an uninstall (and its undo).
const UNINSTALL_POINTS: &[&str] = &[
    "journal.create",
    "journal.append",
    "uninstall.detach",
    "uninstall.versions",
    "private.remove",
    "undo.receipt",
    "undo.rename",
    "fs.sync_dir",
    "trash.move",
    "trash.purge",
    "journal.remove",
    "history.append",
];

/// Every named step of a rollback (and its undo).
const ROLLBACK_POINTS: &[&str] = &[
    "journal.create",
    "journal.append",
    "rollback.displace",
    "rollback.activate",
    "rollback.kept_receipt",
    "rollback.receipt",
    "rollback.forget",
    "fs.sync_dir",
    "journal.remove",
    "prune.remove",
    "trash.purge",
    "history.append",
    "undo.rename",
    "undo.receipt",
];

/// Every named step of a locked install: a set of two packs committed as one.
const LOCKED_POINTS: &[&str] = &[
    "private.write",
    "listing.write",
    "private.remove",
    "uninstall.detach",
    "uninstall.versions",
    "journal.create",
    "journal.append",
    "commit.displace",
    "commit.activate",
    "commit.kept_receipt",
    "commit.receipt",
    "fs.sync_dir",
    "journal.remove",
    "prune.remove",
    "trash.purge",
    "history.append",
    "undo.rename",
    "undo.receipt",
];

/// The steps recovery takes (finishing or undoing), and the sweep after it.
const RECOVERY_POINTS: &[&str] = &[
    "commit.kept_receipt",
    "commit.receipt",
    "rollback.kept_receipt",
    "rollback.receipt",
    "rollback.forget",
    "undo.rename",
    "undo.receipt",
    "uninstall.versions",
    "trash.move",
    "trash.purge",
    "journal.remove",
    "sweep.remove",
    "prune.remove",
    "history.append",
    "fs.sync_dir",
];

#[derive(Debug, Clone, Copy)]
enum Scenario {
    /// Nothing installed; install 1.0.0.
    Fresh,
    /// 1.0.0 active (0.9.0 kept); install 2.0.0 with --force.
    Reinstall,
    /// 1.0.0 active (0.9.0 kept); uninstall.
    Uninstall,
    /// 1.0.0 active (0.9.0 kept); roll back to 0.9.0.
    Rollback,
    /// 1.0.0 active (0.9.0 kept), and r 1.0.0 (0.9.0 kept); `install --locked --exact` a
    /// lockfile of p 2.0.0 and q 1.0.0 (r is removed).
    Locked,
}

struct Env {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    packs: PathBuf,
}

impl Env {
    fn new(scenario: Scenario) -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_owned();
        let env = Env {
            packs: root.join("packs"),
            root,
            _tmp: tmp,
        };
        for v in ["0.9.0", "1.0.0", "2.0.0"] {
            write_pack(&env.root, "p", v, "", 3);
        }
        write_pack(&env.root, "q", "1.0.0", "", 3);
        if matches!(scenario, Scenario::Locked) {
            for v in ["0.9.0", "1.0.0"] {
                let r = write_pack(&env.root, "r", v, "", 3).display().to_string();
                env.ok(&["install", "--force", &r], "");
            }
            // The lockfile, from a store that holds the set.
            let other = env.root.join("other");
            for args in [
                vec!["install".to_owned(), env.pack("2.0.0"), env.pack_q()],
                vec!["lock".into(), "-o".into(), env.lockfile()],
            ] {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let out = Command::new(BIN)
                    .arg("--packs-dir")
                    .arg(&other)
                    .args(&args)
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{args:?}");
            }
        }
        if !matches!(scenario, Scenario::Fresh) {
            env.ok(&["install", &env.pack("0.9.0")], "");
            env.ok(&["install", "--force", &env.pack("1.0.0")], "");
        }
        env
    }

    fn pack_q(&self) -> String {
        self.root.join("q-1.0.0").display().to_string()
    }

    fn lockfile(&self) -> String {
        self.root.join("packs.lock.json").display().to_string()
    }

    fn pack(&self, version: &str) -> String {
        self.root.join(format!("p-{version}")).display().to_string()
    }

    fn run(&self, args: &[&str], faults: &str) -> Output {
        Command::new(BIN)
            .arg("--packs-dir")
            .arg(&self.packs)
            .args(args)
            .env("ATTUNE_PACK_FAILPOINTS", faults)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str], faults: &str) {
        let out = self.run(args, faults);
        assert!(
            out.status.success(),
            "{args:?} with {faults:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn command(&self, scenario: Scenario) -> Vec<String> {
        match scenario {
            Scenario::Fresh => vec!["install".into(), self.pack("1.0.0")],
            Scenario::Reinstall => vec!["install".into(), "--force".into(), self.pack("2.0.0")],
            Scenario::Uninstall => vec!["uninstall".into(), "p".into()],
            Scenario::Rollback => vec!["rollback".into(), "p".into()],
            Scenario::Locked => vec![
                "install".into(),
                "--locked".into(),
                self.lockfile(),
                "--exact".into(),
            ],
        }
    }
}

fn before(scenario: Scenario) -> State {
    match scenario {
        Scenario::Fresh => packs(&[]),
        Scenario::Locked => packs(&[("p", "1.0.0"), ("r", "1.0.0")]),
        _ => packs(&[("p", "1.0.0")]),
    }
}

fn after(scenario: Scenario) -> State {
    match scenario {
        Scenario::Fresh => packs(&[("p", "1.0.0")]),
        Scenario::Reinstall => packs(&[("p", "2.0.0")]),
        Scenario::Uninstall => packs(&[]),
        Scenario::Rollback => packs(&[("p", "0.9.0")]),
        Scenario::Locked => packs(&[("p", "2.0.0"), ("q", "1.0.0")]),
    }
}

/// What a store in the state `before(scenario)` must still hold besides its active packs:
/// the kept versions (an undone set gives the packs it was removing back whole).
fn kept_as_before(scenario: Scenario, env: &Env) {
    let versions = env.packs.join(".attune-pack/versions");
    let kept = |pack: &str| {
        std::fs::read_dir(versions.join(pack))
            .map(|d| d.filter(|e| e.as_ref().unwrap().path().is_dir()).count())
            .unwrap_or(0)
    };
    if let Scenario::Locked = scenario {
        assert_eq!((kept("p"), kept("r")), (1, 1), "kept versions lost");
    }
}

/// Whether `now` is the state before the change, whole; else it must be the state after.
fn is_before(scenario: Scenario, env: &Env, now: &State) -> bool {
    if *now == before(scenario) {
        kept_as_before(scenario, env);
        return true;
    }
    assert_eq!(
        *now,
        after(scenario),
        "{scenario:?}: neither before nor after"
    );
    false
}

fn fired(out: &Output, point: &str) -> bool {
    String::from_utf8_lossy(&out.stderr).contains(&format!("failpoint {point} fired"))
}

fn killed(out: &Output) -> bool {
    use std::os::unix::process::ExitStatusExt;
    out.status.signal() == Some(9)
}

/// [`recovered`]: the store after the next command, with no fault.
fn recover(env: &Env) -> State {
    recovered(&env.packs)
}

/// One fault at one hit of one point; returns whether the point was reached that often.
fn inject(scenario: Scenario, point: &str, hit: u32, action: &str) -> bool {
    let env = Env::new(scenario);
    let spec = match action {
        // Persistent: every hit from this one on.
        "enospc" => format!("{point}=enospc@{hit}+"),
        _ => format!("{point}={action}@{hit}"),
    };
    let args = env.command(scenario);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = env.run(&args, &spec);
    if !fired(&out, point) {
        return false;
    }
    let what = format!("{scenario:?} with {spec}");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if killed(&out) {
        is_before(scenario, &env, &recover(&env));
        return true;
    }
    if out.status.success() {
        assert_eq!(
            state(&env.packs),
            after(scenario),
            "{what}: reported success\n{stderr}"
        );
        assert_eq!(
            recover(&env),
            after(scenario),
            "{what}: success, then recovery"
        );
    } else {
        assert!(
            stderr.contains("error:"),
            "{what}: failed without an error\n{stderr}"
        );
        if action == "eio" {
            // A one-time fault: the failed command has put the store back itself.
            assert_eq!(
                state(&env.packs),
                before(scenario),
                "{what}: reported failure\n{stderr}"
            );
        }
        let now = recover(&env);
        assert!(
            is_before(scenario, &env, &now),
            "{what}: failure, then recovery\n{stderr}"
        );
        let last = history(&env.packs).pop();
        assert!(
            last.is_some_and(|r| r["outcome"] == "failed" || r["outcome"] == "recovered")
                || point == "history.append",
            "{what}: the failure is not in the history"
        );
    }
    true
}

fn every_fault(scenario: Scenario, points: &[&str]) {
    let mut injected = 0;
    for point in points {
        for hit in 1.. {
            let mut reached = false;
            for action in ["eio", "enospc", "crash"] {
                if inject(scenario, point, hit, action) {
                    reached = true;
                    injected += 1;
                }
            }
            if !reached {
                break;
            }
        }
    }
    // Every point listed is reached at least once by this scenario or another.
    assert!(
        injected >= points.len(),
        "{scenario:?}: only {injected} faults injected"
    );
    eprintln!("{scenario:?}: {injected} faults injected and held");
}

#[test]
fn every_fault_of_a_fresh_install_holds() {
    every_fault(Scenario::Fresh, COMMIT_POINTS);
}

#[test]
fn every_fault_of_a_reinstall_holds() {
    every_fault(Scenario::Reinstall, COMMIT_POINTS);
}

#[test]
fn every_fault_of_an_uninstall_holds() {
    every_fault(Scenario::Uninstall, UNINSTALL_POINTS);
}

#[test]
fn every_fault_of_a_rollback_holds() {
    every_fault(Scenario::Rollback, ROLLBACK_POINTS);
}

/// A set is all or nothing: never one pack of it without the other.
#[test]
fn every_fault_of_a_locked_install_holds() {
    every_fault(Scenario::Locked, LOCKED_POINTS);
}

/// A kill at each step of a change, then a recovery that itself fails or is killed at each of
/// its steps, then a clean recovery: the store ends consistent, old or new.
#[test]
fn recovery_survives_faults_and_kills_of_its_own() {
    let mut injected = 0;
    for scenario in [
        Scenario::Reinstall,
        Scenario::Uninstall,
        Scenario::Rollback,
        Scenario::Locked,
    ] {
        let points = match scenario {
            Scenario::Uninstall => UNINSTALL_POINTS,
            Scenario::Rollback => ROLLBACK_POINTS,
            Scenario::Locked => LOCKED_POINTS,
            _ => COMMIT_POINTS,
        };
        for point in points {
            for fault in RECOVERY_POINTS {
                for action in ["eio", "crash"] {
                    let env = Env::new(scenario);
                    let args = env.command(scenario);
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    let out = env.run(&args, &format!("{point}=crash@1"));
                    if !killed(&out) {
                        break;
                    }
                    let out = env.run(
                        &["uninstall", "not-installed"],
                        &format!("{fault}={action}@1"),
                    );
                    if !fired(&out, fault) {
                        continue;
                    }
                    injected += 1;
                    is_before(scenario, &env, &recover(&env));
                }
            }
        }
    }
    assert!(injected > 0);
    eprintln!("recovery: {injected} faults injected and held");
}

/// The embedding program's view: `after_commit` fires exactly when `install` returns `Ok`,
/// `on_abort` when it returns `Err`, under a fault at each step of the commit.
#[test]
fn hooks_see_the_outcome_on_disk() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use attune_pack::{DetectOptions, Error, InstallHooks, InstallOptions, Installer, PackSource};

    #[derive(Default)]
    struct Count {
        committed: AtomicUsize,
        aborted: AtomicUsize,
    }
    #[async_trait::async_trait]
    impl InstallHooks for Count {
        async fn after_commit(&self, _c: &attune_pack::PendingChange) {
            self.committed.fetch_add(1, Ordering::SeqCst);
        }
        async fn on_abort(&self, _c: &attune_pack::PendingChange, _e: &Error) {
            self.aborted.fetch_add(1, Ordering::SeqCst);
        }
    }

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut checked = 0;
    for point in COMMIT_POINTS {
        for action in ["eio", "enospc"] {
            let env = Env::new(Scenario::Reinstall);
            let hooks = Arc::new(Count::default());
            let installer = Installer::builder()
                .packs_dir(&env.packs)
                .hooks(hooks.clone())
                .build()
                .unwrap();
            let source = PackSource::detect(&env.pack("2.0.0"), &DetectOptions::new()).unwrap();
            let spec = match action {
                "enospc" => format!("{point}=enospc@1+"),
                _ => format!("{point}=eio@1"),
            };
            let result = {
                let _faults = Faults::arm(&spec);
                runtime.block_on(installer.install(source, InstallOptions::new().force()))
            };
            let (committed, aborted) = (
                hooks.committed.load(Ordering::SeqCst),
                hooks.aborted.load(Ordering::SeqCst),
            );
            match result {
                Ok(_) => {
                    assert_eq!((committed, aborted), (1, 0), "{spec}");
                    assert_eq!(state(&env.packs), after(Scenario::Reinstall), "{spec}");
                }
                Err(e) => {
                    assert_eq!((committed, aborted), (0, 1), "{spec}: {e}");
                    assert_eq!(recover(&env), before(Scenario::Reinstall), "{spec}: {e}");
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 0);
}

/// A file of the staged pack that cannot be synced fails the install before anything in the
/// store changes (a kill there leaves only staging, which the next command empties).
#[test]
fn a_staged_file_that_cannot_reach_the_disk_installs_nothing() {
    for action in ["eio", "crash"] {
        let env = Env::new(Scenario::Reinstall);
        let args = env.command(Scenario::Reinstall);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = env.run(&args, &format!("staging.sync={action}@2"));
        assert!(fired(&out, "staging.sync"), "{action}");
        if action == "eio" {
            assert_eq!(out.status.code(), Some(1), "{action}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains("syncing") && stderr.contains("Input/output error"),
                "{stderr}"
            );
            assert_eq!(state(&env.packs), before(Scenario::Reinstall));
        } else {
            assert!(killed(&out));
        }
        assert_eq!(recover(&env), before(Scenario::Reinstall), "{action}");
    }
}

/// Tidying that fails while recovering (removing a staging leftover, pruning) is a warning:
/// the command goes on, the store is consistent, and the next command tidies.
#[test]
fn tidying_that_fails_during_recovery_is_a_warning() {
    let env = Env::new(Scenario::Reinstall);
    let args = env.command(Scenario::Reinstall);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert!(killed(&env.run(&args, "staging.sync=crash@1")));
    let out = env.run(&["uninstall", "not-installed"], "trash.purge=eio");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(fired(&out, "trash.purge"), "{stderr}");
    assert_eq!(out.status.code(), Some(4), "the command goes on: {stderr}");
    assert!(stderr.contains("could not tidy the pack store"), "{stderr}");
    assert_eq!(state(&env.packs), before(Scenario::Reinstall));
    assert_eq!(recover(&env), before(Scenario::Reinstall));
}

/// A read-only command finds the journal of a change killed half way: it recovers it (it may
/// write the store) before it reads, so it never shows the change half made.
#[test]
fn a_read_only_command_recovers_before_it_reads() {
    let env = Env::new(Scenario::Reinstall);
    let args = env.command(Scenario::Reinstall);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert!(killed(&env.run(&args, "commit.activate=crash@1")));
    assert!(env.packs.join(".attune-pack/journal.jsonl").exists());
    let out = env.run(&["--json", "list"], "");
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("was undone"), "{stderr}");
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["version"], "1.0.0");
    assert!(!env.packs.join(".attune-pack/journal.jsonl").exists());
    assert_eq!(state(&env.packs), before(Scenario::Reinstall));
}

/// A reader that may not write the store (another user's store) cannot recover a change
/// killed half way: it shows the store as it is, with a warning that says so, and changes
/// nothing. Its owner's next command recovers it.
#[test]
fn a_reader_that_cannot_write_shows_the_store_as_it_is_with_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new(Scenario::Reinstall);
    let args = env.command(Scenario::Reinstall);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert!(killed(&env.run(&args, "commit.activate=crash@1")));
    let journal = env.packs.join(".attune-pack/journal.jsonl");
    assert!(journal.exists());
    // Readable by all (the store's files are 0644), writable by its owner only.
    std::fs::set_permissions(&env.root, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
        .arg("--packs-dir")
        .arg(&env.packs)
        .args(["--json", "list"])
        .env("HOME", "/nonexistent")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("an interrupted change could not be recovered")
            && stderr.contains("showing the store as it is"),
        "{stderr}"
    );
    assert!(journal.exists(), "the reader changed nothing");
    assert_eq!(recover(&env), before(Scenario::Reinstall));
}
