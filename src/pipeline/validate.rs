//! Stages 2–4: the pack root located, the required checksums verified, pack.yaml read and
//! matched against what the source promised. A checksum is verified before anything in the
//! source is read: tampering is a checksum mismatch, whatever else is wrong with it.

use crate::context::{blocking, Context};
use crate::error::{Checked, Error, Result};
use crate::integrity::hashing::attune_directory_checksum;
use crate::model::checksum::{Algorithm, Checksum};
use crate::model::events::{Event, Phase};
use crate::pack::locate::{locate_in, Located};
use crate::pack::manifest::Manifest;

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
    /// The text the content checksum hashes, one line per file (see
    /// `ContentDigest::listing_under`), from the digests taken while the files were written.
    pub fn listing(&self) -> Vec<u8> {
        self.staged
            .fetched
            .tree
            .digest
            .listing_under(&self.located.rel)
    }

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
    // An index checksum that is not the archive's may still be the content checksum, or
    // Attune's own directory checksum: those are decided once the pack root is known.
    let mut unsettled = Vec::new();
    if !archive.is_empty() {
        for req in &required {
            let actual = archive_sum(archive, &req.checksum)?;
            match check(ctx, req, actual.clone(), Checked::Archive, &origin) {
                Err(_) if req.from_index && is_sha256(req) => unsettled.push((req, actual)),
                checked => checked?,
            }
        }
    }
    // Until those are settled the archive counts as tampered with: whatever else is wrong
    // with it is reported as the mismatch.
    let tampered = |e: Error| match (unsettled.first(), &e) {
        (_, Error::ChecksumMismatch { .. }) | (None, _) => e,
        (Some((req, actual)), _) => mismatch(req, actual.clone(), Checked::Archive, &origin),
    };
    let located = locate_in(&staged.tree_root, staged.subdir.as_ref(), &origin);
    let located = located.map_err(tampered)?;
    tree.check_links_within(&located.rel, &origin)
        .map_err(tampered)?;
    let content = tree.digest.checksum_under(&located.rel);
    let content_checked: Vec<_> = match archive.is_empty() {
        true => required.iter().map(|req| (req, None)).collect(),
        false => unsettled.iter().map(|(req, a)| (*req, Some(a))).collect(),
    };
    for (req, archive_sum) in content_checked {
        content_sha256(req)?;
        if req.checksum == content {
            continue;
        }
        let mismatch = match archive_sum {
            Some(actual) => mismatch(req, actual.clone(), Checked::Archive, &origin),
            None => mismatch(req, content.clone(), Checked::Content, &origin),
        };
        legacy(ctx, req, &located, mismatch, &origin).map_err(tampered)?;
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

/// A checksum `staged` must have.
struct Requirement {
    checksum: Checksum,
    /// Where the requirement comes from, for messages.
    from: String,
    /// It comes from an index, which Attune's own CLI may have written.
    from_index: bool,
}

/// The checksums `staged` must have.
fn required(staged: &Staged, checksum: Option<&Checksum>) -> Vec<Requirement> {
    let mut required = Vec::new();
    if let Some(sum) = checksum {
        required.push(Requirement {
            checksum: sum.clone(),
            from: "the checksum asked for".to_owned(),
            from_index: false,
        });
    }
    if let Some((checksum, from)) = staged.required.as_ref().and_then(|r| r.checksum.clone()) {
        required.push(Requirement {
            checksum,
            from,
            from_index: true,
        });
    }
    required
}

fn is_sha256(req: &Requirement) -> bool {
    req.checksum.algorithm == Algorithm::Sha256
}

/// After every strong form failed: an index checksum may be Attune's directory checksum of
/// the pack root, accepted with a warning unless `legacy_checksums` is off. Otherwise the
/// mismatch stands, and says that every form was tried.
fn legacy(
    ctx: &Context,
    req: &Requirement,
    located: &Located,
    mismatch: Error,
    origin: &str,
) -> Result<()> {
    if !req.from_index || !ctx.config().pack_registry.legacy_checksums {
        return Err(mismatch);
    }
    if attune_directory_checksum(&located.dir)? == req.checksum {
        ctx.warn(format!(
            "{origin}: {} is Attune's directory checksum, a weaker legacy form (file boundaries, exec bits and symlinks are not covered); accepted. Republish the entry with `attune-pack index entry` (or set pack_registry.legacy_checksums: false to refuse these)",
            req.from
        ));
        return Ok(());
    }
    Err(match mismatch {
        Error::ChecksumMismatch {
            checked,
            subject,
            from,
            expected,
            actual,
        } => Error::ChecksumMismatch {
            checked: match checked {
                Checked::Archive => Checked::AnyForm,
                _ => Checked::ContentOrAttune,
            },
            subject,
            from,
            expected,
            actual,
        },
        other => other,
    })
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
fn content_sha256(req: &Requirement) -> Result<()> {
    if is_sha256(req) {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "{}: content checksums (git and directory sources) are sha256, not {}",
        req.from, req.checksum.algorithm
    )))
}

/// `actual` must be what `req` requires; a weak algorithm is worth a warning.
fn check(
    ctx: &Context,
    req: &Requirement,
    actual: Checksum,
    checked: Checked,
    origin: &str,
) -> Result<()> {
    if req.checksum.algorithm.is_weak() {
        ctx.warn(format!(
            "{} uses {}, which is weak; prefer sha256",
            req.from, req.checksum.algorithm
        ));
    }
    if actual == req.checksum {
        return Ok(());
    }
    Err(mismatch(req, actual, checked, origin))
}

fn mismatch(req: &Requirement, actual: Checksum, checked: Checked, origin: &str) -> Error {
    Error::ChecksumMismatch {
        checked,
        subject: origin.to_owned(),
        from: req.from.clone(),
        expected: Box::new(req.checksum.clone()),
        actual: Box::new(actual),
    }
}
