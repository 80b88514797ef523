//! Stages 2–4: the pack root located, the required checksums verified, pack.yaml read and
//! matched against what the source promised. A checksum is verified before anything in the
//! source is read: tampering is a checksum mismatch, whatever else is wrong with it.

use crate::checksum::{Algorithm, Checksum};
use crate::context::{blocking, Context};
use crate::error::{Checked, Error, Result};
use crate::events::{Event, Phase};
use crate::locate::{locate, Located};
use crate::manifest::Manifest;

use super::fetch::Staged;

/// A staged pack whose checksums match and whose pack.yaml is valid.
pub(crate) struct Validated {
    pub staged: Staged,
    pub located: Located,
    /// The content checksum of the pack root.
    pub content: Checksum,
    pub manifest: Manifest,
}

impl Validated {
    /// The archive's sha256, for the receipt (archive sources).
    pub fn archive_sha256(&self) -> Option<Checksum> {
        let archive = &self.staged.fetched.archive;
        archive
            .iter()
            .find(|c| c.algorithm == Algorithm::Sha256)
            .cloned()
    }
}

/// Validates `staged`; `checksum` is one the caller requires besides the index's. Locating
/// the root and reading pack.yaml touch the file system: they run off the async threads.
pub(crate) async fn validate(
    ctx: &Context,
    staged: Staged,
    checksum: Option<Checksum>,
) -> Result<Validated> {
    ctx.emit(Event::Phase(Phase::Validating));
    let ctx = ctx.clone();
    blocking(move || validate_staged(&ctx, staged, checksum.as_ref())).await
}

fn validate_staged(
    ctx: &Context,
    staged: Staged,
    checksum: Option<&Checksum>,
) -> Result<Validated> {
    let origin = staged.origin.clone();
    let required = required(&staged, checksum);
    let tree = &staged.fetched.tree;
    let archive = &staged.fetched.archive;
    if !archive.is_empty() {
        for (expected, from) in &required {
            check(
                ctx,
                expected,
                archive_sum(archive, expected)?,
                Checked::Archive,
                &origin,
                from,
            )?;
        }
    }
    let located = locate(&staged.tree_root, &origin)?;
    tree.check_links_within(&located.rel, &origin)?;
    let content = tree.digest.checksum_under(&located.rel);
    if archive.is_empty() {
        for (expected, from) in &required {
            content_sha256(expected, from)?;
            check(
                ctx,
                expected,
                content.clone(),
                Checked::Content,
                &origin,
                from,
            )?;
        }
    }
    // Errors name the source and the file inside it: the staging path is gone by the time
    // anyone reads them.
    let manifest = Manifest::load_as(
        &located.dir.join("pack.yaml"),
        &format!("{origin}: {}", located.rel_file("pack.yaml")),
    )?;
    if let Some(required) = &staged.required {
        required.identity.check(&manifest)?;
    }
    for w in &manifest.warnings {
        ctx.warn(w.clone());
    }
    Ok(Validated {
        staged,
        located,
        content,
        manifest,
    })
}

/// The checksums `staged` must have, each with where the requirement comes from.
fn required(staged: &Staged, checksum: Option<&Checksum>) -> Vec<(Checksum, String)> {
    let mut required = Vec::new();
    if let Some(sum) = checksum {
        required.push((sum.clone(), "the checksum asked for".to_owned()));
    }
    if let Some(index) = staged.required.as_ref().and_then(|r| r.checksum.clone()) {
        required.push(index);
    }
    required
}

/// The archive checksum measured with `expected`'s algorithm.
fn archive_sum(archive: &[Checksum], expected: &Checksum) -> Result<Checksum> {
    archive
        .iter()
        .find(|c| c.algorithm == expected.algorithm)
        .cloned()
        .ok_or_else(|| Error::Internal(format!("{} was not computed", expected.algorithm)))
}

/// Content checksums are sha256 only.
fn content_sha256(expected: &Checksum, from: &str) -> Result<()> {
    if expected.algorithm == Algorithm::Sha256 {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "{from}: content checksums (git and directory sources) are sha256, not {}",
        expected.algorithm
    )))
}

/// `actual` must be `expected`; a weak algorithm is worth a warning.
fn check(
    ctx: &Context,
    expected: &Checksum,
    actual: Checksum,
    checked: Checked,
    origin: &str,
    from: &str,
) -> Result<()> {
    if expected.algorithm.is_weak() {
        ctx.warn(format!(
            "{from} uses {}, which is weak; prefer sha256",
            expected.algorithm
        ));
    }
    if &actual == expected {
        return Ok(());
    }
    Err(Error::ChecksumMismatch {
        checked,
        subject: origin.to_owned(),
        from: from.to_owned(),
        expected: Box::new(expected.clone()),
        actual: Box::new(actual),
    })
}
