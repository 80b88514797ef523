//! What confines a pack's tests, which are the pack author's code run with attune-pack's
//! privileges. On Linux, Landlock makes the whole file system read-only to them but for their
//! scratch directory (and `/dev/null`); the ruleset is built here, in the parent, so that the
//! child only has to apply it between fork and exec. Run as root, they run as `test_user`
//! instead, owning their scratch copy. Without Landlock, the staged pack is made read-only
//! while they run, which holds against another user; against the installing user it does
//! not, and the re-hash of the staged pack before its commit is what remains.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, IoContext, Result};
use crate::model::receipt::Sandbox;

/// The confinement prepared for one pack's tests; the staged pack's modes are restored when
/// it is dropped.
pub struct Confinement {
    /// The Landlock ruleset, when the kernel has Landlock.
    ruleset: Option<OwnedFd>,
    /// The user and group to run as, when attune-pack runs as root.
    user: Option<(libc::uid_t, libc::gid_t)>,
    pub kind: Sandbox,
    _readonly: Option<ReadOnly>,
}

impl Confinement {
    /// Confines tests to `scratch` (which is handed to `test_user` when this process is
    /// root); without Landlock, `staged` is read-only until this is dropped.
    pub fn prepare(scratch: &Path, staged: &Path, test_user: &str) -> Result<Confinement> {
        // SAFETY: geteuid cannot fail.
        let user = match unsafe { libc::geteuid() } {
            0 => Some(lookup_user(test_user)?),
            _ => None,
        };
        if let Some((uid, gid)) = user {
            hand_over(scratch, uid, gid)?;
        }
        let ruleset = landlock::ruleset(scratch).map_err(|e| {
            Error::TestsFailed(format!(
                "cannot prepare the Landlock sandbox for the pack's tests in {}: {e}",
                scratch.display()
            ))
        })?;
        if ruleset.is_some() {
            return Ok(Confinement {
                ruleset,
                user,
                kind: Sandbox::Landlock,
                _readonly: None,
            });
        }
        Ok(Confinement {
            ruleset: None,
            user,
            kind: match user {
                Some(_) => Sandbox::Readonly,
                None => Sandbox::None,
            },
            _readonly: Some(ReadOnly::make(staged)?),
        })
    }

    /// Has `cmd` drop to the test user and enter the sandbox before it runs.
    pub fn apply(&self, cmd: &mut Command) {
        let ruleset = self.ruleset.as_ref().map(AsRawFd::as_raw_fd);
        let user = self.user;
        // SAFETY: only system calls (setgroups, setgid, setuid, prctl, landlock_restrict_self)
        // on values copied in, between fork and exec; the ruleset's descriptor stays open in
        // the parent until the command is spawned.
        unsafe {
            cmd.pre_exec(move || {
                if let Some((uid, gid)) = user {
                    if libc::setgroups(0, std::ptr::null()) != 0
                        || libc::setgid(gid) != 0
                        || libc::setuid(uid) != 0
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                if let Some(fd) = ruleset {
                    landlock::restrict_self(fd)?;
                }
                Ok(())
            });
        }
    }
}

/// The uid and gid of `name`, which must not be root.
fn lookup_user(name: &str) -> Result<(libc::uid_t, libc::gid_t)> {
    let unusable = |why: String| {
        Error::Usage(format!(
            "config `test_user`: {why}; pack tests run as this user when attune-pack runs as \
             root: name an unprivileged user of this host"
        ))
    };
    let c_name = CString::new(name).map_err(|_| unusable(format!("`{name}` holds a NUL")))?;
    // SAFETY: passwd is plain data (integers and pointers), for getpwnam_r to fill.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is to a live buffer of the length given.
    let rc = unsafe {
        libc::getpwnam_r(
            c_name.as_ptr(),
            &mut entry,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        )
    };
    if rc != 0 || found.is_null() {
        return Err(unusable(format!("there is no user `{name}`")));
    }
    if entry.pw_uid == 0 {
        return Err(unusable(format!("`{name}` is root")));
    }
    Ok((entry.pw_uid, entry.pw_gid))
}

/// Gives the scratch directory, and everything in it, to the test user.
fn hand_over(scratch: &Path, uid: libc::uid_t, gid: libc::gid_t) -> Result<()> {
    for entry in walkdir::WalkDir::new(scratch).follow_links(false) {
        let entry =
            entry.map_err(|e| Error::io(format!("reading {}", scratch.display()), e.into()))?;
        std::os::unix::fs::lchown(entry.path(), Some(uid), Some(gid))
            .ctx(|| format!("handing {} to the test user", entry.path().display()))?;
    }
    Ok(())
}

/// A tree made read-only; its modes are put back when this is dropped.
struct ReadOnly {
    modes: Vec<(PathBuf, u32)>,
}

impl ReadOnly {
    fn make(root: &Path) -> Result<ReadOnly> {
        use std::os::unix::fs::PermissionsExt;
        let mut made = ReadOnly { modes: Vec::new() };
        for entry in walkdir::WalkDir::new(root).follow_links(false) {
            let entry =
                entry.map_err(|e| Error::io(format!("reading {}", root.display()), e.into()))?;
            if entry.file_type().is_symlink() {
                continue;
            }
            let path = entry.path();
            let mode = entry
                .metadata()
                .map_err(|e| Error::io(format!("reading {}", path.display()), e.into()))?
                .permissions()
                .mode();
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & !0o222))
                .ctx(|| format!("making {} read-only for the pack's tests", path.display()))?;
            made.modes.push((path.to_owned(), mode));
        }
        Ok(made)
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        // Children last made, first restored: a directory is writable again after its files.
        for (path, mode) in self.modes.iter().rev() {
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(*mode));
        }
    }
}

#[cfg(target_os = "linux")]
mod landlock {
    use std::os::fd::OwnedFd;
    use std::path::Path;

    use ::landlock::{
        Access, AccessFs, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr, ABI,
    };

    /// The newest ABI this crate knows; older kernels get what they support of it.
    const ABI: ABI = ABI::V10;

    /// Read and execute everywhere, everything in `scratch`, reads and writes of `/dev/null`;
    /// `None` where the kernel has no Landlock (or a test of the fallback turned it off).
    pub fn ruleset(scratch: &Path) -> Result<Option<OwnedFd>, String> {
        if crate::util::failpoint::hit("pack_tests.landlock").is_err() {
            return Ok(None);
        }
        let rule = |path: &Path, access| {
            PathFd::new(path)
                .map(|fd| PathBeneath::new(fd, access))
                .map_err(|e| format!("{}: {e}", path.display()))
        };
        let created = Ruleset::default()
            .handle_access(AccessFs::from_all(ABI))
            .and_then(|r| r.create())
            .map_err(|e| e.to_string())?;
        let rules = [
            rule(Path::new("/"), AccessFs::from_read(ABI))?,
            rule(scratch, AccessFs::from_all(ABI))?,
            rule(Path::new("/dev/null"), AccessFs::from_file(ABI))?,
        ];
        let ruleset = created.add_rules(rules.map(Ok::<_, ::landlock::RulesetError>));
        Ok(ruleset.map_err(|e| e.to_string())?.into())
    }

    /// Enters the ruleset `fd`: what runs after, and every process it starts, is confined.
    /// Called between fork and exec, so system calls only.
    pub fn restrict_self(fd: i32) -> std::io::Result<()> {
        // SAFETY: prctl and landlock_restrict_self take plain integers.
        let entered = unsafe {
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
                && libc::syscall(libc::SYS_landlock_restrict_self, fd, 0) == 0
        };
        match entered {
            true => Ok(()),
            false => Err(std::io::Error::last_os_error()),
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod landlock {
    use std::os::fd::OwnedFd;
    use std::path::Path;

    pub fn ruleset(_scratch: &Path) -> Result<Option<OwnedFd>, String> {
        Ok(None)
    }

    pub fn restrict_self(_fd: i32) -> std::io::Result<()> {
        Ok(())
    }
}
