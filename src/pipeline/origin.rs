//! Where an installed (or locked) build can be fetched again: the store's private record of
//! the source as it was given (credentials included), else what the receipt or lockfile
//! records (redacted; the host's config supplies index headers for the URL's origin).

use crate::error::{Error, Result};
use crate::model::checksum::Checksum;
use crate::model::pack_ref::PackRef;
use crate::model::receipt::{ReceiptSource, SourceKind};
use crate::pack::locate::Subdir;
use crate::source::oci::OciReference;
use crate::source::{PackSource, Remembered};
use crate::store::StoreView;

/// The private record of the build of `pack_ref` with `content`, if this host has one.
pub(crate) fn remembered(
    store: &StoreView,
    pack_ref: &PackRef,
    content: &Checksum,
) -> Result<Option<Remembered>> {
    Ok(store
        .private_source(pack_ref, content)?
        .and_then(|v| serde_json::from_value(v).ok()))
}

/// The source to fetch a non-registry build again. With `pin`, a git source is fetched at
/// the recorded commit rather than the branch or tag it was installed from.
pub(crate) fn source_of(
    pack_ref: &PackRef,
    recorded: &ReceiptSource,
    remembered: Option<Remembered>,
    pin: bool,
) -> Result<PackSource> {
    let mut source = match remembered {
        Some(r) if !matches!(r.source, PackSource::Registry { .. }) => r.source,
        _ => from_record(pack_ref, recorded)?,
    };
    if let (true, PackSource::Git { git_ref, .. }, Some(commit)) =
        (pin, &mut source, &recorded.commit)
    {
        *git_ref = Some(commit.clone());
    }
    if let (true, PackSource::Oci { reference }, Some(digest)) =
        (pin, &mut source, &recorded.digest)
    {
        *reference = OciReference::parse(reference)?.pinned(digest);
    }
    Ok(source)
}

/// The recorded directory of the pack inside its source, for fetching it again (a registry
/// pack's comes from its index entry each time).
pub(crate) fn subdir_of(recorded: &ReceiptSource) -> Option<Subdir> {
    match recorded.kind {
        Some(SourceKind::Registry) => None,
        Some(SourceKind::Bundle) => recorded.origin.as_deref().and_then(subdir_of),
        _ => recorded
            .subdir
            .as_deref()
            .and_then(|s| Subdir::parse(s).ok()),
    }
}

fn from_record(pack_ref: &PackRef, recorded: &ReceiptSource) -> Result<PackSource> {
    let url = || -> Result<String> {
        let url = recorded
            .url
            .clone()
            .ok_or_else(|| no_source(pack_ref, "no URL"))?;
        if url.contains("***") {
            return Err(no_source(
                pack_ref,
                &format!(
                    "its URL {url} is recorded redacted and this host has no private record of it"
                ),
            ));
        }
        Ok(url)
    };
    let path = || {
        recorded
            .path
            .clone()
            .map(Into::into)
            .ok_or_else(|| no_source(pack_ref, "no path"))
    };
    Ok(match recorded.kind {
        Some(SourceKind::Git) => PackSource::Git {
            url: url()?,
            git_ref: recorded.git_ref.clone(),
        },
        Some(SourceKind::Archive) => PackSource::Archive { url: url()? },
        Some(SourceKind::Oci) => PackSource::Oci { reference: url()? },
        Some(SourceKind::OciLayout) => PackSource::OciLayout {
            path: path()?,
            name: recorded.git_ref.clone(),
        },
        Some(SourceKind::LocalDirectory) => PackSource::LocalDirectory { path: path()? },
        Some(SourceKind::LocalArchive) => PackSource::LocalArchive { path: path()? },
        Some(SourceKind::Registry) => {
            return Err(Error::Internal(
                "a registry source is resolved again".into(),
            ))
        }
        // A bundled pack is fetched again from where the bundle's creator got it.
        Some(SourceKind::Bundle) => match &recorded.origin {
            Some(origin) => return from_record(pack_ref, origin),
            None => return Err(no_source(pack_ref, "its bundle records no origin")),
        },
        None => {
            return Err(no_source(
                pack_ref,
                "it was not installed by attune-pack (placed by hand)",
            ))
        }
    })
}

fn no_source(pack_ref: &PackRef, why: &str) -> Error {
    Error::Usage(format!(
        "cannot fetch `{pack_ref}` again: {why}; install it again from its source"
    ))
}
