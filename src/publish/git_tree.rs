//! A git source's checksum as the published commit ships it: the content checksum of the
//! committed tree at the published ref, read from the local repository's object database
//! with gix (nothing checked out, no `git` program). An author's work tree holds what the
//! commit does not (an untracked `__pycache__/`, an edit not committed); hashing it would
//! publish a checksum no install of that ref can match.

use std::path::Path;

use gix::bstr::ByteSlice;
use gix::object::tree::EntryKind as GitKind;
use gix::ObjectId;

use crate::error::{Error, Result};
use crate::integrity::hashing::{sha256_bytes, ContentDigest, ContentEntry, EntryKind};
use crate::model::checksum::Checksum;
use crate::source::git::{resolve, Unresolved};
use crate::util::names::is_dotgit;

/// How many differing paths a warning names.
const SHOWN_DIFFERENCES: usize = 5;

/// The committed pack: its checksum, where it is in the repository, and what to warn about.
pub(crate) struct Committed {
    pub checksum: Checksum,
    /// The pack's directory relative to the repository root; `None` at the root.
    pub subdir: Option<String>,
    pub warnings: Vec<String>,
}

/// The ref to hash: the one given, or the default `v<version>` tag, which may not exist yet
/// (an author often builds the entry before tagging).
pub(crate) struct PublishedRef<'a> {
    pub name: &'a str,
    pub given: bool,
}

/// The committed tree at `git_ref` of the pack at `pack_dir`, compared with `work` (the
/// digests of the files on disk there). `None` when `pack_dir` is not in a git work tree.
pub(crate) fn committed(
    pack_dir: &Path,
    git_ref: PublishedRef<'_>,
    work: &ContentDigest,
) -> Result<Option<Committed>> {
    let Ok(repo) = gix::discover_opts(pack_dir, Default::default(), gix::open::Options::isolated())
    else {
        return Ok(None);
    };
    let Some(root) = repo.workdir().map(Path::to_path_buf) else {
        return Ok(None);
    };
    let repo_err = |context: String, e: gix::Error| Error::Git {
        url: root.display().to_string(),
        message: format!("{context}: {e}"),
        source: Some(Box::new(e)),
    };
    let subdir = subdir_of(pack_dir, &root)?;
    let mut warnings = Vec::new();
    let (commit, hashed) = commit_of(&repo, &root, &git_ref, &mut warnings)?;
    let tree = repo
        .find_commit(commit)
        .and_then(|c| c.tree())
        .map_err(|e| repo_err(format!("reading commit {commit}"), e))?;
    let id = match &subdir {
        None => tree.id,
        Some(dir) => subtree(&tree, dir).ok_or_else(|| {
            Error::NotFound(format!(
                "`{dir}` is not committed at `{}` ({commit}) in {}",
                git_ref.name,
                root.display()
            ))
        })?,
    };
    let mut digest = ContentDigest::default();
    hash_tree(&repo, id, "", &mut digest, &mut warnings)
        .map_err(|TreeError(context, e)| repo_err(context, e))?;
    if let Some(w) = differences(work, &digest, hashed, commit) {
        warnings.push(w);
    }
    Ok(Some(Committed {
        checksum: digest.checksum_under(""),
        subdir,
        warnings,
    }))
}

/// `pack_dir` relative to the work tree root, `/`-separated; `None` when it is the root.
fn subdir_of(pack_dir: &Path, root: &Path) -> Result<Option<String>> {
    let canonical = |p: &Path| {
        p.canonicalize()
            .map_err(|e| Error::io(format!("resolving {}", p.display()), e))
    };
    let (dir, root) = (canonical(pack_dir)?, canonical(root)?);
    let rel = dir.strip_prefix(&root).map_err(|_| {
        Error::Internal(format!("{} is not under {}", dir.display(), root.display()))
    })?;
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    let parts = parts
        .ok_or_else(|| Error::InvalidPack(format!("{}: the path is not UTF-8", rel.display())))?;
    Ok((!parts.is_empty()).then(|| parts.join("/")))
}

/// The commit `git_ref` names, and the name it was found by; the default ref missing falls
/// back to HEAD, with a warning.
fn commit_of<'a>(
    repo: &gix::Repository,
    root: &Path,
    git_ref: &PublishedRef<'a>,
    warnings: &mut Vec<String>,
) -> Result<(ObjectId, &'a str)> {
    let not_found = |candidates: Vec<String>| Error::CommitNotFound {
        url: root.display().to_string(),
        spec: git_ref.name.to_owned(),
        place: "in the repository",
        candidates,
    };
    match resolve(repo, git_ref.name) {
        Ok(id) => Ok((id, git_ref.name)),
        Err(Unresolved::NotFound) if !git_ref.given => {
            let head = repo.head_commit().map_err(|_| not_found(Vec::new()))?.id;
            warnings.push(format!(
                "`{}` is not in the repository yet: the git source's checksum is HEAD's ({head}); tag that commit `{}` before publishing",
                git_ref.name, git_ref.name
            ));
            Ok((head, "HEAD"))
        }
        Err(Unresolved::NotFound) => Err(not_found(Vec::new())),
        Err(Unresolved::Ambiguous(ids)) => {
            Err(not_found(ids.iter().map(ToString::to_string).collect()))
        }
        Err(Unresolved::Git(e)) => Err(Error::Git {
            url: root.display().to_string(),
            message: format!("resolving `{}`: {e}", git_ref.name),
            source: Some(Box::new(e)),
        }),
    }
}

/// The tree at `dir` (`a/b`) inside `tree`.
fn subtree(tree: &gix::Tree<'_>, dir: &str) -> Option<ObjectId> {
    let entry = tree.lookup_entry_by_path(dir).ok()??;
    entry.mode().is_tree().then(|| entry.object_id())
}

/// A gix failure while hashing, with what was being read.
struct TreeError(String, gix::Error);

/// The digests of the tree `id`, paths under `prefix`, as an install of it records them:
/// `.git` left out, submodules skipped (with a warning), links hashed by their target text.
fn hash_tree(
    repo: &gix::Repository,
    id: ObjectId,
    prefix: &str,
    digest: &mut ContentDigest,
    warnings: &mut Vec<String>,
) -> std::result::Result<(), TreeError> {
    let reading = |what: &str| format!("reading `{prefix}{what}`");
    let tree = repo.find_tree(id).map_err(|e| TreeError(reading(""), e))?;
    for entry in tree.iter() {
        let entry = entry.map_err(|e| TreeError(reading(""), e))?;
        let name = entry.filename().to_str_lossy();
        let path = format!("{prefix}{name}");
        if is_dotgit(&name) {
            continue;
        }
        let kind = match entry.kind() {
            GitKind::Tree => {
                hash_tree(
                    repo,
                    entry.oid().to_owned(),
                    &format!("{path}/"),
                    digest,
                    warnings,
                )?;
                continue;
            }
            GitKind::Commit => {
                warnings.push(format!(
                    "submodule `{path}` is not part of the pack (submodules are not fetched)"
                ));
                continue;
            }
            GitKind::Blob => EntryKind::File,
            GitKind::BlobExecutable => EntryKind::Executable,
            GitKind::Link => EntryKind::Symlink,
        };
        let blob = repo
            .find_blob(entry.oid())
            .map_err(|e| TreeError(reading(&name), e))?;
        digest.push(ContentEntry {
            path,
            kind,
            digest: sha256_bytes(&blob.data),
        });
    }
    Ok(())
}

/// A warning naming a few paths where the work tree and the committed tree differ.
fn differences(
    work: &ContentDigest,
    committed: &ContentDigest,
    git_ref: &str,
    commit: ObjectId,
) -> Option<String> {
    let diff = work.differences_from(committed);
    let mut differing: Vec<String> = diff
        .added
        .iter()
        .map(|p| format!("`{p}` (not committed)"))
        .chain(diff.changed.iter().map(|p| format!("`{p}` (modified)")))
        .chain(
            diff.removed
                .iter()
                .map(|p| format!("`{p}` (not in the work tree)")),
        )
        .collect();
    if differing.is_empty() {
        return None;
    }
    differing.sort();
    let total = differing.len();
    differing.truncate(SHOWN_DIFFERENCES);
    let more = match total - differing.len() {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    Some(format!(
        "the work tree differs from the committed tree at `{git_ref}` ({commit}) in {total} paths: {}{more}; the git source's checksum is the committed tree's",
        differing.join(", ")
    ))
}
