//! Kills at random points: an install, a reinstall and an uninstall of a 4,000-file pack are
//! SIGKILLed after a random delay (somewhere in their run), again and again; after each kill
//! the next command's recovery must leave a consistent store holding either the old or the
//! new state. Slow, so ignored by `cargo test`; `.ci/run` runs it with
//! `ATTUNE_PACK_CRASH_LOOPS` kills per kind of command (default 20).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::packs::write_pack;
use crate::support::store::{packs, recovered, State};
use crate::support::BIN;

/// xorshift64*: reproducible from the seed printed at the start.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A moment in a command that takes about `took`: half the time anywhere in it, half
    /// near its end, where the commit is (a short window in a long install).
    fn moment(&mut self, took: Duration) -> Duration {
        let nanos = took.as_nanos().max(1) as u64;
        let (from, span) = match self.next() % 2 {
            0 => (0, nanos * 5 / 4),
            // Run times vary a lot here (the disk's sync latency): a wide window.
            _ => (nanos / 2, nanos * 3 / 2),
        };
        Duration::from_nanos(from + self.next() % span.max(1))
    }
}

fn command(packs: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--packs-dir")
        .arg(packs)
        .arg("-q")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

fn ok(packs: &Path, args: &[&str]) {
    assert!(command(packs, args).status().unwrap().success(), "{args:?}");
}

/// Runs `args` and SIGKILLs it after `delay` (if it has not ended by then); returns whether it
/// was killed.
fn kill_after(packs: &Path, args: &[&str], delay: Duration) -> bool {
    let mut child = command(packs, args).spawn().unwrap();
    let start = Instant::now();
    while start.elapsed() < delay {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1).min(delay));
    }
    let killed = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let status = child.wait().unwrap();
    assert!(killed || status.success(), "{args:?} failed on its own");
    killed
}

/// How long a command takes here, uncut (the range the kills are spread over).
fn duration_of(packs: &Path, args: &[&str]) -> Duration {
    let start = Instant::now();
    ok(packs, args);
    start.elapsed()
}

#[test]
#[ignore = "slow: run by .ci/run with ATTUNE_PACK_CRASH_LOOPS"]
fn random_kills_never_leave_an_inconsistent_store() {
    let loops: usize = std::env::var("ATTUNE_PACK_CRASH_LOOPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("crash loop: {loops} kills per command, seed {seed}");
    let mut rng = Rng(seed);
    let tmp = tempfile::tempdir().unwrap();
    let v1 = write_pack(tmp.path(), "big", "1.0.0", "", 4000);
    let v2 = write_pack(tmp.path(), "big", "2.0.0", "", 4000);
    let (v1, v2) = (v1.to_str().unwrap(), v2.to_str().unwrap());
    let one = |v: &str| packs(&[("big", v)]);
    let none = packs(&[]);
    let mut report = BTreeMap::new();

    // Install into an empty store: nothing, or 1.0.0.
    let store = tmp.path().join("install");
    let took = duration_of(&store, &["install", v1]);
    while kills(&report, "install") < loops {
        if recovered(&store) != none {
            ok(&store, &["uninstall", "big"]);
        }
        let killed = kill_after(&store, &["install", v1], rng.moment(took));
        tally(
            &mut report,
            "install",
            killed,
            recovered(&store),
            &[&none, &one("1.0.0")],
        );
    }

    // Reinstall over the other version: the old one, or the new one.
    let store = tmp.path().join("reinstall");
    ok(&store, &["install", v1]);
    let took = duration_of(&store, &["install", "--force", v2]);
    let mut active = "2.0.0";
    while kills(&report, "reinstall") < loops {
        let (from, to, source) = match active {
            "1.0.0" => ("1.0.0", "2.0.0", v2),
            _ => ("2.0.0", "1.0.0", v1),
        };
        let killed = kill_after(&store, &["install", "--force", source], rng.moment(took));
        let now = recovered(&store);
        tally(
            &mut report,
            "reinstall",
            killed,
            now.clone(),
            &[&one(from), &one(to)],
        );
        active = if now == one(to) { to } else { from };
    }

    // Uninstall: still there, or gone.
    let store = tmp.path().join("uninstall");
    ok(&store, &["install", v1]);
    let took = duration_of(&store, &["uninstall", "big"]);
    while kills(&report, "uninstall") < loops {
        if recovered(&store) == none {
            ok(&store, &["install", v1]);
        }
        let killed = kill_after(&store, &["uninstall", "big"], rng.moment(took));
        tally(
            &mut report,
            "uninstall",
            killed,
            recovered(&store),
            &[&one("1.0.0"), &none],
        );
    }
    eprintln!("crash loop (seed {seed}): {report:?}");
}

/// How many kills of `what` landed (runs that ended before their kill do not count).
fn kills(report: &BTreeMap<String, usize>, what: &str) -> usize {
    report
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{what}: killed")))
        .map(|(_, n)| n)
        .sum()
}

/// Checks that `now` is one of `allowed` (the first is the state before the command, the
/// second after) and counts the outcome.
fn tally(
    report: &mut BTreeMap<String, usize>,
    what: &str,
    killed: bool,
    now: State,
    allowed: &[&State],
) {
    let side = if now == *allowed[0] {
        "old"
    } else if now == *allowed[1] {
        "new"
    } else {
        panic!("{what}: after a kill and recovery the store holds {now:?}, expected one of {allowed:?}");
    };
    if !killed {
        assert_eq!(
            side, "new",
            "{what} ended before the kill, so it must have landed"
        );
    }
    let key = format!(
        "{what}: {} -> {side}",
        if killed { "killed" } else { "finished" }
    );
    *report.entry(key).or_default() += 1;
}
