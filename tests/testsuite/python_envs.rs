//! Packs' Python environments, with real Python, real pip and real wheels, never the
//! network: the wheels are written by the tests (a zip with the module and its
//! `dist-info`), and pip finds them with `--find-links` and `--no-index` (`--offline`).
//! The environments are built with /usr/bin/python3, which the pack tests' user can run.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

use crate::support::BIN;

const PYTHON: &str = "/usr/bin/python3";

struct Py {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    packs: PathBuf,
    envs: PathBuf,
    wheels: PathBuf,
}

impl Py {
    fn new() -> Py {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        // The pack tests' user (nobody, under root) must reach the environments.
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        let wheels = root.join("wheels");
        std::fs::create_dir_all(&wheels).unwrap();
        let py = Py {
            packs: root.join("packs"),
            envs: root.join("envs"),
            wheels,
            root,
            _tmp: tmp,
        };
        py.config("");
        py
    }

    /// The config: this host's Python, the test's wheels, and `extra`.
    fn config(&self, extra: &str) {
        let text = format!(
            "python: {PYTHON}\npip_find_links: [\"{}\"]\n{extra}",
            self.wheels.display()
        );
        std::fs::write(self.root.join("config.yaml"), text).unwrap();
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg("--packs-dir")
            .arg(&self.packs)
            .arg("--runtime-envs-dir")
            .arg(&self.envs)
            .arg("--cache-dir")
            .arg(self.root.join("cache"))
            .arg("--config")
            .arg(self.root.join("config.yaml"))
            .arg("--offline")
            .args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// A wheel of the module `name` (version `version`) whose `hello()` says `says`.
    fn wheel(&self, name: &str, version: &str, says: &str) {
        let file = self
            .wheels
            .join(format!("{name}-{version}-py3-none-any.whl"));
        let script = r#"
import sys, zipfile
file, name, version, says = sys.argv[1:]
info = f"{name}-{version}.dist-info"
files = {
    f"{name}/__init__.py": f"def hello():\n    return {says!r}\n",
    f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = "".join(f"{path},,\n" for path in files) + f"{info}/RECORD,,\n"
with zipfile.ZipFile(file, "w") as z:
    for path, text in files.items():
        z.writestr(path, text)
    z.writestr(f"{info}/RECORD", record)
"#;
        let out = Command::new(PYTHON)
            .args(["-c", script])
            .arg(&file)
            .args([name, version, says])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A StackStorm-style pack `p` at `version` whose action and test import what
    /// `requirements` (requirements.txt) names.
    fn pack(&self, version: &str, requirements: &str) -> String {
        let dir = self
            .root
            .join(format!("src-{version}-{}", requirements.len()));
        std::fs::create_dir_all(dir.join("actions")).unwrap();
        std::fs::create_dir_all(dir.join("tests")).unwrap();
        std::fs::write(
            dir.join("pack.yaml"),
            format!(
                "ref: p\nname: p\nversion: {version}\npython_versions: [\"3\"]\n\
                 testing:\n  runners:\n    unit: {{type: unittest, entry_point: tests}}\n"
            ),
        )
        .unwrap();
        std::fs::write(dir.join("requirements.txt"), requirements).unwrap();
        std::fs::write(
            dir.join("actions/hello.py"),
            "import greet\nprint(greet.hello())\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("tests/test_greet.py"),
            "import unittest, greet\n\nclass T(unittest.TestCase):\n    def test_hello(self):\n        self.assertTrue(greet.hello())\n",
        )
        .unwrap();
        dir.display().to_string()
    }

    fn link(&self) -> PathBuf {
        self.envs.join("p/python")
    }

    /// What the active pack's action prints, run with its environment's Python.
    fn action(&self) -> String {
        let out = Command::new(self.link().join("bin/python3"))
            .arg(self.packs.join("p/actions/hello.py"))
            .env_clear()
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn receipt(&self) -> serde_json::Value {
        let bytes = std::fs::read(self.packs.join(".attune-pack/receipts/p.json")).unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    /// The environments built for `p`'s versions (`.versions/*`).
    fn versions(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.envs.join("p/.versions"))
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// The active pack and the environment the link leads to agree: its marker is the
    /// sha256 of the active requirements.txt, as Attune's worker checks, and the receipt
    /// names that environment.
    fn agree(&self) {
        let requirements = std::fs::read(self.packs.join("p/requirements.txt")).unwrap();
        let marker = std::fs::read_to_string(self.link().join(".attune_deps_installed")).unwrap();
        assert_eq!(marker, hex::encode(Sha256::digest(&requirements)));
        let receipt = self.receipt();
        let dir = PathBuf::from(receipt["env"]["dir"].as_str().unwrap());
        assert_eq!(self.link().canonicalize().unwrap(), dir);
        assert_eq!(receipt["env"]["status"], "ready");
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn error_code(out: &Output) -> String {
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["error"]["code"].as_str().unwrap_or_default().to_owned()
}

/// An install builds the environment Attune's worker looks for: `REF/python` with
/// `bin/python3` that imports the requirement, the marker equal to Attune's
/// `sha256(requirements.txt)` hex with no newline, the receipt saying so, and the pack's
/// tests run under it (they import the requirement too).
#[test]
fn an_install_builds_the_environment_its_action_and_tests_run_with() {
    let py = Py::new();
    py.wheel("greet", "1.0", "hello from greet 1.0");
    let out = py.ok(&["--json", "install", &py.pack("1.0.0", "greet==1.0\n")]);
    assert_eq!(py.action(), "hello from greet 1.0");
    let marker = std::fs::read(py.link().join(".attune_deps_installed")).unwrap();
    assert_eq!(
        marker,
        hex::encode(Sha256::digest(b"greet==1.0\n")).as_bytes()
    );
    let link = std::fs::read_link(py.link()).unwrap();
    assert!(
        link.is_relative() && link.starts_with(".versions"),
        "{link:?}"
    );
    let receipt: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(receipt["env"]["status"], "ready");
    assert_eq!(receipt["env"]["path"], py.link().display().to_string());
    assert!(receipt["env"]["python"].as_str().unwrap().starts_with("3."));
    let sum = format!("sha256:{}", hex::encode(Sha256::digest(b"greet==1.0\n")));
    assert_eq!(receipt["env"]["requirements"], sum);
    // The test imported greet: it ran under the environment's interpreter.
    assert_eq!(receipt["tests"]["status"], "passed", "{}", stderr(&out));
    assert_eq!(receipt["tests"]["passed"], 1);
    let show = String::from_utf8_lossy(&py.ok(&["show", "p"]).stdout).into_owned();
    assert!(show.contains("env:          ready"), "{show}");
    py.ok(&["verify", "p"]);
}

/// An update whose requirements changed builds a new environment; the old one stays with
/// the kept version. One whose requirements and interpreter did not change reuses the
/// environment: pip is not run (its marker is the same file, untouched).
#[test]
fn changed_requirements_rebuild_and_unchanged_ones_reuse() {
    let py = Py::new();
    py.wheel("greet", "1.0", "one");
    py.wheel("greet", "2.0", "two");
    py.ok(&["install", &py.pack("1.0.0", "greet==1.0\n")]);
    let marker = py.link().join(".attune_deps_installed");
    let first = std::fs::metadata(&marker).unwrap();
    // Same requirements, new version: reused.
    let out = py.ok(&[
        "-vv",
        "install",
        "--force",
        &py.pack("1.1.0", "greet==1.0\n"),
    ]);
    let again = std::fs::metadata(&marker).unwrap();
    assert_eq!(
        (first.ino(), first.mtime_nsec()),
        (again.ino(), again.mtime_nsec())
    );
    assert!(
        !stderr(&out).contains("Successfully installed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(py.versions().len(), 1);
    // Changed requirements: rebuilt, and the kept version keeps its environment.
    let out = py.ok(&[
        "-vv",
        "install",
        "--force",
        &py.pack("2.0.0", "greet==2.0\n"),
    ]);
    assert!(
        stderr(&out).contains("Successfully installed greet-2.0"),
        "{}",
        stderr(&out)
    );
    assert_eq!(py.action(), "two");
    py.agree();
    assert_eq!(py.versions().len(), 2, "{:?}", py.versions());
}

/// A requirement pip cannot install is exit 5 `env_failed` with pip's own words; the version
/// installed before and its environment are untouched, and nothing of the failed build is
/// left.
#[test]
fn a_failing_requirement_is_exit_5_and_leaves_the_old_version_and_env() {
    let py = Py::new();
    py.wheel("greet", "1.0", "one");
    py.ok(&["install", &py.pack("1.0.0", "greet==1.0\n")]);
    let before = py.versions();
    let out = py.run(&[
        "--json",
        "install",
        "--force",
        &py.pack("2.0.0", "nosuchthing==9\n"),
    ]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert_eq!(error_code(&out), "env_failed");
    assert!(stderr(&out).contains("nosuchthing"), "{}", stderr(&out));
    assert_eq!(py.receipt()["version"], "1.0.0");
    assert_eq!(py.action(), "one");
    py.agree();
    assert_eq!(py.versions(), before);
    crate::support::store::consistent(&py.packs);
    // A first install that fails leaves no environments directory for the pack at all.
    let other = Py::new();
    let out = other.run(&["install", &other.pack("1.0.0", "nosuchthing==9\n")]);
    assert_eq!(out.status.code(), Some(5));
    assert!(!other.envs.join("p").exists());
}

/// `rollback` switches the environment with the version (and back); `uninstall` removes
/// the pack's environments; `--skip-env` builds none and says so.
#[test]
fn rollback_and_uninstall_move_the_environment_with_the_pack() {
    let py = Py::new();
    py.wheel("greet", "1.0", "one");
    py.wheel("greet", "2.0", "two");
    py.ok(&["install", &py.pack("1.0.0", "greet==1.0\n")]);
    py.ok(&["install", "--force", &py.pack("2.0.0", "greet==2.0\n")]);
    assert_eq!(py.action(), "two");
    py.ok(&["rollback", "p"]);
    assert_eq!(py.action(), "one");
    py.agree();
    py.ok(&["rollback", "p"]);
    assert_eq!(py.action(), "two");
    py.agree();
    py.ok(&["uninstall", "p"]);
    assert!(!py.envs.join("p").exists());
    let out = py.ok(&[
        "--json",
        "install",
        "--skip-env",
        "--skip-tests",
        &py.pack("1.0.0", "greet==1.0\n"),
    ]);
    let receipt: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(receipt["env"]["status"], "skipped");
    assert!(stderr(&out).contains("not built"), "{}", stderr(&out));
    assert!(!py.link().exists());
}

/// `verify` and `list` notice an environment whose marker no longer matches (Attune's
/// worker would rebuild it) or that is gone.
#[test]
fn verify_and_list_notice_a_stale_or_missing_environment() {
    let py = Py::new();
    py.wheel("greet", "1.0", "one");
    py.ok(&["install", &py.pack("1.0.0", "greet==1.0\n")]);
    std::fs::write(py.link().join(".attune_deps_installed"), "0000").unwrap();
    let out = py.run(&["verify", "p"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let list = String::from_utf8_lossy(&py.ok(&["list"]).stdout).into_owned();
    assert!(list.contains("[python env stale]"), "{list}");
    std::fs::remove_file(py.link()).unwrap();
    let list = String::from_utf8_lossy(&py.ok(&["list"]).stdout).into_owned();
    assert!(list.contains("[python env missing]"), "{list}");
}

/// A kill or an I/O error at each step of an update that switches environments leaves the
/// active pack and the environment its link leads to in agreement once recovered, and no
/// environment that neither the active nor a kept version uses.
#[cfg(feature = "failpoints")]
#[test]
fn faults_at_the_env_switch_leave_pack_and_env_in_agreement() {
    let py = Py::new();
    py.wheel("greet", "1.0", "one");
    py.wheel("greet", "2.0", "two");
    py.config("keep_versions: 0\n");
    let v1 = py.pack("1.0.0", "greet==1.0\n");
    let v2 = py.pack("2.0.0", "greet==2.0\n");
    for fault in [
        "commit.displace=crash",
        "commit.activate=crash",
        "env.switch=crash",
        "commit.receipt=crash",
        "env.switch=eio",
        "commit.receipt=eio",
    ] {
        py.ok(&["install", "--force", &v1]);
        let out = py
            .command(&["install", "--force", &v2])
            .env("ATTUNE_PACK_FAILPOINTS", fault)
            .output()
            .unwrap();
        assert!(
            !out.status.success() || fault.starts_with("commit.receipt=eio"),
            "{fault}"
        );
        py.ok(&["list"]); // recovers
        py.agree();
        let version = py.receipt()["version"].as_str().unwrap().to_owned();
        let says = if version == "1.0.0" { "one" } else { "two" };
        assert_eq!(py.action(), says, "{fault}");
        // keep_versions 0: only the active version's environment is left.
        assert_eq!(py.versions().len(), 1, "{fault}: {:?}", py.versions());
    }
    // What a failed change left in trash/ goes with the next writing command.
    py.ok(&["install", "--force", &v1]);
    py.agree();
    crate::support::store::consistent(&py.packs);
}

/// Through the library: `InstallOptions::skip_env`, and the environment phase and pip's
/// lines as events.
#[test]
fn the_library_reports_the_environment_phase_and_pip_lines() {
    use attune_pack::{DetectOptions, Event, InstallOptions, Installer, PackSource, Phase};
    use std::sync::{Arc, Mutex};
    let py = Py::new();
    py.wheel("greet", "1.0", "one");
    let source = py.pack("1.0.0", "greet==1.0\n");
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let config = attune_pack::Config {
        python: PYTHON.into(),
        pip_find_links: vec![py.wheels.display().to_string()],
        ..Default::default()
    };
    let installer = Installer::builder()
        .packs_dir(&py.packs)
        .runtime_envs_dir(&py.envs)
        .cache_dir(py.root.join("cache"))
        .config(config)
        .offline()
        .on_event(Arc::new(move |e: &Event| {
            seen.lock().unwrap().push(e.clone())
        }))
        .build()
        .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let detect = |s: &str| PackSource::detect(s, &DetectOptions::new()).unwrap();
    let report = runtime
        .block_on(installer.install(detect(&source), InstallOptions::new().skip_tests()))
        .unwrap();
    assert_eq!(report.receipt.env.status, attune_pack::EnvStatus::Ready);
    let events = events.lock().unwrap().clone();
    assert!(events.contains(&Event::Phase(Phase::Environment)));
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::EnvOutput(l) if l.contains("Successfully installed"))));
    let skipped = runtime
        .block_on(installer.install(
            detect(&source),
            InstallOptions::new().force().skip_env().skip_tests(),
        ))
        .unwrap();
    assert_eq!(skipped.receipt.env.status, attune_pack::EnvStatus::Skipped);
    assert!(!py.link().exists(), "a skipped environment has no link");
}

/// The interpreter is chosen by pack.yaml's Python requirement: none on this host that fits
/// is exit 5 `dependency_unmet`, naming what was found.
#[test]
fn no_interpreter_that_fits_is_exit_5_naming_what_was_found() {
    let py = Py::new();
    let dir = Path::new(&py.pack("1.0.0", "greet==1.0\n")).to_owned();
    let yaml = std::fs::read_to_string(dir.join("pack.yaml")).unwrap();
    std::fs::write(
        dir.join("pack.yaml"),
        yaml.replace("python_versions: [\"3\"]", "python_versions: [\"3.99\"]"),
    )
    .unwrap();
    let out = py.run(&["--json", "install", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(error_code(&out), "dependency_unmet");
    assert!(stderr(&out).contains("is Python 3."), "{}", stderr(&out));
    assert!(!py.envs.join("p").exists());
}

/// SIGKILL at random points of updates that switch between two versions' environments (both
/// built once, then reused from the kept version): after each kill, recovery leaves the
/// active pack and the environment its link leads to in agreement.
#[test]
fn random_kills_leave_pack_and_env_in_agreement() {
    use std::time::{Duration, Instant};
    let py = Py::new();
    py.wheel("greet", "1.0", "one");
    py.wheel("greet", "2.0", "two");
    let v1 = py.pack("1.0.0", "greet==1.0\n");
    let v2 = py.pack("2.0.0", "greet==2.0\n");
    py.ok(&["install", &v1]);
    py.ok(&["install", "--force", &v2]);
    // From now on each update reuses the kept version's environment: how long one takes.
    let started = Instant::now();
    py.ok(&["install", "--force", &v1]);
    let took = started.elapsed().as_millis() as u64;
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("seed {seed}, an update takes {took} ms");
    let mut killed = 0;
    for i in 0..24 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let target = if i % 2 == 0 { &v2 } else { &v1 };
        let mut child = py
            .command(&["-q", "install", "--force", target])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(seed % (took * 5 / 4).max(1)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        child.wait().unwrap();
        py.ok(&["list"]); // recovers
        py.agree();
        let version = py.receipt()["version"].as_str().unwrap().to_owned();
        let says = if version == "1.0.0" { "one" } else { "two" };
        assert_eq!(py.action(), says, "kill {i} (seed {seed})");
    }
    assert!(killed >= 10, "only {killed} of 24 runs were killed");
    py.ok(&["install", "--force", &v1]);
    py.agree();
    crate::support::store::consistent(&py.packs);
    assert!(
        !py.versions().iter().any(|v| v.ends_with(".lock")),
        "{:?}",
        py.versions()
    );
}

/// Faults at the other new steps: the link switch of a rollback (killed, or failing), the
/// removal of the environments of an uninstall (killed past its commit point: recovery
/// finishes it), and pruning (after the commit point: a warning, and the next change prunes).
#[cfg(feature = "failpoints")]
#[test]
fn faults_in_rollback_uninstall_and_pruning_are_recovered() {
    let py = Py::new();
    py.wheel("greet", "1.0", "one");
    py.wheel("greet", "2.0", "two");
    py.config("keep_versions: 0\n");
    let v1 = py.pack("1.0.0", "greet==1.0\n");
    let v2 = py.pack("2.0.0", "greet==2.0\n");
    let faulty = |args: &[&str], fault: &str| {
        py.command(args)
            .env("ATTUNE_PACK_FAILPOINTS", fault)
            .output()
            .unwrap()
    };
    py.ok(&["install", &v1]);
    // Pruning fails after the commit point: the update stands, the old env waits.
    let out = faulty(&["install", "--force", &v2], "env.prune=eio");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("could not be removed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(py.versions().len(), 2);
    py.agree();
    py.config("keep_versions: 1\n");
    py.ok(&["install", "--force", &v1]);
    assert_eq!(py.versions().len(), 2, "{:?}", py.versions());
    for fault in [
        "env.switch=crash",
        "env.switch=eio",
        "rollback.receipt=crash",
    ] {
        let before = py.receipt()["version"].clone();
        let out = faulty(&["rollback", "p"], fault);
        assert!(!out.status.success(), "{fault}");
        py.ok(&["list"]);
        py.agree();
        let version = py.receipt()["version"].as_str().unwrap().to_owned();
        assert_eq!(py.action(), if version == "1.0.0" { "one" } else { "two" });
        if fault.ends_with("eio") {
            assert_eq!(py.receipt()["version"], before, "{fault}: undone");
        }
    }
    let out = faulty(&["uninstall", "p"], "uninstall.envs=crash");
    assert!(!out.status.success());
    py.ok(&["list"]);
    assert!(!py.envs.join("p").exists(), "recovery finishes the removal");
    assert!(!py.packs.join("p").exists());
    crate::support::store::consistent(&py.packs);
}

/// Two installs that need the same environment at once take turns on it: pip runs once, the
/// second reuses what the first built, and both commit.
#[test]
fn two_installs_needing_one_environment_build_it_once() {
    let py = Py::new();
    py.wheel("greet", "1.0", "one");
    let a = py.pack("1.0.0", "greet==1.0\n");
    let b = py.pack("1.1.0", "greet==1.0\n");
    let spawn = |source: &str| {
        py.command(&["-vv", "install", "--force", source])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (spawn(&a), spawn(&b));
    let outs = [
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    ];
    for out in &outs {
        assert!(out.status.success(), "{}", stderr(out));
    }
    let pip_runs = outs
        .iter()
        .filter(|o| stderr(o).contains("Successfully installed greet-1.0"))
        .count();
    assert_eq!(pip_runs, 1);
    assert_eq!(py.versions().len(), 1, "{:?}", py.versions());
    py.agree();
}
