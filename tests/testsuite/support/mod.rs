//! What the test suites share: test servers, archive builders, and the binary under test.

pub mod acceptor;
pub mod archives;
pub mod attune_index;
pub mod git_server;
pub mod http_server;
pub mod in_process;
pub mod index_server;
pub mod oci_registry;
pub mod packs;
pub mod registry;
pub mod store;
pub mod test_ca;

use std::path::Path;
use std::process::{Command, Output};

/// The `attune-pack` binary built for this test run.
pub const BIN: &str = env!("CARGO_BIN_EXE_attune-pack");

/// Runs `command`, which must succeed (else its stderr is shown); its output captured.
pub fn succeeded(command: &mut Command) -> Output {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `command` with `input` on its stdin; its output captured.
pub fn with_stdin(command: &mut Command, input: &[u8]) -> Output {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// Runs the binary on the store at `packs` with `args`.
pub fn run(packs: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--packs-dir")
        .arg(packs)
        .args(args)
        .output()
        .unwrap()
}
