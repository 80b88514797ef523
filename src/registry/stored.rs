//! The pre-parsed form of a cached index document: what searching and resolving read of
//! every entry (ref, version, label, description, keywords), where each entry's text is in
//! the document, and the warnings its parse gave. Loading it instead of parsing the document
//! makes a warm command cost a fraction of a parse; a whole entry is parsed from its text
//! when it is used.
//!
//! It belongs to exactly one document: it carries the document's BLAKE2b-512 digest, and is
//! used only when the cache file's header carries the same one (see [`super::cache`]). The
//! same digest is what a minisign signature signs, so a signed index is verified against it
//! without hashing the document again.
//!
//! Layout (little-endian): magic, the digest, `last_updated` (plus one; 0 for none), the
//! warnings (a u32 count, then each a u32 length and UTF-8 bytes), the summaries' table
//! ([`super::summaries`]), and a CRC-32 of everything before it. A file whose CRC does not
//! match, or that does not decode, is ignored (the document is parsed instead): the table is
//! read lazily, so it is checked whole here, where that costs a pass over bytes already read.

use std::io::{self, Write};

use super::index::{Index, Parsed};
use super::summaries::{self, Reader, Summaries};

const MAGIC: &[u8; 8] = b"APIDX\0\0\x02";

/// A BLAKE2b-512 digest of a document.
pub type Digest = [u8; 64];

/// A decoded pre-parsed form.
#[derive(Debug)]
pub struct Stored {
    pub digest: Digest,
    pub last_updated: Option<u64>,
    pub warnings: Vec<String>,
    pub summaries: Summaries,
}

/// Writes the pre-parsed form of `parsed`, the parse of the document with `digest`, to `out`.
pub fn encode(out: &mut dyn Write, digest: &Digest, parsed: &Parsed) -> io::Result<()> {
    let mut head = Vec::new();
    head.extend_from_slice(&parsed.last_updated.map_or(0, |t| t + 1).to_le_bytes());
    summaries::put_len(&mut head, parsed.warnings.len());
    for s in &parsed.warnings {
        summaries::put_text(&mut head, s);
    }
    let mut crc = crc32fast::Hasher::new();
    for part in [&MAGIC[..], digest, &head, parsed.summaries.as_bytes()] {
        crc.update(part);
        out.write_all(part)?;
    }
    out.write_all(&crc.finalize().to_le_bytes())
}

/// The pre-parsed form in `bytes` (a whole file), or `None` when it is not one this version
/// writes or is damaged.
pub fn decode(mut bytes: Vec<u8>) -> Option<Stored> {
    let (body, crc) = bytes.split_last_chunk::<4>()?;
    if crc32fast::hash(body) != u32::from_le_bytes(*crc) {
        return None;
    }
    bytes.truncate(bytes.len() - 4);
    let rest = bytes.strip_prefix(MAGIC)?;
    let (digest, rest) = rest.split_first_chunk::<64>()?;
    let mut r = Reader(rest);
    let last_updated = r.u64()?.checked_sub(1);
    // Each warning takes at least its length's 4 bytes: a damaged count allocates nothing.
    let count = usize::try_from(r.u32()?).ok()?;
    let warnings = (0..count.min(r.0.len() / 4))
        .map(|_| r.text().map(str::to_owned))
        .collect::<Option<_>>()?;
    let (digest, at) = (*digest, bytes.len() - r.0.len());
    Some(Stored {
        digest,
        last_updated,
        warnings,
        summaries: Summaries::from_bytes(bytes, at)?,
    })
}

impl Stored {
    /// The index it describes, reading whole entries from `document`, and the warnings the
    /// document's parse gave.
    pub fn into_index(
        self,
        document: std::sync::Arc<dyn super::index::EntryBytes>,
        name: &str,
    ) -> (Index, Vec<String>) {
        let index = Index::lazy(self.summaries, self.last_updated, document, name);
        (index, self.warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use semver::Version;

    use super::super::index::InMemory;

    fn encoded(digest: &Digest, parsed: &Parsed) -> Vec<u8> {
        let mut out = Vec::new();
        encode(&mut out, digest, parsed).unwrap();
        out
    }

    #[test]
    fn round_trips_and_reads_whole_entries_from_the_document() {
        let doc = br#"{"last_updated":"2025-01-01T00:00:00Z","packs":[
          {"ref":"a","version":"1.0","label":"A","keywords":["x","y"],
           "install_sources":[{"type":"archive","url":"u"},{"type":"svn","url":"o"}]},
          {"ref":"b","version":"banana"},
          {"ref":"a","version":"2.0.0-rc.1","description":"Dx","install_sources":[{"type":"git","url":"g"}]}
        ]}"#;
        let (whole, whole_warnings) = Index::parse(doc, "main").unwrap();
        let parsed = Index::parse_spanned(doc, "main").unwrap();
        assert_eq!(parsed.warnings, whole_warnings);
        let bytes = encoded(&[7; 64], &parsed);
        let stored = decode(bytes.clone()).unwrap();
        assert_eq!(stored.digest, [7; 64]);
        let (lazy, warnings) =
            stored.into_index(std::sync::Arc::new(InMemory(doc.to_vec())), "main");
        assert_eq!(warnings, parsed.warnings);
        assert_eq!(lazy.last_updated, whole.last_updated);
        assert_eq!(lazy.summaries().count(), 2);
        for (l, w) in lazy.summaries().zip(whole.summaries()) {
            assert_eq!(lazy.entry(&l).unwrap(), whole.entry(&w).unwrap());
        }
        let first = lazy.entry(&lazy.summaries().next().unwrap()).unwrap();
        assert_eq!(
            (first.label.as_str(), first.install_sources.len()),
            ("A", 1)
        );
        let rc = Version::parse("2.0.0-rc.1").unwrap();
        let found = lazy.versions_of("a").find(|e| e.version == rc).unwrap();
        assert_eq!(lazy.entry(&found).unwrap().description, "Dx");
        let keywords: Vec<_> = lazy.versions_of("a").next().unwrap().keywords().collect();
        assert_eq!(keywords, ["x", "y"]);
        for cut in [0, 8, 72, bytes.len() - 1] {
            assert!(decode(bytes[..cut].to_vec()).is_none(), "{cut}");
        }
        // Any flipped byte is caught by the CRC, not read as another table.
        for at in (0..bytes.len()).step_by(7) {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x20;
            assert!(decode(flipped).is_none(), "{at}");
        }
    }

    #[test]
    fn a_summary_whose_text_is_another_entry_is_refused() {
        let doc = br#"{"packs":[{"ref":"a","version":"1.0.0","install_sources":[{"type":"git","url":"g"}]}]}"#;
        let parsed = Index::parse_spanned(doc, "main").unwrap();
        let stored = decode(encoded(&[0; 64], &parsed)).unwrap();
        let other = std::str::from_utf8(doc)
            .unwrap()
            .replace(r#""a""#, r#""b""#);
        let (lazy, _) =
            stored.into_index(std::sync::Arc::new(InMemory(other.into_bytes())), "main");
        let e = lazy
            .entry(&lazy.versions_of("a").next().unwrap())
            .unwrap_err();
        assert!(e.contains("no longer holds it"), "{e}");
    }
}
