//! What every archive extractor reports: the digest it measured of the archive bytes, and
//! the errors of a stream that is damaged or over the download limit. Both the tar and the
//! zip extractor use these; neither knows the other.

use std::io;

use crate::error::Error;
use crate::integrity::hashing::is_limit_exceeded;
use crate::model::checksum::Checksum;
use crate::safety::TreeWriter;

/// What extraction measured about the archive bytes.
#[derive(Debug, Clone)]
pub struct ArchiveDigest {
    /// One checksum per algorithm asked for.
    pub checksums: Vec<Checksum>,
}

/// Maps a read error of the archive stream: the download limit, or a corrupt archive.
pub(crate) fn stream_error(writer: &TreeWriter, e: io::Error, what: &str) -> Error {
    if is_limit_exceeded(&e) {
        return writer.download_limit_error(what);
    }
    corrupt(writer, &format!("{what}: {e}"))
}

pub(crate) fn corrupt(writer: &TreeWriter, message: &str) -> Error {
    corrupt_in(writer.origin(), message)
}

/// The archive `origin` is not readable as what it claims to be.
pub(crate) fn corrupt_in(origin: &str, message: &str) -> Error {
    Error::ArchiveCorrupt {
        archive: origin.to_owned(),
        message: message.to_owned(),
    }
}
