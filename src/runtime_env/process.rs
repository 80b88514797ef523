//! Running the pack's interpreter (venv, pip) supervised: in its own process group, its
//! output read line by line as it comes (each line passed on, the last ones kept for the
//! error), stopped whole when it goes quiet for longer than the timeout or the command is
//! interrupted. The timeout is one without progress, as for downloads: a large install that
//! keeps printing is never cut short.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::util::interrupt::Interrupt;

/// The lines of output an error shows (the end, where pip says what failed).
pub const SHOWN_LINES: usize = 40;

/// How a command ended, when it did not succeed.
#[derive(Debug)]
pub enum Failed {
    /// It could not be started.
    Spawn(std::io::Error),
    /// It exited unsuccessfully (its status, as said).
    Exit(String),
    /// It printed nothing for the timeout; it was killed.
    Stalled(Duration),
    /// The command was interrupted.
    Interrupted,
}

/// What a command printed (its last [`SHOWN_LINES`] lines) and how it ended.
pub struct Ran {
    pub outcome: Result<(), Failed>,
    pub tail: Vec<String>,
}

/// Runs `cmd` (stdin closed), passing each line it prints to `on_line`.
pub fn run(
    mut cmd: Command,
    quiet_for: Duration,
    interrupt: &Interrupt,
    on_line: &dyn Fn(&str),
) -> Ran {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            return Ran {
                outcome: Err(Failed::Spawn(e)),
                tail: Vec::new(),
            }
        }
    };
    let (tx, rx) = mpsc::channel::<String>();
    let readers: Vec<Box<dyn Read + Send>> = [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .collect();
    for pipe in readers {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    let mut tail = VecDeque::with_capacity(SHOWN_LINES);
    let mut keep = |line: String| {
        on_line(&line);
        if tail.len() == SHOWN_LINES {
            tail.pop_front();
        }
        tail.push_back(line);
    };
    let outcome = supervise(&mut child, &rx, quiet_for, interrupt, &mut keep);
    // The whole group: pip's build backends and whatever else it started.
    // SAFETY: killpg on the group this child leads; a group already gone is ESRCH, ignored.
    unsafe { libc::killpg(child.id() as libc::pid_t, libc::SIGKILL) };
    let _ = child.wait();
    // What it printed last, still in the pipes when it exited (a grandchild holding them
    // open is not waited for).
    let until = Instant::now() + Duration::from_millis(500);
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) => keep(line),
            Err(_) => break,
        }
    }
    Ran {
        outcome,
        tail: tail.into(),
    }
}

/// Waits for `child` to exit, passing its lines to `keep`; stops at an interrupt or when it
/// has been quiet for `quiet_for`.
fn supervise(
    child: &mut std::process::Child,
    lines: &mpsc::Receiver<String>,
    quiet_for: Duration,
    interrupt: &Interrupt,
    keep: &mut dyn FnMut(String),
) -> Result<(), Failed> {
    let mut heard = Instant::now();
    loop {
        match lines.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => {
                heard = Instant::now();
                keep(line);
                continue;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // Both pipes closed: what is left is waiting for the exit.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                std::thread::sleep(Duration::from_millis(20))
            }
        }
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(Failed::Exit(status.to_string())),
            Ok(None) => {}
            Err(e) => return Err(Failed::Spawn(e)),
        }
        if interrupt.is_triggered() {
            return Err(Failed::Interrupted);
        }
        if heard.elapsed() >= quiet_for {
            return Err(Failed::Stalled(quiet_for));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quiet_command_is_stopped_and_output_kept() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo one; echo two >&2; exec sleep 30"]);
        let started = Instant::now();
        let seen = std::sync::Mutex::new(Vec::new());
        let ran = run(cmd, Duration::from_millis(500), &Interrupt::new(), &|l| {
            seen.lock().unwrap().push(l.to_owned())
        });
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(matches!(ran.outcome, Err(Failed::Stalled(_))));
        let mut tail = ran.tail;
        tail.sort();
        assert_eq!(tail, ["one", "two"]);
        assert_eq!(seen.lock().unwrap().len(), 2);
    }

    #[test]
    fn a_failing_command_says_its_status() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo bad; exit 3"]);
        let ran = run(cmd, Duration::from_secs(30), &Interrupt::new(), &|_| {});
        assert!(matches!(ran.outcome, Err(Failed::Exit(s)) if s.contains('3')));
        assert_eq!(ran.tail, ["bad"]);
    }
}
