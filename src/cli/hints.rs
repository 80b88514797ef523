//! What to do about an error, in the command line's terms (its flags and commands): the
//! library states what happened, this adds the hint shown after it.

use attune_pack::{Checked, Error};

const ENV_FAILED: &str = "make its requirements reachable (config pip_index_url, pip_find_links; a wheel for each package that needs a compiler), or pass --skip-env to install without its environment";

/// Whether every unmet requirement is about the interpreter (and what else was found).
fn only_python(problems: &[String]) -> bool {
    problems
        .iter()
        .all(|p| p.starts_with("Python ") || p.starts_with("also found: "))
}

/// The hint for `error`, if there is one worth giving.
pub fn hint(error: &Error) -> Option<String> {
    let text = match error {
        Error::AlreadyInstalled { .. } => "pass --force to replace it",
        Error::Locked { .. } => "wait for it to finish, or raise --lock-timeout",
        Error::InsecureHttp(_) => {
            "use https, or pass --allow-http (config: pack_registry.allow_http) if you trust the network"
        }
        Error::RegistryRefused { .. } => {
            "--no-registry refuses registry references; give a path, an archive URL or a git URL"
        }
        Error::NoRegistry { disabled } => match disabled {
            true => "install from a path, an archive URL or a git URL, or enable the registry",
            false => "add one under pack_registry.indices in the config file",
        },
        Error::NoPacksDir => "pass --packs-dir DIR or set ATTUNE_PACKS_DIR",
        Error::Offline { .. } => "--offline is set: only cached indices and local sources are used",
        Error::CommitNotFound { candidates, .. } if !candidates.is_empty() => {
            "give more digits of the commit id"
        }
        Error::NotAnArchive { .. } => {
            "a git repository is installed from its .git URL, or with --ref"
        }
        Error::NeitherArchiveNorGit { archive, .. } => return hint(archive),
        // Only an interpreter is missing: no pack --with-deps could install helps.
        Error::DependencyUnmet { problems, .. } if only_python(problems) => {
            "set the config key `python` to an interpreter that meets it, or pass --skip-deps to install anyway"
        }
        Error::DependencyUnmet { .. } => {
            "install them first, pass --with-deps to install missing packs (from the registry, or from the git repositories named), or --skip-deps to install anyway"
        }
        Error::DependencyNotReplaced { .. } => "pass --force with --with-deps to replace it",
        Error::DependentsExist { .. } => "uninstall them first, or pass --force",
        Error::ChecksumMismatch { checked, .. } => checksum_hint(*checked),
        Error::AmbiguousPackLocation { .. } | Error::PackYamlMissing { .. } => {
            return subdir_hint(error)
        }
        Error::SignatureInvalid { .. } | Error::BundleTampered { .. } => {
            return Some(signature_hint(error).to_owned())
        }
        Error::ChecksumMissing(_) => {
            "the index maintainer can compute them with `attune-pack index entry`; or set pack_registry.verify_checksums: false (not recommended)"
        }
        Error::IdentityMismatch { .. } => {
            "the index entry and the published pack disagree; the index maintainer must fix one of them"
        }
        Error::TestsFailed(_) => {
            "fix the pack, or pass --skip-tests to install without running them"
        }
        Error::EnvFailed { .. } => ENV_FAILED,
        Error::NotInstalled(_) => "`attune-pack list` shows the installed packs",
        Error::PackNotFound {
            pack_ref,
            only_prereleases: true,
            ..
        } => {
            return Some(format!(
                "pre-releases are installed only when asked for, e.g. {pack_ref}@<version>"
            ))
        }
        Error::Conflict(_) => {
            "publish a new version, remove one of them, or pass --force to keep the later one"
        }
        Error::LocalSourceFromRemoteIndex { .. } => {
            "sources in an index fetched over http(s) must be http(s), git or ssh URLs"
        }
        Error::NothingToRollBack { keep_versions, .. } => match keep_versions {
            0 => "set keep_versions to 1 or more in the config to keep replaced versions",
            _ => "a version is kept once an update or install --force replaces it",
        },
        Error::BreaksDependents { .. } => {
            "update the dependents too, give a requirement they accept (update REF@REQ), or pass --force to change it anyway"
        }
        Error::LockMismatch { .. } => {
            "the source no longer serves what was locked (a moved tag, a re-published archive, or a tampered lockfile); run `attune-pack lock` again on the host the lockfile came from"
        }
        _ => return None,
    };
    Some(text.to_owned())
}

/// The `--subdir` that names one of the packs a source holds, when it holds several.
fn subdir_hint(error: &Error) -> Option<String> {
    let dir = match error {
        Error::AmbiguousPackLocation { found, .. } => found.first(),
        Error::PackYamlMissing { deeper, .. } => deeper.first(),
        _ => None,
    }?;
    Some(format!(
        "the source holds packs in subdirectories: install one with --subdir {dir}"
    ))
}

/// Where a checksum that did not match comes from, and how to compute the right one.
fn checksum_hint(checked: Checked) -> &'static str {
    match checked {
        Checked::Content => {
            "for git and directory sources the checksum is the content checksum of the pack root; `attune-pack checksum DIR` prints it for a directory, and `attune-pack index entry` writes it into an index entry"
        }
        Checked::Archive => {
            "the checksum covers the archive file's bytes; `attune-pack checksum FILE` prints it for a downloaded copy, and `attune-pack index entry` writes it into an index entry"
        }
        Checked::AnyForm | Checked::ContentOrAttune => {
            "a checksum Attune's CLI took over the author's directory also covers .git/ and build leftovers (__pycache__/, *.pyc), so it can match no published pack: the index maintainer should recompute it with `attune-pack index entry`"
        }
    }
}

/// The error as the command line prints it: the library's message, then the hint.
pub fn message(error: &Error) -> String {
    match hint(error) {
        Some(hint) => format!("{error}\n  hint: {hint}"),
        None => error.to_string(),
    }
}

/// Signed indices and bundles.
fn signature_hint(error: &Error) -> &'static str {
    match error {
        Error::SignatureInvalid { reason, .. } if reason.contains("older than") => {
            "someone may be replaying an old copy; pass --allow-downgrade only if you meant to go back to it"
        }
        Error::SignatureInvalid { subject, .. } if subject.starts_with("bundle") => {
            "check that --trusted-key (or bundle_trusted_keys in the config) is the public key of whoever signed it, or sign bundles with `bundle create --sign-key`"
        }
        Error::SignatureInvalid { .. } => {
            "do not use it until its publisher's signature verifies; if the publisher rotated keys, add the new public key to trusted_keys"
        }
        _ => "the bundle was corrupted or changed after it was written: copy it again from its source, or create it again with `attune-pack bundle create`",
    }
}
