//! The summaries of an index's entries (ref, version, label, description, keywords, and where
//! each entry's text is in the document) in one compact byte table, grouped by ref behind a
//! sorted directory. Resolving a ref decodes only that ref's few records, so a warm command
//! does not pay for the tens of thousands it does not use; a search decodes them all, one at
//! a time, allocating nothing per record but its version.
//!
//! The same bytes are what the cache keeps as an index's pre-parsed form ([`super::stored`]).
//! Layout (little-endian): record count u64, ref count u64, then per ref (in byte order of the
//! refs) the offset of its first record and its record count (u64 each), then the records, a
//! ref's in the index's order: ref, version, label, description (each a u32 length and UTF-8
//! bytes), keyword count u32 and keywords, the entry's position u64 and its text's span (start
//! and length, u64). A table read back from a file was checked whole (see
//! [`super::stored`]); a record that still does not decode is skipped, never trusted.

use std::collections::HashMap;
use std::ops::Range;

use semver::Version;

use crate::model::pack_ref::PackRef;

/// The summaries of an index's kept entries.
#[derive(Debug, Clone, Default)]
pub struct Summaries {
    /// The table, at `at..` (what precedes it is the file it was read from).
    bytes: Vec<u8>,
    at: usize,
    records: usize,
    refs: usize,
}

/// Where an entry's JSON text is in its document: byte offset and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: u64,
    pub len: u64,
}

/// What searching and resolving see of an entry; [`super::index::Index::entry`] reads the
/// whole entry it summarizes.
#[derive(Debug, Clone)]
pub struct Summary<'a> {
    pub pack_ref: &'a str,
    pub version: Version,
    pub label: &'a str,
    pub description: &'a str,
    keywords: &'a [u8],
    keyword_count: u32,
    /// The entry's position in the document's `packs` list (for its warnings' labels).
    pub pos: usize,
    pub span: Span,
}

impl<'a> Summary<'a> {
    pub fn keywords(&self) -> impl Iterator<Item = &'a str> {
        let mut r = Reader(self.keywords);
        (0..self.keyword_count).map_while(move |_| r.text())
    }
}

/// Collects summaries in the index's order and lays them out by ref.
#[derive(Debug, Default)]
pub struct Builder {
    records: Vec<u8>,
    by_ref: HashMap<PackRef, Vec<(Version, Range<usize>)>>,
}

/// An entry's summarized fields.
pub struct Fields<'a> {
    pub pack_ref: &'a PackRef,
    pub version: &'a Version,
    pub label: &'a str,
    pub description: &'a str,
    pub keywords: &'a [String],
    pub pos: usize,
    pub span: Span,
}

impl Builder {
    /// Adds an entry; `false` (and nothing added) when this version of the pack is already in.
    pub fn add(&mut self, f: Fields) -> bool {
        let versions = self.by_ref.entry(f.pack_ref.clone()).or_default();
        if versions.iter().any(|(v, _)| v == f.version) {
            return false;
        }
        let start = self.records.len();
        let out = &mut self.records;
        put_text(out, f.pack_ref.as_str());
        put_text(out, &f.version.to_string());
        put_text(out, f.label);
        put_text(out, f.description);
        put_len(out, f.keywords.len());
        for k in f.keywords {
            put_text(out, k);
        }
        for n in [f.pos as u64, f.span.start, f.span.len] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        versions.push((f.version.clone(), start..self.records.len()));
        true
    }

    pub fn finish(self) -> Summaries {
        let mut refs: Vec<_> = self.by_ref.into_iter().collect();
        refs.sort_unstable_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        let records: usize = refs.iter().map(|(_, v)| v.len()).sum();
        let mut bytes = Vec::with_capacity(16 + refs.len() * 16 + self.records.len());
        bytes.extend_from_slice(&(records as u64).to_le_bytes());
        bytes.extend_from_slice(&(refs.len() as u64).to_le_bytes());
        let mut offset = 0;
        for (_, versions) in &refs {
            bytes.extend_from_slice(&(offset as u64).to_le_bytes());
            bytes.extend_from_slice(&(versions.len() as u64).to_le_bytes());
            offset += versions.iter().map(|(_, r)| r.len()).sum::<usize>();
        }
        for (_, versions) in &refs {
            for (_, range) in versions {
                bytes.extend_from_slice(&self.records[range.clone()]);
            }
        }
        Summaries {
            bytes,
            at: 0,
            records,
            refs: refs.len(),
        }
    }
}

impl Summaries {
    /// The table at `at..` of `bytes`, or `None` when its counts do not fit in it.
    pub fn from_bytes(bytes: Vec<u8>, at: usize) -> Option<Summaries> {
        let mut r = Reader(bytes.get(at..)?);
        let records = usize::try_from(r.u64()?).ok()?;
        let refs = usize::try_from(r.u64()?).ok()?;
        // Every ref has a directory slot and at least one record, of at least 44 bytes (four
        // lengths, a keyword count and three numbers).
        let room = r.0.len();
        let fits = refs <= records
            && refs.checked_mul(16).is_some_and(|d| d <= room)
            && records.checked_mul(44).is_some_and(|n| n <= room);
        fits.then_some(Summaries {
            bytes,
            at,
            records,
            refs,
        })
    }

    /// The table's bytes (for the cache file).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[self.at..]
    }

    /// Every entry's summary, grouped by ref in byte order, each ref's in the index's order.
    pub fn all(&self) -> impl Iterator<Item = Summary<'_>> {
        let mut r = Reader(self.records_bytes());
        (0..self.records).map_while(move |_| r.summary())
    }

    /// Every version of `pack_ref`, in the index's order.
    pub fn of<'a>(&'a self, pack_ref: &str) -> impl Iterator<Item = Summary<'a>> {
        let (start, count) = self.find(pack_ref).unwrap_or((0, 0));
        let mut r = Reader(self.records_bytes().get(start..).unwrap_or_default());
        (0..count).map_while(move |_| r.summary())
    }

    fn records_bytes(&self) -> &[u8] {
        self.bytes
            .get(self.at + 16 + self.refs * 16..)
            .unwrap_or_default()
    }

    /// The offset and record count of `pack_ref`'s records (binary search of the directory,
    /// reading each probe's ref from its first record).
    fn find(&self, pack_ref: &str) -> Option<(usize, usize)> {
        let records = self.records_bytes();
        let slot = |i: usize| -> Option<(usize, usize)> {
            let mut r = Reader(self.bytes.get(self.at + 16 + i * 16..)?);
            Some((
                usize::try_from(r.u64()?).ok()?,
                usize::try_from(r.u64()?).ok()?,
            ))
        };
        let (mut low, mut high) = (0, self.refs);
        while low < high {
            let mid = low + (high - low) / 2;
            let (start, count) = slot(mid)?;
            let probe = Reader(records.get(start..)?).text()?;
            match probe.cmp(pack_ref) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => return Some((start, count)),
            }
        }
        None
    }
}

pub(super) fn put_len(out: &mut Vec<u8>, n: usize) {
    // An index entry's strings come from a document held in memory: none is 4 GiB.
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

pub(super) fn put_text(out: &mut Vec<u8>, s: &str) {
    put_len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

/// Reads the table's numbers and texts (the cache file's header uses the same).
pub(super) struct Reader<'a>(pub(super) &'a [u8]);

impl<'a> Reader<'a> {
    pub(super) fn u64(&mut self) -> Option<u64> {
        let (n, rest) = self.0.split_first_chunk::<8>()?;
        self.0 = rest;
        Some(u64::from_le_bytes(*n))
    }

    pub(super) fn u32(&mut self) -> Option<u32> {
        let (n, rest) = self.0.split_first_chunk::<4>()?;
        self.0 = rest;
        Some(u32::from_le_bytes(*n))
    }

    pub(super) fn text(&mut self) -> Option<&'a str> {
        let len = usize::try_from(self.u32()?).ok()?;
        let (s, rest) = self.0.split_at_checked(len)?;
        self.0 = rest;
        std::str::from_utf8(s).ok()
    }

    fn summary(&mut self) -> Option<Summary<'a>> {
        let pack_ref = self.text()?;
        let version = Version::parse(self.text()?).ok()?;
        let label = self.text()?;
        let description = self.text()?;
        let keyword_count = self.u32()?;
        let keywords = self.0;
        for _ in 0..keyword_count {
            self.text()?;
        }
        let keywords = &keywords[..keywords.len() - self.0.len()];
        Some(Summary {
            pack_ref,
            version,
            label,
            description,
            keywords,
            keyword_count,
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

    fn table(entries: &[(&str, &str, &[&str])]) -> Summaries {
        let mut b = Builder::default();
        for (pos, (r, v, keywords)) in entries.iter().enumerate() {
            let keywords: Vec<String> = keywords.iter().map(|k| k.to_string()).collect();
            b.add(Fields {
                pack_ref: &PackRef::new(r).unwrap(),
                version: &Version::parse(v).unwrap(),
                label: &format!("{r} label"),
                description: "",
                keywords: &keywords,
                pos,
                span: Span {
                    start: pos as u64 * 10,
                    len: 10,
                },
            });
        }
        b.finish()
    }

    #[test]
    fn finds_each_refs_versions_in_index_order_and_nothing_else() {
        let refs = ["m", "a", "zz", "b", "a-b", "c", "a"];
        let entries: Vec<(&str, &str, &[&str])> = refs
            .iter()
            .enumerate()
            .map(|(i, r)| (*r, ["1.0.0", "2.0.0-rc.1"][i / 6], &["k1", "k2"][..i % 3]))
            .collect();
        let t = table(&entries);
        assert_eq!(t.all().count(), 7);
        let a: Vec<_> = t
            .of("a")
            .map(|s| (s.version.to_string(), s.pos, s.span.start))
            .collect();
        assert_eq!(a, [("1.0.0".into(), 1, 10), ("2.0.0-rc.1".into(), 6, 60)]);
        for r in ["m", "zz", "b", "a-b", "c"] {
            let found: Vec<_> = t.of(r).map(|s| s.pack_ref).collect();
            assert_eq!(found, [r]);
        }
        for missing in ["", "0", "aa", "n", "zzz"] {
            assert_eq!(t.of(missing).count(), 0, "{missing}");
        }
        let all: Vec<_> = t.all().map(|s| s.pack_ref).collect();
        assert_eq!(all, ["a", "a", "a-b", "b", "c", "m", "zz"]);
        let kw: Vec<Vec<&str>> = t.of("zz").map(|s| s.keywords().collect()).collect();
        assert_eq!(kw, [vec!["k1", "k2"]]);
        assert_eq!(t.of("zz").next().unwrap().label, "zz label");
    }

    #[test]
    fn a_second_entry_of_a_version_is_refused() {
        let mut b = Builder::default();
        let r = PackRef::new("a").unwrap();
        let (one, two) = (Version::new(1, 0, 0), Version::new(1, 0, 1));
        let fields = |version, pos| Fields {
            pack_ref: &r,
            version,
            label: "",
            description: "",
            keywords: &[],
            pos,
            span: Span { start: 0, len: 1 },
        };
        assert!(b.add(fields(&one, 0)));
        assert!(!b.add(fields(&one, 1)));
        assert!(b.add(fields(&two, 2)));
        let t = b.finish();
        let positions: Vec<_> = t.of("a").map(|s| s.pos).collect();
        assert_eq!(positions, [0, 2]);
    }

    #[test]
    fn a_table_whose_counts_do_not_fit_its_bytes_is_refused() {
        let t = table(&[("a", "1.0.0", &[]), ("b", "1.0.0", &["k"])]);
        let bytes = t.as_bytes().to_vec();
        let mut framed = b"head".to_vec();
        framed.extend_from_slice(&bytes);
        let back = Summaries::from_bytes(framed, 4).unwrap();
        assert_eq!(back.of("b").next().unwrap().keywords().count(), 1);
        let mut lying = bytes.clone();
        lying[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(Summaries::from_bytes(lying, 0).is_none());
        assert!(Summaries::from_bytes(bytes[..10].to_vec(), 0).is_none());
        // A directory pointing past the records finds nothing rather than failing.
        let mut bad_slot = bytes;
        bad_slot[16..24].copy_from_slice(&1_000_000u64.to_le_bytes());
        let t = Summaries::from_bytes(bad_slot, 0).unwrap();
        assert_eq!(t.of("a").count(), 0);
    }
}
