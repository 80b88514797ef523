//! StackStorm Exchange packs as they are: pack.yaml without `ref`, `name=version` and git-URL
//! dependencies, `python_versions`, `stackstorm_version`, `requirements.txt`, and a `tests/`
//! directory with no runner declared. Dependencies live in real git repositories built with
//! the `git` CLI; the interpreter is a stand-in script, so what it says is known.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::git_server::Repo;
use crate::support::store::{consistent, packs as state_of};
use crate::support::BIN;

struct Env {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    packs: PathBuf,
}

/// Config for a host whose workers build packs' environments themselves.
const NO_ENVS: &str = "build_envs: false\n";

impl Env {
    fn new() -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        // These packs' requirements.txt name PyPI packages: their environments are the
        // subject of python_envs.rs, not of these tests.
        std::fs::write(root.join("default-config.yaml"), NO_ENVS).unwrap();
        Env {
            packs: root.join("packs"),
            root,
            _tmp: tmp,
        }
    }

    /// The binary on this store, with `env` set.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg("--packs-dir").arg(&self.packs).args(args);
        cmd.env("ATTUNE_PACK_CONFIG", self.root.join("default-config.yaml"))
            .env("ATTUNE_RUNTIME_ENVS_DIR", self.root.join("envs"));
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// `install` with the config `cfg`, `flags` (`--json`, `--with-deps`, …) and `packs`.
    fn install(&self, cfg: &Path, flags: &[&str], packs: &[&Path]) -> Output {
        let mut args = vec!["--config", cfg.to_str().unwrap(), "install"];
        args.extend_from_slice(flags);
        args.extend(packs.iter().map(|p| p.to_str().unwrap()));
        self.run(&args)
    }

    /// A directory `name` holding these files (relative path, content).
    fn dir(&self, name: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = self.root.join(name);
        for (rel, content) in files {
            let path = dir.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        dir
    }

    /// A StackStorm Exchange-style repository `stackstorm-aws` (pack `aws`): 1.2.0 tagged
    /// `v1.2.0`, then 1.3.0 on `main`; served bare, as `file://…/stackstorm-aws.git`.
    fn aws_repository(&self) -> String {
        let repo = Repo::init(&self.root.join("work/stackstorm-aws"));
        repo.write("pack.yaml", "name: aws\nversion: 1.2.0\n");
        repo.write("actions/run.py", "print('aws')\n");
        repo.commit("1.2.0");
        repo.git(&["tag", "v1.2.0"]);
        repo.write("pack.yaml", "name: aws\nversion: 1.3.0\n");
        repo.commit("1.3.0");
        std::fs::create_dir_all(self.root.join("remote")).unwrap();
        let bare = repo.bare_clone(&self.root.join("remote/stackstorm-aws.git"));
        format!("file://{}", bare.display())
    }

    /// A config whose interpreter is a script that says `said` when asked its version, and
    /// logs each time it is run to `python.log`.
    fn config_with_python(&self, said: &str) -> PathBuf {
        let python = self.root.join("bin/fakepython");
        std::fs::create_dir_all(python.parent().unwrap()).unwrap();
        std::fs::write(
            &python,
            format!(
                // Sandboxed, as a test runner, it can write only to its output.
                "#!/bin/sh\necho \"$@\" >> {} 2>/dev/null || {{ echo \"sandboxed: $@\"; exit 1; }}\necho '{said}'\n",
                self.python_log().display()
            ),
        )
        .unwrap();
        set_exec(&python);
        self.config(&format!("python: {}\n", python.display()))
    }

    fn config(&self, text: &str) -> PathBuf {
        let path = self.root.join("config.yaml");
        // A text read back from an earlier config has it already.
        let text = text.strip_prefix(NO_ENVS).unwrap_or(text);
        std::fs::write(&path, format!("{NO_ENVS}{text}")).unwrap();
        path
    }

    fn python_log(&self) -> PathBuf {
        self.root.join("python.log")
    }

    fn receipt(&self, pack_ref: &str) -> serde_json::Value {
        let path = self
            .packs
            .join(format!(".attune-pack/receipts/{pack_ref}.json"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_slice(&bytes).unwrap()
    }
}

fn set_exec(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_ok(out: &Output) {
    assert!(out.status.success(), "{}", stderr(out));
}

/// Exit 5, `dependency_unmet`; returns the message.
fn assert_unmet(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(5), "{}", stderr(out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"]["code"], "dependency_unmet", "{doc}");
    doc["error"]["message"].as_str().unwrap().to_owned()
}

/// The pack.yaml of a StackStorm pack `name` (no `ref`) with these dependencies.
fn st2_pack_yaml(name: &str, dependencies: &[&str]) -> String {
    let deps: Vec<String> = dependencies.iter().map(|d| format!("  - {d}\n")).collect();
    format!(
        "name: {name}\ndescription: a pack as the Exchange ships them\nversion: 0.4.0\nauthor: StackStorm\nstackstorm_version: \">=3.0.0\"\npython_versions:\n  - \"3\"\ndependencies:\n{}",
        deps.concat()
    )
}

/// A StackStorm pack directory: pack.yaml as given, an action, requirements.txt and tests/
/// (with no runner in pack.yaml).
fn st2_pack(env: &Env, name: &str, pack_yaml: &str) -> PathBuf {
    env.dir(
        name,
        &[
            ("pack.yaml", pack_yaml),
            ("actions/hello.py", "print('hello')\n"),
            ("requirements.txt", "requests>=2.0\n"),
            ("tests/test_hello.py", "def test_hello():\n    pass\n"),
        ],
    )
}

#[test]
fn a_git_url_dependency_no_installed_pack_came_from_is_exit_5_naming_the_url() {
    let env = Env::new();
    let url = env.aws_repository();
    let cfg = env.config_with_python("Python 3.12.1");
    let pack = st2_pack(
        &env,
        "st2demo",
        &st2_pack_yaml("st2demo", &[&format!("{url}=v1.2.0")]),
    );
    let out = env.install(&cfg, &["--json"], &[&pack]);
    let message = assert_unmet(&out);
    assert!(
        message.contains(&format!("`{url}=v1.2.0` is not installed")),
        "{message}"
    );
    assert_eq!(consistent(&env.packs), state_of(&[]));
}

#[test]
fn with_deps_installs_the_git_dependency_at_its_ref_first() {
    let env = Env::new();
    let url = env.aws_repository();
    let cfg = env.config_with_python("Python 3.12.1");
    // `core=1.0.0`: StackStorm's spelling of a dependency on a pack by name.
    let core = env.dir("core", &[("pack.yaml", "name: core\nversion: 1.0.0\n")]);
    assert_ok(&env.run(&["install", core.to_str().unwrap()]));
    let yaml = st2_pack_yaml("st2demo", &["core=1.0.0", &format!("{url}=v1.2.0")]);
    let pack = st2_pack(&env, "st2demo", &yaml);
    let out = env.install(&cfg, &["--with-deps"], &[&pack]);
    assert_ok(&out);
    assert!(
        stderr(&out).contains("Installed dependency aws 1.2.0"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        consistent(&env.packs),
        state_of(&[("aws", "1.2.0"), ("core", "1.0.0"), ("st2demo", "0.4.0")])
    );
    let aws = env.receipt("aws");
    assert_eq!(aws["source"]["kind"], "git");
    assert_eq!(aws["source"]["url"], url.as_str());
    assert_eq!(aws["source"]["ref"], "v1.2.0");
    let st2 = env.receipt("st2demo");
    assert_eq!(st2["stackstorm_version"], ">=3.0.0");
    let deps: Vec<&str> = st2["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert_eq!(deps, ["core@=1.0.0", &format!("{url}=v1.2.0")]);
    // The dependency went in first.
    let history = env.run(&["--json", "history"]);
    let records: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    let order: Vec<&str> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ref"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["core", "aws", "st2demo"]);
    let show = env.run(&["show", "st2demo"]);
    assert!(
        String::from_utf8_lossy(&show.stdout).contains("stackstorm:   >=3.0.0"),
        "{}",
        String::from_utf8_lossy(&show.stdout)
    );
}

#[test]
fn a_git_dependency_is_met_by_a_pack_installed_from_that_repository() {
    let env = Env::new();
    let url = env.aws_repository();
    let cfg = env.config_with_python("Python 3.12.1");
    assert_ok(&env.run(&["install", &url, "--ref", "v1.2.0"]));
    // Spelled another way: no `.git`, a trailing slash, the scheme in capitals.
    let spelled = format!(
        "FILE://{}/",
        url["file://".len()..].trim_end_matches(".git")
    );
    let pack = st2_pack(
        &env,
        "st2demo",
        &st2_pack_yaml("st2demo", &[&format!("{spelled}=v1.2.0")]),
    );
    let install = |pack: &Path| env.install(&cfg, &["--json"], &[pack]);
    assert_ok(&install(&pack));
    assert_eq!(
        consistent(&env.packs),
        state_of(&[("aws", "1.2.0"), ("st2demo", "0.4.0")])
    );
    // The pack that came from the repository is needed by the one that names it.
    let out = env.run(&["--json", "uninstall", "aws"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("st2demo"), "{}", stderr(&out));
    // Another ref of the same repository is not what is installed.
    let other = st2_pack(
        &env,
        "other",
        &st2_pack_yaml("other", &[&format!("{url}=v9.9.9")]),
    );
    let message = assert_unmet(&install(&other));
    assert!(message.contains("v9.9.9"), "{message}");
}

#[test]
fn with_deps_a_git_dependency_is_met_by_the_pack_its_repository_holds() {
    let env = Env::new();
    let url = env.aws_repository();
    let cfg = env.config_with_python("Python 3.12.1");
    // aws 1.2.0 from a directory: not from the repository, but the pack it holds at v1.2.0.
    let aws = env.dir("aws-dir", &[("pack.yaml", "name: aws\nversion: 1.2.0\n")]);
    assert_ok(&env.run(&["install", aws.to_str().unwrap()]));
    let pack = st2_pack(
        &env,
        "st2demo",
        &st2_pack_yaml("st2demo", &[&format!("{url}=v1.2.0")]),
    );
    let out = env.install(&cfg, &["--with-deps"], &[&pack]);
    assert_ok(&out);
    assert_eq!(env.receipt("aws")["source"]["kind"], "local_directory");
    assert_eq!(
        consistent(&env.packs),
        state_of(&[("aws", "1.2.0"), ("st2demo", "0.4.0")])
    );
}

#[test]
fn an_unmet_python_requirement_is_exit_5_unless_skip_deps() {
    let env = Env::new();
    let cfg = env.config_with_python("Python 3.12.1");
    let yaml = "name: legacy\nversion: 1.0.0\npython_versions: [\"2\"]\n";
    let pack = env.dir("legacy", &[("pack.yaml", yaml)]);
    let args = |extra: &'static [&'static str]| {
        env.install(&cfg, &[&["--json"][..], extra].concat(), &[&pack])
    };
    let message = assert_unmet(&args(&[]));
    let why = "Python 2 is required (pack.yaml `python_versions: 2`), but";
    assert!(message.contains(why), "{message}");
    assert!(message.contains("is Python 3.12.1"), "{message}");
    assert_eq!(consistent(&env.packs), state_of(&[]));
    let out = args(&["--skip-deps"]);
    assert_ok(&out);
    assert!(
        stderr(&out).contains(
            "warning: installing with unmet dependencies, as asked: Python 2 is required"
        ),
        "{}",
        stderr(&out)
    );
    assert_eq!(consistent(&env.packs), state_of(&[("legacy", "1.0.0")]));
}

#[test]
fn a_missing_interpreter_is_exit_5_saying_none_was_found() {
    let env = Env::new();
    let pack = env.dir(
        "modern",
        &[(
            "pack.yaml",
            "ref: modern\nversion: 1.0.0\npython: \">=3.9\"\n",
        )],
    );
    let cfg = env.config("python: /nonexistent/python3\n");
    // No python3.N on PATH either (an empty PATH: attune-pack runs nothing else here).
    let empty = env.root.join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let mut args = vec!["--config", cfg.to_str().unwrap(), "--json", "install"];
    args.push(pack.to_str().unwrap());
    let out = env.command(&args).env("PATH", &empty).output().unwrap();
    let message = assert_unmet(&out);
    assert!(
        message.contains("Python >=3.9 is required")
            && message.contains("`/nonexistent/python3` (config `python`) cannot be run"),
        "{message}"
    );
    // --with-deps installs packs, not interpreters: the hint says what does help.
    assert!(
        stderr(&out).contains("hint: set the config key `python`"),
        "{}",
        stderr(&out)
    );
    // No python3 on PATH at all.
    let out = env
        .command(&["--json", "install", pack.to_str().unwrap()])
        .env("PATH", &empty)
        .env("ATTUNE_PACK_CONFIG", env.config(""))
        .output()
        .unwrap();
    let message = assert_unmet(&out);
    assert!(
        message.contains("but no `python3` was found on PATH"),
        "{message}"
    );
    assert_eq!(consistent(&env.packs), state_of(&[]));
    // A python3.N on PATH that meets the requirement does, when the configured one is gone.
    assert_ok(&env.install(&cfg, &[], &[&pack]));
}

#[test]
fn the_interpreter_is_asked_once_and_only_for_packs_that_declare_python() {
    let env = Env::new();
    let cfg = env.config_with_python("Python 3.12.1");
    let plain = env.dir("plain", &[("pack.yaml", "ref: plain\nversion: 1.0.0\n")]);
    let out = env.install(&cfg, &[], &[&plain]);
    assert_ok(&out);
    assert!(
        !env.python_log().exists(),
        "python was run for a pack that needs none"
    );
    let a = env.dir(
        "a",
        &[(
            "pack.yaml",
            "ref: a\nversion: 1.0.0\npython_versions: [\"3\"]\n",
        )],
    );
    let b = env.dir(
        "b",
        &[("pack.yaml", "ref: b\nversion: 1.0.0\npython: \">=3.9\"\n")],
    );
    let out = env.install(&cfg, &[], &[&a, &b]);
    assert_ok(&out);
    let log = std::fs::read_to_string(env.python_log()).unwrap();
    assert_eq!(log, "--version\n", "run once, with --version only");
}

#[test]
fn tests_without_a_runner_are_said_to_be_not_run() {
    let env = Env::new();
    let yaml = "name: quiet\nversion: 1.0.0\n";
    let pack = st2_pack(&env, "quiet", yaml);
    let out = env.run(&["--json", "install", pack.to_str().unwrap()]);
    assert_ok(&out);
    assert!(
        stderr(&out)
            .contains("quiet 1.0.0: tests/ found but pack.yaml declares no runner; not run"),
        "{}",
        stderr(&out)
    );
    let receipt: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(receipt["tests"]["status"], "none");
}

/// A pack whose `tests/run.sh` runner is `script`.
fn pack_with_runner(env: &Env, name: &str, script: &str) -> PathBuf {
    let yaml = format!(
        "name: {name}\nversion: 1.0.0\ntesting:\n  runners:\n    smoke: {{type: script, entry_point: tests/run.sh}}\n"
    );
    let dir = env.dir(name, &[("pack.yaml", &yaml), ("tests/run.sh", script)]);
    set_exec(&dir.join("tests/run.sh"));
    dir
}

#[test]
fn an_install_whose_tests_ran_says_how_they_went_on_one_line() {
    let env = Env::new();
    let pack = pack_with_runner(&env, "tested", "#!/bin/sh\necho ok\n");
    let out = env.run(&["--json", "install", pack.to_str().unwrap()]);
    assert_ok(&out);
    let line =
        "Tests of tested 1.0.0: 1 passed, 0 failed, 0 skipped (runner: smoke (script); sandbox: ";
    assert!(stderr(&out).contains(line), "{}", stderr(&out));
    // stdout stays the one JSON document.
    let receipt: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(receipt["tests"]["status"], "passed");
    let out = env.run(&["--quiet", "install", "--force", pack.to_str().unwrap()]);
    assert_ok(&out);
    assert!(!stderr(&out).contains("Tests of"), "{}", stderr(&out));
}

#[test]
fn a_failing_runner_output_is_shown_with_control_characters_escaped() {
    let env = Env::new();
    let script = "#!/bin/sh\nprintf '\\033[31mFAILED\\033[0m\\ttest_one\\r\\n'\nprintf 'progress 50%%\\rprogress 100%%\\n'\nexit 1\n";
    let pack = pack_with_runner(&env, "failing", script);
    let out = env.run(&["install", pack.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("tests_failed") || err.contains("pack tests failed"),
        "{err}"
    );
    assert!(
        !err.contains('\x1b') && !err.contains('\r'),
        "raw control characters reached the terminal: {err:?}"
    );
    assert!(
        err.contains("\\u{1b}[31mFAILED\\u{1b}[0m\ttest_one"),
        "{err}"
    );
    assert!(err.contains("progress 50%\\rprogress 100%"), "{err}");
    assert_eq!(consistent(&env.packs), state_of(&[]));
}

/// A StackStorm Exchange-style pack as its repository holds it (no `ref`, a `name=version`
/// dependency, `tests/` with no runner, `requirements.txt`, release tags) installs by every
/// source kind (git URL with and without a tag, a work tree with `--ref`, a directory, a
/// .tar.gz, a .zip, an archive URL and a registry name), each time as the same content.
#[test]
fn a_stackstorm_pack_installs_by_every_source_kind() {
    use crate::support::index_server::IndexServer;
    use crate::support::registry::{archive, entry, index};

    let env = Env::new();
    let repo = Repo::init(&env.root.join("work/stackstorm-st2demo"));
    repo.write("pack.yaml", &st2_pack_yaml("st2demo", &["core=1.0.0"]));
    for (rel, content) in [
        ("actions/hello.py", "print('hello')\n"),
        ("requirements.txt", "requests>=2.0\n"),
        ("tests/test_hello.py", "def test_hello():\n    pass\n"),
    ] {
        repo.write(rel, content);
    }
    repo.commit("0.4.0");
    repo.git(&["tag", "v0.4.0"]);
    repo.write(
        "pack.yaml",
        &st2_pack_yaml("st2demo", &["core=1.0.0"]).replace("0.4.0", "0.5.0"),
    );
    repo.commit("0.5.0");
    std::fs::create_dir_all(env.root.join("remote")).unwrap();
    let bare = repo.bare_clone(&env.root.join("remote/stackstorm-st2demo.git"));
    let git_url = format!("file://{}", bare.display());
    let archived = |format: &str| {
        let out = repo.dir.join(format!("../st2demo.{format}"));
        repo.git(&[
            "archive",
            &format!("--format={format}"),
            "--prefix=stackstorm-st2demo-0.4.0/",
            "-o",
            out.to_str().unwrap(),
            "v0.4.0",
        ]);
        out
    };
    let (tgz, zip) = (archived("tar.gz"), archived("zip"));
    let dir = env.root.join("unpacked");
    std::fs::create_dir(&dir).unwrap();
    let untar = Command::new("tar")
        .args(["xzf", tgz.to_str().unwrap(), "-C", dir.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(untar.success());
    let dir = dir.join("stackstorm-st2demo-0.4.0");

    let server = IndexServer::start();
    let bytes = std::fs::read(&tgz).unwrap();
    server.put("st2demo-0.4.0.tgz", bytes.clone());
    let tgz_url = server.url("st2demo-0.4.0.tgz");
    let index_file = env.root.join("index.json");
    let source = archive(&tgz_url, &bytes);
    std::fs::write(
        &index_file,
        index(vec![entry("st2demo", "0.4.0", vec![source])]),
    )
    .unwrap();
    let python = env.config_with_python("Python 3.12.1");
    let python = std::fs::read_to_string(python).unwrap();
    let cfg = env.config(&format!(
        "{python}pack_registry:\n  allow_http: true\n  indices:\n    - url: {}\n      name: main\n",
        index_file.display()
    ));
    let core = env.dir("core", &[("pack.yaml", "name: core\nversion: 1.0.0\n")]);

    let (work, dir, tgz, zip) = (
        repo.dir.to_str().unwrap(),
        dir.to_str().unwrap(),
        tgz.to_str().unwrap(),
        zip.to_str().unwrap(),
    );
    let kinds: [(&[&str], &str); 8] = [
        (&[&git_url], "0.5.0"),
        (&[&git_url, "--ref", "v0.4.0"], "0.4.0"),
        (&[work, "--ref", "v0.4.0"], "0.4.0"),
        (&[dir], "0.4.0"),
        (&[tgz], "0.4.0"),
        (&[zip], "0.4.0"),
        (&[&tgz_url], "0.4.0"),
        (&["st2demo=0.4.0"], "0.4.0"),
    ];
    let mut contents = Vec::new();
    for (i, (source, version)) in kinds.iter().enumerate() {
        let packs = env.root.join(format!("packs-{i}"));
        let run = |args: &[&str]| {
            Command::new(BIN)
                .arg("--packs-dir")
                .arg(&packs)
                .arg("--config")
                .arg(&cfg)
                .arg("--cache-dir")
                .arg(env.root.join("cache"))
                .args(args)
                .output()
                .unwrap()
        };
        assert_ok(&run(&["install", core.to_str().unwrap()]));
        let out = run(&[&["--json", "install"], *source].concat());
        let err = stderr(&out);
        assert!(out.status.success(), "{source:?}: {err}");
        let receipt: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            (receipt["ref"].as_str(), receipt["version"].as_str()),
            (Some("st2demo"), Some(*version)),
            "{source:?}"
        );
        assert!(
            err.contains("tests/ found but pack.yaml declares no runner; not run"),
            "{source:?}: {err}"
        );
        assert!(packs.join("st2demo/tests/test_hello.py").is_file());
        assert!(packs.join("st2demo/requirements.txt").is_file());
        if *version == "0.4.0" {
            contents.push(receipt["checksum"]["content"].clone());
        }
    }
    assert!(contents.windows(2).all(|w| w[0] == w[1]), "{contents:?}");
}

/// A pack fetched from another host cannot make `--with-deps` install a repository of this
/// one (a `file://` git dependency): exit 3, `host_not_allowed`, nothing installed.
#[test]
fn a_remote_pack_cannot_depend_on_a_repository_of_this_host() {
    use crate::support::index_server::IndexServer;
    let env = Env::new();
    let url = env.aws_repository();
    let cfg = env.config_with_python("Python 3.12.1");
    let yaml = st2_pack_yaml("st2demo", &[&format!("{url}=v1.2.0")]);
    let pack = st2_pack(&env, "st2demo", &yaml);
    let tgz = env.root.join("st2demo.tgz");
    let tar = Command::new("tar")
        .args(["czf", tgz.to_str().unwrap(), "-C"])
        .arg(&pack)
        .arg(".")
        .status()
        .unwrap();
    assert!(tar.success());
    let server = IndexServer::start();
    server.put("st2demo.tgz", std::fs::read(&tgz).unwrap());
    let remote = server.url("st2demo.tgz");
    let out = env.install(
        &cfg,
        &["--json", "--allow-http", "--with-deps"],
        &[Path::new(&remote)],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"]["code"], "host_not_allowed", "{doc}");
    assert_eq!(consistent(&env.packs), state_of(&[]));
    // The same pack from this host may.
    assert_ok(&env.install(&cfg, &["--with-deps"], &[&pack]));
}

/// Python test runners run under the interpreter the config names, as the Python
/// requirement is checked against; a script runner whose entry point the pack lacks says so.
#[test]
fn test_runners_use_the_configured_python_and_name_a_missing_entry_point() {
    let env = Env::new();
    // The interpreter must be one the test user (`nobody`, as root) can run.
    use std::os::unix::fs::PermissionsExt;
    let reachable = std::fs::Permissions::from_mode(0o755);
    std::fs::set_permissions(&env.root, reachable).unwrap();
    let cfg = env.config_with_python("Python 3.12.1");
    let runners = "testing:\n  runners:\n    unit: {type: unittest, entry_point: tests}\n";
    let pack = env.dir(
        "unit",
        &[
            (
                "pack.yaml",
                &format!("ref: unit\nversion: 1.0.0\n{runners}"),
            ),
            ("tests/test_x.py", "import unittest\n"),
        ],
    );
    let out = env.install(&cfg, &["--json"], &[&pack]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("sandboxed: -m unittest discover -s tests"),
        "{message}"
    );

    let runners =
        "testing:\n  runners:\n    shell: {type: script, entry_point: tests/run_tests.sh}\n";
    let pack = env.dir(
        "scripted",
        &[(
            "pack.yaml",
            &format!("ref: scripted\nversion: 1.0.0\n{runners}"),
        )],
    );
    let out = env.install(&cfg, &["--json"], &[&pack]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("runner `shell` (tests/run_tests.sh): its entry point is not in the pack"),
        "{message}"
    );
}
