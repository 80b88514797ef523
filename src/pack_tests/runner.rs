//! One test runner, supervised: it starts as the leader of its own process group; its output
//! is read as it comes (so a chatty runner never blocks on a full pipe) without waiting for
//! the pipes to close, which a background process that inherited them could put off for
//! ever; when the runner exits, times out or is interrupted, the whole group is killed, and
//! so is what it left outside the group where this process is their reaper (see `strays`),
//! so none outlives the install.

use std::io;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::pack::manifest::{Runner, RunnerKind};
use crate::util::interrupt::Interrupt;

/// How long one look at the pipes waits for output before checking on the runner again.
const POLL: Duration = Duration::from_millis(50);
/// The runner output kept for the report (its end, where summaries are).
const KEEP_OUTPUT: usize = 64 * 1024;

/// What a runner did.
pub struct Ran {
    /// `None` when it was stopped: timed out or interrupted.
    pub status: Option<ExitStatus>,
    /// The end of its stdout and stderr, interleaved as read.
    pub output: String,
}

/// The command for a runner, in `pack_dir`; Python runners under `python`.
pub fn command(pack_dir: &Path, runner: &Runner, python: &str) -> Command {
    let entry = &runner.entry_point;
    let mut cmd = match runner.kind {
        RunnerKind::Script => {
            let path = pack_dir.join(entry);
            if is_executable(&path) {
                Command::new(&path)
            } else {
                let mut c = Command::new("sh");
                c.arg(&path);
                c
            }
        }
        RunnerKind::Unittest => {
            let mut c = Command::new(python);
            if pack_dir.join(entry).is_dir() {
                c.args(["-m", "unittest", "discover", "-s", entry, "-v"]);
            } else {
                c.args(["-m", "unittest", "-v", entry]);
            }
            c
        }
        RunnerKind::Pytest => {
            let mut c = Command::new(python);
            c.args(["-m", "pytest", "-q", entry]);
            c
        }
    };
    cmd.current_dir(pack_dir);
    cmd
}

/// Runs `cmd` for at most `timeout`.
pub fn run(mut cmd: Command, timeout: Duration, interrupt: &Interrupt) -> io::Result<Ran> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    group::isolate(&mut cmd);
    let before = super::strays::snapshot();
    let mut child = cmd.spawn()?;
    let mut pipes = group::Pipes::new([
        child.stdout.take().map(Into::into),
        child.stderr.take().map(Into::into),
    ])?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        pipes.read(POLL);
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if interrupt.is_triggered() || Instant::now() >= deadline {
            break None;
        }
    };
    group::end(&mut child, &before);
    // What the group wrote before it ended is in the pipes now; nothing more is awaited.
    pipes.read(Duration::ZERO);
    Ok(Ran {
        status,
        output: pipes.text(),
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Process groups and pipes: Unix only, like the rest of attune-pack's process handling.
mod group {
    use std::collections::HashSet;
    use std::io::{self, Read};
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;
    use std::process::{Child, Command};
    use std::time::Duration;

    use super::KEEP_OUTPUT;

    /// The runner leads a new process group, and gets the default action for SIGXFSZ back
    /// (attune-pack ignores it, and ignored signals are inherited).
    pub fn isolate(cmd: &mut Command) {
        cmd.process_group(0);
        // SAFETY: signal(2) is async-signal-safe, as required between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGXFSZ, libc::SIG_DFL);
                Ok(())
            });
        }
    }

    /// Kills the runner's whole group, then whatever else it left among this process's
    /// descendants that is not in `before`, reaping what can be reaped.
    pub fn end(child: &mut Child, before: &HashSet<libc::pid_t>) {
        // SAFETY: a signal to the process group this function's caller created.
        unsafe { libc::killpg(child.id() as libc::pid_t, libc::SIGKILL) };
        let _ = child.wait();
        crate::pack_tests::strays::kill_all(before);
    }

    /// The runner's stdout and stderr, read without blocking.
    pub struct Pipes {
        open: Vec<std::fs::File>,
        output: Vec<u8>,
    }

    impl Pipes {
        pub fn new(pipes: [Option<OwnedFd>; 2]) -> io::Result<Pipes> {
            let mut open = Vec::new();
            for fd in pipes.into_iter().flatten() {
                // SAFETY: fcntl on a descriptor this struct owns.
                let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
                if flags < 0
                    || unsafe {
                        libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK)
                    } < 0
                {
                    return Err(io::Error::last_os_error());
                }
                open.push(std::fs::File::from(fd));
            }
            Ok(Pipes {
                open,
                output: Vec::new(),
            })
        }

        /// Waits up to `wait` for output, then reads all that is there.
        pub fn read(&mut self, wait: Duration) {
            if self.open.is_empty() {
                std::thread::sleep(wait);
                return;
            }
            let mut polled: Vec<libc::pollfd> = self
                .open
                .iter()
                .map(|f| libc::pollfd {
                    fd: f.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                })
                .collect();
            // SAFETY: `polled` is a valid array of `polled.len()` pollfds.
            unsafe {
                libc::poll(
                    polled.as_mut_ptr(),
                    polled.len() as libc::nfds_t,
                    wait.as_millis() as i32,
                )
            };
            let mut buf = [0u8; 16 * 1024];
            let output = &mut self.output;
            self.open.retain_mut(|pipe| loop {
                match pipe.read(&mut buf) {
                    Ok(0) => return false,
                    Ok(n) => output.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                    Err(_) => return false,
                }
            });
            if self.output.len() > 2 * KEEP_OUTPUT {
                let cut = self.output.len() - KEEP_OUTPUT;
                self.output.drain(..cut);
            }
        }

        pub fn text(&self) -> String {
            String::from_utf8_lossy(&self.output).into_owned()
        }
    }
}
