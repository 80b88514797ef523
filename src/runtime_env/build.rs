//! Building one venv: `PYTHON -m venv DIR` (or, where the interpreter has no ensurepip, as on
//! Debian without python3-venv, `--without-pip` and the interpreter's own pip pointed at it
//! with `--python`), then pip installing `requirements.txt` into it, then the marker, last.
//! pip runs `--isolated` (no user or site config, no `PIP_*` variables) with every setting
//! given on its command line.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::Error;
use crate::fs::fsutil::{remove_any, write_atomic, Durability};
use crate::model::receipt::ENV_MARKER;
use crate::util::interrupt::Interrupt;

use super::process::{self, Failed, Ran};
use super::Request;

/// How pip reaches packages, from the config.
#[derive(Debug, Clone, Default)]
pub struct PipSettings {
    /// `--index-url` (none: pip's default, PyPI).
    pub index_url: Option<String>,
    /// `--extra-index-url`, each.
    pub extra_index_urls: Vec<String>,
    /// `--find-links`, each.
    pub find_links: Vec<String>,
    /// `--no-index`: only `find_links` (offline).
    pub no_index: bool,
    /// `--proxy`, from the caller's `HTTPS_PROXY` / `ALL_PROXY` (pip is not given the
    /// variables themselves).
    pub proxy: Option<String>,
    /// `--cert`: the config's `ca_file`.
    pub cert: Option<PathBuf>,
    /// `--cache-dir`: the wheel cache all packs share.
    pub cache_dir: PathBuf,
    /// Whether the environment reaches the disk before its commit (config `sync`).
    pub sync: bool,
}

/// Why a build failed.
pub enum Why {
    /// What failed, with the end of its output.
    Said(String),
    /// Writing the marker (or removing a failed build) failed.
    Io(Error),
    Interrupted,
}

/// `program` as a path: looked up on `PATH` when it is a bare name; as given otherwise.
pub fn resolve(program: &str) -> PathBuf {
    let found = match program.contains('/') {
        true => Some(PathBuf::from(program)),
        false => std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(program))
                .find(|p| p.is_file())
        }),
    };
    found
        .and_then(|p| std::fs::canonicalize(p).ok())
        .unwrap_or_else(|| PathBuf::from(program))
}

/// Builds the venv of `req` at `dir` (which does not exist); on failure nothing is left there.
pub fn build(
    req: &Request,
    dir: &Path,
    interrupt: &Interrupt,
    on_line: &dyn Fn(&str),
) -> Result<(), Why> {
    let built = venv_and_pip(req, dir, interrupt, on_line).and_then(|pip| {
        if let Some(file) = &req.requirements.file {
            let mut cmd = pip;
            cmd.args(install_args(&req.pip, file));
            check(
                run(cmd, req, interrupt, on_line),
                "pip install -r requirements.txt",
            )?;
        }
        finish(dir, &req.requirements.sha256().hex(), req.pip.sync).map_err(Why::Io)
    });
    if built.is_err() {
        remove_any(dir).map_err(Why::Io)?;
    }
    built
}

/// The venv, and the pip command that installs into it.
fn venv_and_pip(
    req: &Request,
    dir: &Path,
    interrupt: &Interrupt,
    on_line: &dyn Fn(&str),
) -> Result<Command, Why> {
    let python = dir.join("bin").join("python3");
    let mut venv = command(&req.python);
    venv.args(["-m", "venv"]).arg(dir);
    let ran = run(venv, req, interrupt, on_line);
    if ran.outcome.is_ok() {
        let mut pip = command(&python.to_string_lossy());
        pip.args(["-m", "pip"]);
        return Ok(pip);
    }
    if !ran.tail.iter().any(|l| l.contains("ensurepip")) {
        check(ran, "python -m venv")?;
    }
    // No ensurepip here: a venv without pip, and the interpreter's own pip aimed at it.
    remove_any(dir).map_err(Why::Io)?;
    let mut venv = command(&req.python);
    venv.args(["-m", "venv", "--without-pip"]).arg(dir);
    check(
        run(venv, req, interrupt, on_line),
        "python -m venv --without-pip",
    )?;
    let mut pip = command(&req.python);
    pip.args(["-m", "pip", "--python"]).arg(&python);
    Ok(pip)
}

/// pip's arguments for installing `requirements` with `settings`.
fn install_args(settings: &PipSettings, requirements: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "--isolated",
        "--disable-pip-version-check",
        "--no-input",
        "install",
        "--progress-bar",
        "off",
        "--no-warn-script-location",
    ]
    .map(OsString::from)
    .into();
    args.extend(["--cache-dir".into(), settings.cache_dir.clone().into()]);
    if settings.no_index {
        args.push("--no-index".into());
    }
    let mut flag = |name: &str, value: &str| args.extend([name.into(), value.into()]);
    if !settings.no_index {
        if let Some(url) = &settings.index_url {
            flag("--index-url", url);
        }
        settings
            .extra_index_urls
            .iter()
            .for_each(|u| flag("--extra-index-url", u));
    }
    settings
        .find_links
        .iter()
        .for_each(|l| flag("--find-links", l));
    if let Some(proxy) = &settings.proxy {
        flag("--proxy", proxy);
    }
    if let Some(cert) = &settings.cert {
        flag("--cert", &cert.to_string_lossy());
    }
    args.extend(["-r".into(), requirements.into()]);
    args
}

/// The interpreter's command, with an environment of its own: a sane `PATH` (with the
/// interpreter's directory first), `HOME`, the locale; none of the caller's other variables.
fn command(program: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("PATH", crate::pack_tests::search_path(program));
    if let Some(home) = std::env::var_os("HOME") {
        cmd.env("HOME", home);
    }
    cmd.envs(
        std::env::vars_os().filter(|(k, _)| k.to_str().is_some_and(crate::pack_tests::is_locale)),
    );
    cmd
}

fn run(cmd: Command, req: &Request, interrupt: &Interrupt, on_line: &dyn Fn(&str)) -> Ran {
    process::run(cmd, req.quiet_for, interrupt, on_line)
}

/// `Ok` when `ran` succeeded; otherwise what failed (`what`), with the end of its output.
fn check(ran: Ran, what: &str) -> Result<(), Why> {
    let how = match ran.outcome {
        Ok(()) => return Ok(()),
        Err(Failed::Interrupted) => return Err(Why::Interrupted),
        Err(Failed::Spawn(e)) => format!("`{what}` could not be run: {e}"),
        Err(Failed::Exit(status)) => format!("`{what}` failed ({status})"),
        Err(Failed::Stalled(quiet)) => format!(
            "`{what}` printed nothing for {} s and was stopped (config `pack_registry.timeout`)",
            quiet.as_secs()
        ),
    };
    let how = match unbuilt(&ran.tail) {
        Some(names) => format!(
            "{how}: {names} could not be built from source here (a compiler or headers may be \
             missing); give pip a wheel of it (config `pip_find_links`)"
        ),
        None => how,
    };
    let tail = crate::model::terminal::escape_lines(&ran.tail.join("\n")).into_owned();
    Err(Why::Said(match tail.is_empty() {
        true => how,
        false => format!("{how}; its last lines:\n{tail}"),
    }))
}

/// The source distributions pip says it failed to build (`Failed to build NAME…`, or
/// `ERROR: Failed building wheel for NAME`), as pip named them.
fn unbuilt(tail: &[String]) -> Option<String> {
    let names: Vec<&str> = tail
        .iter()
        .filter_map(|line| {
            let line = line.trim();
            line.strip_prefix("Failed to build ")
                .or_else(|| line.strip_prefix("ERROR: Failed building wheel for "))
        })
        .flat_map(|names| names.split_whitespace())
        .collect();
    let mut names: Vec<&str> = names.into_iter().filter(|n| !n.is_empty()).collect();
    names.sort_unstable();
    names.dedup();
    (!names.is_empty()).then(|| crate::model::terminal::escape(&names.join(", ")).into_owned())
}

/// The marker, last (an environment without it is incomplete and is rebuilt), after the
/// environment's files reached the disk.
fn finish(dir: &Path, hex: &str, sync: bool) -> crate::error::Result<()> {
    let durability = Durability::from_config(sync);
    if sync {
        sync_tree(dir)?;
    }
    write_atomic(
        &dir.join(ENV_MARKER),
        hex.as_bytes(),
        durability,
        "env.marker",
    )
}

/// Syncs every file and directory under `dir`.
fn sync_tree(dir: &Path) -> crate::error::Result<()> {
    let syncer = crate::fs::syncer::Syncer::new();
    let mut dirs = Vec::new();
    for entry in walkdir::WalkDir::new(dir).follow_links(false) {
        let entry =
            entry.map_err(|e| Error::Internal(format!("walking {}: {e}", dir.display())))?;
        if entry.file_type().is_dir() {
            dirs.push(entry.path().to_owned());
        } else if entry.file_type().is_file() {
            if let Ok(file) = std::fs::File::open(entry.path()) {
                syncer.file(file, &entry.path().to_string_lossy());
            }
        }
    }
    syncer.finish(dirs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_distribution_pip_could_not_build_is_named() {
        let tail: Vec<String> = [
            "  error: command 'gcc' failed: No such file or directory",
            "ERROR: Failed building wheel for cryptic",
            "Failed to build cryptic",
            "ERROR: Could not build wheels for cryptic",
        ]
        .map(String::from)
        .into();
        assert_eq!(unbuilt(&tail).as_deref(), Some("cryptic"));
        assert_eq!(
            unbuilt(&["ERROR: No matching distribution".to_owned()]),
            None
        );
    }

    /// Nothing of the caller's environment reaches the interpreter but PATH, HOME and the
    /// locale: no PYTHON* variable, no token, no proxy variable (pip gets --proxy instead).
    #[test]
    fn the_interpreter_gets_an_environment_of_its_own() {
        let cmd = command("python3");
        let names: Vec<String> = cmd
            .get_envs()
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        for name in &names {
            let allowed =
                ["PATH", "HOME", "LANG", "TZ"].contains(&name.as_str()) || name.starts_with("LC_");
            assert!(allowed, "{name} is passed");
        }
        assert!(names.iter().any(|n| n == "PATH"));
    }

    #[test]
    fn pip_is_given_every_setting_on_its_command_line() {
        let settings = PipSettings {
            index_url: Some("https://pypi.example/simple".into()),
            find_links: vec!["/wheels".into()],
            proxy: Some("http://proxy:3128".into()),
            cache_dir: "/cache/pip".into(),
            ..Default::default()
        };
        let args: Vec<String> = install_args(&settings, Path::new("/p/requirements.txt"))
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let text = args.join(" ");
        assert!(text.starts_with("--isolated --disable-pip-version-check --no-input install"));
        for part in [
            "--index-url https://pypi.example/simple",
            "--find-links /wheels",
            "--proxy http://proxy:3128",
            "--cache-dir /cache/pip",
            "-r /p/requirements.txt",
        ] {
            assert!(text.contains(part), "{text}");
        }
        let offline = PipSettings {
            no_index: true,
            ..settings
        };
        let text = install_args(&offline, Path::new("r.txt"))
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            text.contains("--no-index") && !text.contains("--index-url"),
            "{text}"
        );
    }
}
