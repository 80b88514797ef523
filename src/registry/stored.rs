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
//! Layout (little-endian): magic, format, digest, `last_updated`, warnings, entries; strings
//! are a u32 length and UTF-8 bytes. Anything that does not decode is ignored (the document
//! is parsed instead).

use std::io::{self, Write};

use semver::Version;

use crate::pack_ref::PackRef;

use super::index::{Index, Parsed, Span, Stub};

const MAGIC: &[u8; 8] = b"APIDX\0\0\x01";

/// A BLAKE2b-512 digest of a document.
pub type Digest = [u8; 64];

/// A decoded pre-parsed form.
#[derive(Debug)]
pub struct Stored {
    pub digest: Digest,
    pub last_updated: Option<u64>,
    pub warnings: Vec<String>,
    pub stubs: Vec<Stub>,
}

/// Writes the pre-parsed form of `parsed`, the parse of the document with `digest`, to `out`
/// as it goes: next to a large document it is not held in memory too.
pub fn encode(out: &mut dyn Write, digest: &Digest, parsed: &Parsed) -> io::Result<()> {
    out.write_all(MAGIC)?;
    out.write_all(digest)?;
    let mut w = Writer(out);
    w.u64(parsed.last_updated.map_or(0, |t| t + 1))?;
    w.u64(parsed.warnings.len() as u64)?;
    for s in &parsed.warnings {
        w.text(s)?;
    }
    w.u64(parsed.stubs.len() as u64)?;
    for e in &parsed.stubs {
        w.text(&e.pack_ref)?;
        w.text(&e.version.to_string())?;
        w.text(&e.label)?;
        w.text(&e.description)?;
        w.u64(e.keywords.len() as u64)?;
        for k in &e.keywords {
            w.text(k)?;
        }
        w.u64(e.pos as u64)?;
        w.u64(e.span.start)?;
        w.u64(e.span.len)?;
    }
    Ok(())
}

/// The pre-parsed form in `bytes`, or `None` when it is not one this version writes.
pub fn decode(bytes: &[u8]) -> Option<Stored> {
    let rest = bytes.strip_prefix(MAGIC)?;
    let (digest, rest) = rest.split_first_chunk::<64>()?;
    let mut r = Reader(rest);
    let last_updated = r.u64()?.checked_sub(1);
    let warnings = (0..r.count()?)
        .map(|_| r.text().map(str::to_owned))
        .collect::<Option<_>>()?;
    let stubs = (0..r.count()?).map(|_| r.stub()).collect::<Option<_>>()?;
    r.0.is_empty().then_some(Stored {
        digest: *digest,
        last_updated,
        warnings,
        stubs,
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
        let index = Index::lazy(self.stubs, self.last_updated, document, name);
        (index, self.warnings)
    }
}

struct Writer<'a>(&'a mut dyn Write);

impl Writer<'_> {
    fn u64(&mut self, n: u64) -> io::Result<()> {
        self.0.write_all(&n.to_le_bytes())
    }

    fn text(&mut self, s: &str) -> io::Result<()> {
        self.u64(s.len() as u64)?;
        self.0.write_all(s.as_bytes())
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn u64(&mut self) -> Option<u64> {
        let (n, rest) = self.0.split_first_chunk::<8>()?;
        self.0 = rest;
        Some(u64::from_le_bytes(*n))
    }

    /// A count of items that each take at least 8 bytes, checked against what is left, so a
    /// damaged count cannot make a huge allocation.
    fn count(&mut self) -> Option<usize> {
        let n = usize::try_from(self.u64()?).ok()?;
        (n <= self.0.len() / 8).then_some(n)
    }

    fn text(&mut self) -> Option<&'a str> {
        let len = usize::try_from(self.u64()?).ok()?;
        let (s, rest) = self.0.split_at_checked(len)?;
        self.0 = rest;
        std::str::from_utf8(s).ok()
    }

    fn stub(&mut self) -> Option<Stub> {
        let pack_ref = PackRef::new(self.text()?)?;
        let version = Version::parse(self.text()?).ok()?;
        let label = self.text()?.to_owned();
        let description = self.text()?.to_owned();
        let keywords = (0..self.count()?)
            .map(|_| self.text().map(str::to_owned))
            .collect::<Option<_>>()?;
        Some(Stub {
            pack_ref,
            version,
            label,
            description,
            keywords,
            pos: usize::try_from(self.u64()?).ok()?,
            span: Span {
                start: self.u64()?,
                len: self.u64()?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
           "install_sources":[{"type":"archive","url":"u"},{"type":"oci","url":"o"}]},
          {"ref":"b","version":"banana"},
          {"ref":"a","version":"2.0.0-rc.1","description":"Dx","install_sources":[{"type":"git","url":"g"}]}
        ]}"#;
        let (whole, whole_warnings) = Index::parse(doc, "main").unwrap();
        let parsed = Index::parse_spanned(doc, "main").unwrap();
        assert_eq!(parsed.warnings, whole_warnings);
        let bytes = encoded(&[7; 64], &parsed);
        let stored = decode(&bytes).unwrap();
        assert_eq!(stored.digest, [7; 64]);
        let (lazy, warnings) =
            stored.into_index(std::sync::Arc::new(InMemory(doc.to_vec())), "main");
        assert_eq!(warnings, parsed.warnings);
        assert_eq!(lazy.last_updated, whole.last_updated);
        assert_eq!(lazy.len(), 2);
        for at in 0..2 {
            assert_eq!(lazy.entry(at).unwrap(), whole.entry(at).unwrap());
        }
        let first = lazy.entry(0).unwrap();
        assert_eq!(
            (first.label.as_str(), first.install_sources.len()),
            ("A", 1)
        );
        let rc = Version::parse("2.0.0-rc.1").unwrap();
        let found = lazy.versions_of("a").find(|e| *e.version == rc);
        assert_eq!(found.unwrap().description, "Dx");
        assert_eq!(lazy.summary(0).keywords, ["x", "y"]);
        for cut in [0, 8, 72, bytes.len() - 1] {
            assert!(decode(&bytes[..cut]).is_none(), "{cut}");
        }
    }

    #[test]
    fn a_stub_whose_text_is_another_entry_is_refused() {
        let doc = br#"{"packs":[{"ref":"a","version":"1.0.0","install_sources":[{"type":"git","url":"g"}]}]}"#;
        let parsed = Index::parse_spanned(doc, "main").unwrap();
        let stored = decode(&encoded(&[0; 64], &parsed)).unwrap();
        let other = std::str::from_utf8(doc)
            .unwrap()
            .replace(r#""a""#, r#""b""#);
        let (lazy, _) =
            stored.into_index(std::sync::Arc::new(InMemory(other.into_bytes())), "main");
        let e = lazy.entry(0).unwrap_err();
        assert!(e.contains("no longer holds it"), "{e}");
    }
}
