//! The durable commit, observed in the system calls of a real install (strace): every file
//! and directory written in staging is synced before the rename that makes the pack active,
//! the packs directory is synced after it, and no `sync`/`syncfs` of the whole file system is
//! ever made. `sync: false` skips the flushes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use crate::support::packs::write_pack;
use crate::support::BIN;

/// The calls that matter, in order, with paths resolved from the descriptors.
#[derive(Debug, Default)]
struct Trace {
    /// Files created in the staged tree.
    created: BTreeSet<String>,
    /// Directories created in staging.
    dirs: BTreeSet<String>,
    /// Paths synced, with the position of the sync.
    synced: BTreeMap<String, usize>,
    /// Position of the rename of the staged tree into place.
    activated: Option<usize>,
    /// Positions of syncs of the packs directory.
    packs_synced: Vec<usize>,
    whole_fs_syncs: usize,
}

fn traced_install(packs: &Path, pack: &Path, config: Option<&Path>) -> Trace {
    let log = packs.with_extension("strace");
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qq", "-s", "4096", "-o"])
        .arg(&log)
        .args([
            "-e",
            "trace=openat,mkdir,mkdirat,fsync,fdatasync,sync,syncfs,rename,renameat,renameat2",
        ])
        .arg(BIN)
        .arg("--packs-dir")
        .arg(packs);
    if let Some(config) = config {
        cmd.arg("--config").arg(config);
    }
    let out = cmd
        .args(["install", "--skip-tests"])
        .arg(pack)
        .output()
        .expect("strace must be installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse(&std::fs::read_to_string(&log).unwrap(), packs)
}

fn quoted(line: &str, n: usize) -> Option<String> {
    line.split('"').nth(2 * n + 1).map(str::to_owned)
}

fn result(line: &str) -> Option<i64> {
    line.rsplit(" = ")
        .next()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn parse(log: &str, packs: &Path) -> Trace {
    let packs = packs.display().to_string();
    let staging = format!("{packs}/.attune-pack/staging/");
    let mut trace = Trace::default();
    // (pid, fd) would be exact, but threads share descriptors: fd alone is.
    let mut open: BTreeMap<i64, String> = BTreeMap::new();
    let mut unfinished: BTreeMap<String, String> = BTreeMap::new();
    for (i, raw) in log.lines().enumerate() {
        // A call interrupted by another thread's is logged in two pieces: join them.
        let pid = raw.split_whitespace().next().unwrap_or("").to_owned();
        if let Some(head) = raw.strip_suffix(" <unfinished ...>") {
            unfinished.insert(pid, head.to_owned());
            continue;
        }
        let joined;
        let line = match raw.split_once(" resumed>") {
            Some((_, tail)) if raw.contains("<... ") => {
                joined = format!("{}{tail}", unfinished.remove(&pid).unwrap_or_default());
                joined.as_str()
            }
            _ => raw,
        };
        let call = line.split_whitespace().nth(1).unwrap_or("");
        let name = call.split('(').next().unwrap_or("");
        match name {
            "openat" => {
                if let (Some(path), Some(fd)) = (quoted(line, 0), result(line)) {
                    if fd >= 0 {
                        // What the staged tree holds (not the staging dir's own lock file).
                        let in_tree = path.split('/').any(|c| c == "tree");
                        if path.starts_with(&staging) && in_tree && line.contains("O_CREAT") {
                            trace.created.insert(path.clone());
                        }
                        open.insert(fd, path);
                    }
                }
            }
            "mkdir" | "mkdirat" => {
                if let Some(path) = quoted(line, 0) {
                    // The staged tree and what is in it (not the staging dir around it).
                    let in_tree = path.split('/').any(|c| c == "tree");
                    if path.starts_with(&staging) && in_tree && result(line) == Some(0) {
                        trace.dirs.insert(path);
                    }
                }
            }
            "fsync" | "fdatasync" => {
                let fd: i64 = call
                    .trim_start_matches(name)
                    .trim_start_matches('(')
                    .split(')')
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(-1);
                if let Some(path) = open.get(&fd) {
                    if *path == packs {
                        trace.packs_synced.push(i);
                    }
                    trace.synced.entry(path.clone()).or_insert(i);
                }
            }
            "sync" | "syncfs" => trace.whole_fs_syncs += 1,
            "rename" | "renameat" | "renameat2" => {
                let paths: Vec<String> = (0..2).filter_map(|n| quoted(line, n)).collect();
                if paths.len() == 2
                    && paths[0].starts_with(&staging)
                    && paths[1] == format!("{packs}/p")
                {
                    trace.activated = Some(i);
                }
            }
            _ => {}
        }
    }
    trace
}

#[test]
fn staged_files_and_directories_reach_the_disk_before_the_pack_becomes_active() {
    let tmp = tempfile::tempdir().unwrap();
    let pack = write_pack(tmp.path(), "p", "1.0.0", "", 120);
    let packs = tmp.path().join("packs");
    let trace = traced_install(&packs, &pack, None);

    let activated = trace
        .activated
        .expect("the staged tree was renamed into place");
    assert!(trace.created.len() > 120, "{trace:?}");
    for path in trace.created.iter().chain(&trace.dirs) {
        let at = trace
            .synced
            .get(path)
            .unwrap_or_else(|| panic!("{path} never synced"));
        assert!(*at < activated, "{path} synced after the rename");
    }
    assert!(
        trace.packs_synced.iter().any(|at| *at > activated),
        "the packs directory is synced after the rename"
    );
    assert_eq!(trace.whole_fs_syncs, 0, "no sync(2)/syncfs(2)");
}

#[test]
fn sync_false_skips_the_flushes() {
    let tmp = tempfile::tempdir().unwrap();
    let pack = write_pack(tmp.path(), "p", "1.0.0", "", 20);
    let config = tmp.path().join("config.yaml");
    std::fs::write(&config, "sync: false\n").unwrap();
    let packs = tmp.path().join("packs");
    let trace = traced_install(&packs, &pack, Some(&config));
    assert!(trace.activated.is_some());
    let synced: Vec<&String> = trace
        .created
        .iter()
        .filter(|p| trace.synced.contains_key(*p))
        .collect();
    assert!(synced.is_empty(), "synced with sync: false: {synced:?}");
}
