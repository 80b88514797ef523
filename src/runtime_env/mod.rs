//! A pack's Python environment, built the way Attune's workers expect to find it: a venv with
//! `bin/python3` and the marker `.attune_deps_installed` (the sha256 hex of the pack's
//! `requirements.txt`). A venv names its own path in its scripts and cannot be moved, so it is
//! built where it stays, `RUNTIME_ENVS_DIR/REF/.versions/KEY/` (KEY: a hash of the
//! interpreter and the requirements); the store's commit then switches the link
//! `REF/python` to it with the pack (see `store/envs.rs`). An environment of the same KEY
//! that is complete is reused as it is: an update that changes neither costs no pip run.
//!
//! Building one runs the pack's own interpreter (`-m venv`, then pip), with an environment
//! of its own (nothing of attune-pack's: no index headers, no tokens, no `PYTHON*`) and the
//! index, proxy and CA settings of the config passed explicitly. A `KEY.lock` beside the
//! directory is held from the build to the commit, so two installs never build one at once
//! and pruning never removes one an install is about to commit. It may import `pack`,
//! `pack_tests` (the scrubbed environment's parts), `fs`, `config` and below.

mod build;
mod process;

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};
use crate::fs::dirlock::DirLock;
use crate::fs::fsutil::remove_any;
use crate::model::checksum::{Algorithm, Checksum};
use crate::model::pack_ref::PackRef;
use crate::model::receipt::{Receipt, ENV_MARKER};
use crate::pack::manifest::Manifest;
use crate::util::interrupt::Interrupt;

pub use build::PipSettings;

/// The link Attune's workers look for, in `RUNTIME_ENVS_DIR/REF/`.
pub const LINK: &str = "python";
/// Where the environments of a pack's versions are built, in `RUNTIME_ENVS_DIR/REF/`.
const VERSIONS: &str = ".versions";

/// What a pack's environment is built from.
#[derive(Debug, Clone)]
pub struct Requirements {
    /// The pack's `requirements.txt`, when it has one.
    pub file: Option<PathBuf>,
    /// Its bytes (none: empty).
    pub bytes: Vec<u8>,
}

impl Requirements {
    /// The sha256 of `requirements.txt`, which the marker holds (as bare hex).
    pub fn sha256(&self) -> Checksum {
        Checksum {
            algorithm: Algorithm::Sha256,
            digest: Sha256::digest(&self.bytes).to_vec(),
        }
    }
}

/// Whether the pack at `dir` needs an environment: it has a `requirements.txt`, or python in
/// its `runtime_deps`.
pub fn needs(manifest: &Manifest, dir: &Path) -> Result<Option<Requirements>> {
    let file = dir.join("requirements.txt");
    if file.is_file() {
        let bytes = std::fs::read(&file).ctx(|| format!("reading {}", file.display()))?;
        return Ok(Some(Requirements {
            file: Some(file),
            bytes,
        }));
    }
    let python = manifest
        .runtime_deps
        .iter()
        .any(|d| d.trim().to_ascii_lowercase().starts_with("python"));
    Ok(python.then(|| Requirements {
        file: None,
        bytes: Vec::new(),
    }))
}

/// What building one environment takes.
pub struct Request {
    pub pack_ref: PackRef,
    /// `RUNTIME_ENVS_DIR/REF`.
    pub root: PathBuf,
    pub requirements: Requirements,
    /// The interpreter (a name on `PATH` or a path) and its version.
    pub python: String,
    pub version: semver::Version,
    pub pip: PipSettings,
    /// How long pip may print nothing before it is stopped.
    pub quiet_for: Duration,
    /// How long to wait for another install building the same environment.
    pub lock_timeout: Duration,
}

/// An environment built (or found complete) for an install, held for it until its commit:
/// dropped without [`keep`](Self::keep), one this install built is removed again (unless
/// the store's link already names it: then the store's recovery decides).
#[derive(Debug)]
pub struct PreparedEnv {
    /// `RUNTIME_ENVS_DIR/REF/.versions/KEY`.
    pub dir: PathBuf,
    /// Its interpreter, which the pack's tests run under.
    pub python: PathBuf,
    /// Built by this install (not reused).
    pub fresh: bool,
    root: PathBuf,
    lock: Option<DirLock>,
}

impl PreparedEnv {
    /// The install committed it: it stays.
    pub fn keep(mut self) {
        self.fresh = false;
    }
}

impl Drop for PreparedEnv {
    fn drop(&mut self) {
        let linked =
            std::fs::read_link(self.root.join(LINK)).is_ok_and(|t| self.root.join(t) == self.dir);
        if self.fresh && !linked {
            let _ = remove_any(&self.dir);
        }
        if let Some(lock) = self.lock.take() {
            lock.release();
        }
        // Only succeed when empty: a first install that failed leaves nothing behind.
        let _ = std::fs::remove_dir(self.root.join(VERSIONS));
        let _ = std::fs::remove_dir(&self.root);
    }
}

/// The directory name of an environment: the interpreter (its resolved path and version) and
/// the requirements' bytes decide it, so any change of either builds anew.
fn key(python: &str, version: &semver::Version, requirements: &[u8]) -> String {
    let resolved = build::resolve(python);
    let mut hash = Sha256::new();
    hash.update(b"attune-pack python env 1\0");
    hash.update(resolved.as_os_str().as_encoded_bytes());
    hash.update(format!("\0{version}\0").as_bytes());
    hash.update(requirements);
    hex::encode(&hash.finalize()[..8])
}

/// Whether the environment at `dir` is complete for requirements of sha256 `hex`: its marker
/// (written last) says so, and its interpreter is there.
fn complete(dir: &Path, hex: &str) -> bool {
    std::fs::read_to_string(dir.join(ENV_MARKER)).is_ok_and(|m| m == hex)
        && dir.join("bin").join("python3").exists()
}

/// Builds the environment `req` asks for, or reuses the complete one of the same key; pip's
/// lines go to `on_line`. Blocking.
pub fn prepare(
    req: &Request,
    interrupt: &Interrupt,
    on_line: &dyn Fn(&str),
) -> Result<PreparedEnv> {
    let versions = req.root.join(VERSIONS);
    std::fs::create_dir_all(&versions).ctx(|| format!("creating {}", versions.display()))?;
    let key = key(&req.python, &req.version, &req.requirements.bytes);
    let dir = versions.join(&key);
    let lock_path = versions.join(format!("{key}.lock"));
    let lock = DirLock::take(&lock_path, req.lock_timeout, interrupt)?;
    let mut env = PreparedEnv {
        python: dir.join("bin").join("python3"),
        dir,
        fresh: false,
        root: req.root.clone(),
        lock: Some(lock),
    };
    let hex = req.requirements.sha256().hex();
    if complete(&env.dir, &hex) {
        return Ok(env);
    }
    // What an interrupted build left.
    remove_any(&env.dir)?;
    env.fresh = true;
    build::build(req, &env.dir, interrupt, on_line).map_err(|why| match why {
        build::Why::Interrupted => match interrupt.check() {
            Err(e) => e,
            Ok(()) => Error::Internal("interrupted without an interrupt".into()),
        },
        build::Why::Io(e) => e,
        build::Why::Said(why) => Error::EnvFailed {
            pack_ref: req.pack_ref.clone(),
            why,
        },
    })?;
    Ok(env)
}

/// How an installed pack's environment compares with its receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvState {
    /// None was built (none needed, or skipped).
    NotBuilt,
    /// `REF/python` leads to it and its marker is the receipt's.
    Ready,
    /// The link or the environment is gone.
    Missing,
    /// Its marker is not the receipt's requirements (rebuilt by someone else?).
    Stale,
}

/// Where `receipt`'s environment stands on disk.
pub fn state(receipt: &Receipt) -> EnvState {
    use crate::model::receipt::EnvStatus;
    let env = &receipt.env;
    let (EnvStatus::Ready, Some(path), Some(dir)) = (env.status, &env.path, &env.dir) else {
        return EnvState::NotBuilt;
    };
    let links_there = std::fs::canonicalize(path)
        .ok()
        .zip(std::fs::canonicalize(dir).ok())
        .is_some_and(|(a, b)| a == b);
    if !links_there || !dir.join("bin").join("python3").exists() {
        return EnvState::Missing;
    }
    let want = env.requirements.as_ref().map(Checksum::hex);
    match std::fs::read_to_string(dir.join(ENV_MARKER)) {
        Ok(marker) if Some(&marker) == want.as_ref() => EnvState::Ready,
        Ok(_) => EnvState::Stale,
        Err(_) => EnvState::Missing,
    }
}
