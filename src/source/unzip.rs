//! Zip extraction. The central directory lists every entry before a byte is written, so every
//! check the [`TreeWriter`] makes runs first, in the archive's order (names, overlaps, links,
//! limits on the entries, local headers against the central directory); only then are the
//! files it let through written, by several threads at once, each reading its entries
//! through a cursor of its own. Links are created last, by [`TreeWriter::finish`], as for
//! every source. The archive's digest is taken by one more thread reading it front to back.

use std::io::{self, Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};
use crate::integrity::hashing::Hasher;
use crate::model::checksum::{Algorithm, Checksum};
use crate::safety::{Reserved, Rule, TreeWriter, MAX_NAME_BYTES};
use crate::source::extract::{corrupt, corrupt_in, stream_error, ArchiveDigest};
use crate::source::writers::write_reserved;

/// A cursor's buffer: a local header and the start of its data in one read.
const CURSOR_BUF: usize = 64 * 1024;
/// The archive is hashed in reads of this size.
const HASH_BUF: usize = 256 * 1024;

/// Bytes that can be read at any offset by several threads at once: a file (`pread`) or
/// a slice in memory.
pub trait ReadAt: Sync {
    /// Reads at `offset` into `buf`; returns how much was read (0 at the end).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// The length in bytes.
    fn size(&self) -> io::Result<u64>;
}

impl ReadAt for std::fs::File {
    #[cfg(unix)]
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(self, buf, offset)
    }
    #[cfg(windows)]
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        std::os::windows::fs::FileExt::seek_read(self, buf, offset)
    }
    fn size(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }
}

impl ReadAt for [u8] {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let start = usize::try_from(offset).map_or(self.len(), |o| o.min(self.len()));
        let n = buf.len().min(self.len() - start);
        buf[..n].copy_from_slice(&self[start..start + n]);
        Ok(n)
    }
    fn size(&self) -> io::Result<u64> {
        Ok(self.len() as u64)
    }
}

/// A buffered cursor over a [`ReadAt`]. Seeking keeps the buffer (a `BufReader` drops it on
/// every seek, and the zip reader seeks to each entry: each small entry cost a full refill);
/// cloning gives an independent cursor for another thread.
struct Cursor<'a, S: ?Sized> {
    src: &'a S,
    len: u64,
    pos: u64,
    buf: Vec<u8>,
    buf_start: u64,
}

impl<'a, S: ReadAt + ?Sized> Cursor<'a, S> {
    fn new(src: &'a S) -> io::Result<Self> {
        Ok(Cursor {
            src,
            len: src.size()?,
            pos: 0,
            buf: Vec::new(),
            buf_start: 0,
        })
    }
}

impl<S: ?Sized> Clone for Cursor<'_, S> {
    fn clone(&self) -> Self {
        Cursor {
            src: self.src,
            len: self.len,
            pos: self.pos,
            buf: Vec::new(),
            buf_start: 0,
        }
    }
}

impl<S: ReadAt + ?Sized> Read for Cursor<'_, S> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let buffered = self.buf_start..self.buf_start + self.buf.len() as u64;
        if !buffered.contains(&self.pos) {
            if out.len() >= CURSOR_BUF {
                let n = self.src.read_at(out, self.pos)?;
                self.pos += n as u64;
                return Ok(n);
            }
            self.buf.resize(CURSOR_BUF, 0);
            let n = self.src.read_at(&mut self.buf, self.pos)?;
            self.buf.truncate(n);
            self.buf_start = self.pos;
        }
        let at = (self.pos - self.buf_start) as usize;
        let n = out.len().min(self.buf.len() - at);
        out[..n].copy_from_slice(&self.buf[at..at + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl<S: ?Sized> Seek for Cursor<'_, S> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.pos)
    }
}

type Archive<'a, S> = zip::ZipArchive<Cursor<'a, S>>;

/// Extracts the zip in `src` through `writer`, hashing its bytes with `algorithms`.
pub fn extract_zip<S: ReadAt + ?Sized>(
    src: &S,
    writer: &mut TreeWriter,
    algorithms: &[Algorithm],
) -> Result<ArchiveDigest> {
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let hashing =
            (!algorithms.is_empty()).then(|| scope.spawn(|| hash_all(src, algorithms, &stop)));
        let extracted = extract_entries(src, writer);
        // A refused archive need not be read to its end.
        stop.store(extracted.is_err(), Ordering::Relaxed);
        let hashed = hashing.map(|h| h.join());
        extracted?;
        let checksums = match hashed {
            None => Vec::new(),
            Some(Err(_)) => return Err(Error::Internal("the zip hashing thread panicked".into())),
            Some(Ok(sums)) => sums.map_err(|e| stream_error(writer, e, "reading the archive"))?,
        };
        Ok(ArchiveDigest { checksums })
    })
}

/// The archive's digests, read front to back on a thread of its own.
fn hash_all<S: ReadAt + ?Sized>(
    src: &S,
    algorithms: &[Algorithm],
    stop: &AtomicBool,
) -> io::Result<Vec<Checksum>> {
    let mut hashers: Vec<Hasher> = algorithms.iter().map(|a| Hasher::new(*a)).collect();
    let mut buf = vec![0u8; HASH_BUF];
    let mut offset = 0;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Err(io::Error::other("stopped: the archive was refused"));
        }
        let n = src.read_at(&mut buf, offset)?;
        if n == 0 {
            return Ok(hashers.into_iter().map(Hasher::finish).collect());
        }
        hashers.iter_mut().for_each(|h| h.update(&buf[..n]));
        offset += n as u64;
    }
}

fn extract_entries<S: ReadAt + ?Sized>(src: &S, writer: &mut TreeWriter) -> Result<()> {
    let cursor = Cursor::new(src).map_err(|e| corrupt(writer, &format!("reading: {e}")))?;
    let mut zip = zip::ZipArchive::new(cursor)
        .map_err(|e| corrupt(writer, &format!("not a readable zip: {e}")))?;
    // The zip reader keys entries by name and keeps only the last of a repeated name, so a
    // duplicate would otherwise be replaced silently instead of refused.
    if zip.has_duplicate_names() {
        let start = zip.central_directory_start();
        let mut inner = zip.into_inner();
        let entry = first_duplicate_name(&mut inner, start)
            .unwrap_or_else(|| "(a name listed twice in the central directory)".into());
        return Err(writer.refuse(&entry, Rule::Duplicate));
    }
    let files = check_entries(&mut zip, writer)?;
    // Local headers that disagree with the central directory, or that it does not list, show
    // a streaming reader other files than the ones installed.
    zip.validate_header_consistency().map_err(|e| {
        writer.refuse(
            "(local file headers)",
            Rule::Ambiguous(format!(
                "the zip's local headers and central directory differ ({e})"
            )),
        )
    })?;
    write_files(&zip, files, writer)
}

/// Every entry through the writer's checks, in order: directories are made and links
/// recorded; regular files are reserved, to be written by [`write_files`].
fn check_entries<S: ReadAt + ?Sized>(
    zip: &mut Archive<'_, S>,
    writer: &mut TreeWriter,
) -> Result<Vec<(usize, Reserved)>> {
    let mut spans = Spans::default();
    let mut files = Vec::new();
    let mut declared = 0u64;
    for i in 0..zip.len() {
        // Raw: the local header is read (for the span) but nothing is decompressed yet.
        let file = zip
            .by_index_raw(i)
            .map_err(|e| corrupt(writer, &format!("entry #{i}: {e}")))?;
        let name = entry_name(&file, writer.origin())?;
        let start = file.header_start();
        let end = file.data_start().unwrap_or(start) + file.compressed_size();
        let (mode, is_dir, size) = (
            file.unix_mode().unwrap_or(0o644),
            file.is_dir(),
            file.size(),
        );
        drop(file);
        if let Some(other) = spans.insert(start, end, i) {
            let other = zip.name_for_index(other).and_then(|n| n.ok());
            let other = other.map_or_else(|| "(another entry)".into(), |n| n.into_owned());
            return Err(writer.refuse(&name, Rule::Overlapping { other }));
        }
        // The sizes the central directory declares, against the limit in archive order, so
        // the entry named is the same whichever thread writes first (the bytes actually
        // written are counted too, for sizes that lie).
        declared = declared.saturating_add(size);
        if declared > writer.limits().max_unpacked_bytes {
            return Err(writer.unpacked_limit_error(&name));
        }
        const S_IFMT: u32 = 0o170000;
        match mode & S_IFMT {
            0o120000 => symlink(zip, i, &name, writer)?,
            0o010000 => writer.special(&name, "FIFO")?,
            0o020000 | 0o060000 => writer.special(&name, "device file")?,
            0o140000 => writer.special(&name, "socket")?,
            _ if is_dir => writer.dir(&name)?,
            _ => match writer.reserve_file(&name, mode)? {
                Some(reserved) => files.push((i, reserved)),
                // Not installed (`.git/…`) and so never decompressed; its declared size
                // still counts, as the bytes of a stream that has to be read past would.
                None => writer.count_unpacked(&name, size)?,
            },
        }
    }
    Ok(files)
}

/// Reads a link's target (a longer one than a name may be is refused by the writer; reading
/// more would only cost memory) and records the link.
fn symlink<S: ReadAt + ?Sized>(
    zip: &mut Archive<'_, S>,
    i: usize,
    name: &str,
    writer: &mut TreeWriter,
) -> Result<()> {
    let mut file = zip
        .by_index(i)
        .map_err(|e| corrupt(writer, &format!("entry #{i}: {e}")))?;
    let mut target = String::new();
    let read = (&mut file)
        .take(MAX_NAME_BYTES as u64 + 1)
        .read_to_string(&mut target)
        .map_err(|_| writer.not_utf8(name))?;
    writer.count_unpacked(name, read as u64)?;
    writer.symlink(name, &target)
}

/// An entry's name: UTF-8 as stored, or legacy (CP437) names as zip decodes them; the path
/// rules then apply as usual.
fn entry_name<R: Read>(file: &zip::read::ZipFile<'_, R>, origin: &str) -> Result<String> {
    match String::from_utf8(file.name_raw().to_vec()) {
        Ok(n) => Ok(n),
        Err(_) => file
            .name()
            .map(|n| n.into_owned())
            .map_err(|_| Error::UnsafeArchive {
                origin: origin.to_owned(),
                entry: String::from_utf8_lossy(file.name_raw()).into_owned(),
                rule: Rule::NotUtf8,
            }),
    }
}

/// Writes the reserved files on several threads, each reading through a cursor of its own.
fn write_files<S: ReadAt + ?Sized>(
    zip: &Archive<'_, S>,
    files: Vec<(usize, Reserved)>,
    writer: &mut TreeWriter,
) -> Result<()> {
    let origin = writer.origin().to_owned();
    write_reserved(
        writer,
        files,
        || zip.clone(),
        |zip, (i, reserved), sink, buf| {
            let mut file = zip
                .by_index(i)
                .map_err(|e| corrupt_in(&origin, &format!("entry #{i}: {e}")))?;
            let name = entry_name(&file, &origin)?;
            sink.write(reserved, &name, &mut file, buf)
        },
    )
}

/// The byte ranges (local header to end of data) of the zip entries seen so far. Entries
/// whose ranges overlap are how zip bombs multiply one compressed stream, and how an archive
/// shows one content to attune-pack and another to a streaming reader.
/// Entries are kept by index, not name: a zip of 100,000 entries would hold every name twice.
#[derive(Default)]
struct Spans(std::collections::BTreeMap<u64, (u64, usize)>);

impl Spans {
    /// Records `[start, end)` for entry `index`; returns the entry it overlaps, if any.
    fn insert(&mut self, start: u64, end: u64, index: usize) -> Option<usize> {
        // The recorded ranges are disjoint, so the last one starting before `end` is the only
        // one that can reach past `start`.
        if let Some((_, (other_end, other))) = self.0.range(..end.max(start + 1)).next_back() {
            if *other_end > start {
                return Some(*other);
            }
        }
        self.0.insert(start, (end, index));
        None
    }
}

/// The first name that the zip central directory at `start` lists twice, read straight from
/// the central file headers (the zip reader has already merged them).
fn first_duplicate_name<R: Read + Seek>(reader: &mut R, start: u64) -> Option<String> {
    reader.seek(SeekFrom::Start(start)).ok()?;
    let mut seen = std::collections::HashSet::new();
    let mut fixed = [0u8; 46];
    loop {
        reader.read_exact(&mut fixed).ok()?;
        if fixed[..4] != *b"PK\x01\x02" {
            return None;
        }
        let field = |at: usize| usize::from(u16::from_le_bytes([fixed[at], fixed[at + 1]]));
        let (name_len, skip) = (field(28), field(30) + field(32));
        let mut name = vec![0u8; name_len];
        reader.read_exact(&mut name).ok()?;
        if !seen.insert(name.clone()) {
            return Some(String::from_utf8_lossy(&name).into_owned());
        }
        reader.seek(SeekFrom::Current(skip as i64)).ok()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_across_seeks_and_its_buffer() {
        let data: Vec<u8> = (0..CURSOR_BUF * 2 + 5).map(|i| (i % 251) as u8).collect();
        let mut c = Cursor::new(&data[..]).unwrap();
        let mut small = [0u8; 7];
        c.seek(SeekFrom::Start(10)).unwrap();
        c.read_exact(&mut small).unwrap();
        assert_eq!(small[..], data[10..17]);
        c.seek(SeekFrom::Current(-3)).unwrap();
        c.read_exact(&mut small).unwrap();
        assert_eq!(small[..], data[14..21]);
        let mut big = vec![0u8; CURSOR_BUF];
        c.seek(SeekFrom::End(-(CURSOR_BUF as i64) - 1)).unwrap();
        c.read_exact(&mut big).unwrap();
        assert_eq!(big[..], data[CURSOR_BUF + 4..CURSOR_BUF * 2 + 4]);
        let mut rest = Vec::new();
        c.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, [data[CURSOR_BUF * 2 + 4]]);
        assert!(c.seek(SeekFrom::Current(-(data.len() as i64) - 1)).is_err());
    }
}
