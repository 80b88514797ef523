//! The processes a test runner leaves behind outside its process group (`setsid`, a double
//! fork): this process is a child subreaper (the command-line program makes itself one), so
//! they are reparented to it rather than to init, and are found as its descendants in /proc.
//! Those that were not there before the runner started are its, and are killed and reaped.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// The descendants of this process now.
pub fn snapshot() -> HashSet<libc::pid_t> {
    descendants().into_iter().map(|(pid, _)| pid).collect()
}

/// Kills every descendant of this process that is not in `before`, until none is left (for a
/// bounded while: one may fork as it is killed), reaping those that are its children.
pub fn kill_all(before: &HashSet<libc::pid_t>) {
    // SAFETY: getpid cannot fail.
    let me = unsafe { libc::getpid() };
    let give_up = Instant::now() + Duration::from_secs(5);
    loop {
        let strays: Vec<_> = descendants()
            .into_iter()
            .filter(|(pid, _)| !before.contains(pid))
            .collect();
        for &(pid, (parent, zombie)) in &strays {
            if !zombie {
                // SAFETY: a signal to a process found among this process's descendants.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            if parent == me {
                let mut status = 0;
                // SAFETY: reaps a child of this process, without blocking.
                unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            }
        }
        if strays.is_empty() || Instant::now() >= give_up {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Every process whose parent chain leads to this one, with its parent and whether it is a
/// zombie (from /proc; none where there is no /proc).
fn descendants() -> Vec<(libc::pid_t, (libc::pid_t, bool))> {
    // SAFETY: getpid cannot fail.
    let me = unsafe { libc::getpid() };
    let table: HashMap<libc::pid_t, (libc::pid_t, bool)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .filter_map(|pid| Some((pid, parent_of(pid)?)))
        .collect();
    let leads_to_me = |mut pid: libc::pid_t| {
        // A bounded walk: the table is read process by process, not atomically.
        for _ in 0..table.len() {
            match table.get(&pid) {
                Some(&(parent, _)) if parent == me => return true,
                Some(&(parent, _)) if parent > 1 => pid = parent,
                _ => return false,
            }
        }
        false
    };
    table
        .iter()
        .filter(|(&pid, _)| leads_to_me(pid))
        .map(|(&pid, &info)| (pid, info))
        .collect()
}

/// A process's parent, and whether it is a zombie, from `/proc/PID/stat` (whose second field,
/// the command name in parentheses, may hold spaces and parentheses itself).
fn parent_of(pid: libc::pid_t) -> Option<(libc::pid_t, bool)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
    let state = fields.next()?;
    let parent = fields.next()?.parse().ok()?;
    Some((parent, state == "Z"))
}
