//! Computing checksums: incremental hashers of every [`Algorithm`], readers that hash (and
//! count, and limit) what passes through them so archives are hashed while they are read,
//! and the content checksum (a digest over per-file digests taken while files are written).

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::Path;

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use crate::error::{Error, IoContext, Result};
use crate::fs::walk::{walk, Visit};
use crate::model::checksum::{Algorithm, Checksum};

/// An incremental hash of any supported algorithm.
#[derive(Clone)]
pub enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
    Sha1(Sha1),
    Md5(Md5),
}

impl Hasher {
    pub fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(Sha512::new()),
            Algorithm::Sha1 => Hasher::Sha1(Sha1::new()),
            Algorithm::Md5 => Hasher::Md5(Md5::new()),
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
            Hasher::Sha1(h) => h.update(bytes),
            Hasher::Md5(h) => h.update(bytes),
        }
    }

    pub fn finish(self) -> Checksum {
        let (algorithm, digest) = match self {
            Hasher::Sha256(h) => (Algorithm::Sha256, h.finalize().to_vec()),
            Hasher::Sha512(h) => (Algorithm::Sha512, h.finalize().to_vec()),
            Hasher::Sha1(h) => (Algorithm::Sha1, h.finalize().to_vec()),
            Hasher::Md5(h) => (Algorithm::Md5, h.finalize().to_vec()),
        };
        Checksum { algorithm, digest }
    }
}

/// A reader that hashes (with every requested algorithm) and counts the bytes passing through
/// it, and refuses to read past a byte limit. The archive checksum is known the moment the
/// extractor has consumed the stream; [`HashingReader::finish`] drains what the extractor left
/// unread (tar padding, trailing garbage) so the digest always covers the whole input.
pub struct HashingReader<R> {
    inner: R,
    hashers: Vec<Hasher>,
    bytes: u64,
    limit: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R, algorithms: &[Algorithm], limit: u64) -> Self {
        let mut hashers: Vec<Hasher> = algorithms.iter().map(|a| Hasher::new(*a)).collect();
        if hashers.is_empty() {
            hashers.push(Hasher::new(Algorithm::Sha256));
        }
        HashingReader {
            inner,
            hashers,
            bytes: 0,
            limit,
        }
    }

    /// Reads the rest of the input and returns one checksum per requested algorithm.
    pub fn finish(mut self) -> io::Result<(Vec<Checksum>, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        let bytes = self.bytes;
        Ok((
            self.hashers.into_iter().map(Hasher::finish).collect(),
            bytes,
        ))
    }
}

/// What a [`HashingReader`] reports, inside an `io::Error`, when its byte limit is passed.
#[derive(Debug, thiserror::Error)]
#[error("download size limit exceeded")]
pub struct LimitExceeded;

/// Whether `e` is a [`HashingReader`]'s limit tripping, however deep a decompressor or an
/// extractor wrapped it; callers turn it into an error naming the limit.
pub fn is_limit_exceeded(e: &io::Error) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if err.is::<LimitExceeded>() {
            return true;
        }
        current = match err.downcast_ref::<io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    false
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        if self.bytes > self.limit {
            return Err(io::Error::other(LimitExceeded));
        }
        for h in &mut self.hashers {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// Hashes a file's bytes in one streaming pass. Anything but a regular file (a FIFO, a
/// device) is refused: reading it could block for ever or never end.
pub fn file_checksum(path: &Path, algorithm: Algorithm) -> Result<Checksum> {
    let file = open_regular(path)?;
    let reader = HashingReader::new(file, &[algorithm], u64::MAX);
    let (mut sums, _) = reader
        .finish()
        .ctx(|| format!("reading {}", path.display()))?;
    Ok(sums.remove(0))
}

/// Opens `path` for reading without blocking on a FIFO, and refuses what is not a regular
/// file (checked on the open file, so nothing can be swapped in between).
fn open_regular(path: &Path) -> Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK);
    }
    let file = opts
        .open(path)
        .ctx(|| format!("opening {}", path.display()))?;
    let kind = file
        .metadata()
        .ctx(|| format!("reading {}", path.display()))?
        .file_type();
    if !kind.is_file() {
        return Err(Error::Usage(format!(
            "{} is not a regular file or a directory: nothing to checksum",
            path.display()
        )));
    }
    Ok(file)
}

/// What a content-checksum line says an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Executable,
    Symlink,
}

impl EntryKind {
    fn letter(self) -> char {
        match self {
            EntryKind::File => 'f',
            EntryKind::Executable => 'x',
            EntryKind::Symlink => 'l',
        }
    }
}

/// One line of the content checksum: a path relative to the tree root (`/`-separated), its
/// kind, and the sha256 of its bytes (or of a link's target text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentEntry {
    pub path: String,
    pub kind: EntryKind,
    pub digest: [u8; 32],
}

/// The per-file digests of a tree, gathered while the tree is written.
#[derive(Debug, Default, Clone)]
pub struct ContentDigest {
    entries: Vec<ContentEntry>,
}

impl ContentDigest {
    pub fn push(&mut self, entry: ContentEntry) {
        self.entries.push(entry);
    }

    pub fn entries(&self) -> &[ContentEntry] {
        &self.entries
    }

    /// Sets the digest of the entry at `index` (pushed before its file was written).
    pub(crate) fn set_digest(&mut self, index: usize, digest: [u8; 32]) {
        self.entries[index].digest = digest;
    }

    /// The paths and kinds of the entries under directory `prefix`, relative to it (what a
    /// pack's tar is written from).
    pub fn entries_under(&self, prefix: &str) -> Vec<(String, EntryKind)> {
        self.entries
            .iter()
            .filter_map(|e| strip_dir_prefix(&e.path, prefix).map(|p| (p.to_owned(), e.kind)))
            .collect()
    }

    /// The content checksum of the subtree at `prefix` (`""` for the whole tree), with paths
    /// taken relative to it, so a pack found in `pack/` hashes the same as the pack alone.
    pub fn checksum_under(&self, prefix: &str) -> Checksum {
        listing_checksum(&self.listing_under(prefix))
    }

    /// The text the content checksum of the subtree at `prefix` hashes: one
    /// `PATH\0KIND\0DIGEST\n` line per entry, sorted by path bytes. The store keeps it
    /// beside a receipt, so that `verify` can name the files that changed.
    pub fn listing_under(&self, prefix: &str) -> Vec<u8> {
        let mut lines: Vec<(&str, &ContentEntry)> = self
            .entries
            .iter()
            .filter_map(|e| strip_dir_prefix(&e.path, prefix).map(|p| (p, e)))
            .collect();
        lines.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut text = Vec::with_capacity(lines.len() * 100);
        for (path, e) in lines {
            text.extend_from_slice(path.as_bytes());
            text.extend_from_slice(&[0, e.kind.letter() as u8, 0]);
            text.extend_from_slice(hex::encode(e.digest).as_bytes());
            text.push(b'\n');
        }
        text
    }

    /// The entries of a listing ([`ContentDigest::listing_under`]) whose checksum is
    /// `expected`; `None` for one damaged or not of that checksum.
    pub fn from_listing(listing: &[u8], expected: &Checksum) -> Option<ContentDigest> {
        if listing_checksum(listing) != *expected {
            return None;
        }
        let mut digest = ContentDigest::default();
        for line in listing.split_inclusive(|b| *b == b'\n') {
            let mut fields = line.strip_suffix(b"\n")?.split(|b| *b == 0);
            let (Some(path), Some(kind), Some(hex), None) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                return None;
            };
            let kind = match kind {
                b"f" => EntryKind::File,
                b"x" => EntryKind::Executable,
                b"l" => EntryKind::Symlink,
                _ => return None,
            };
            let mut sha256 = [0u8; 32];
            hex::decode_to_slice(hex, &mut sha256).ok()?;
            digest.push(ContentEntry {
                path: String::from_utf8(path.to_vec()).ok()?,
                kind,
                digest: sha256,
            });
        }
        Some(digest)
    }

    /// How this tree differs from `base`, by path: a path whose kind (file, executable,
    /// symlink) or bytes differ is changed.
    pub fn differences_from(&self, base: &ContentDigest) -> Differences {
        let by_path = |d: &'_ ContentDigest| -> HashMap<String, (EntryKind, [u8; 32])> {
            d.entries
                .iter()
                .map(|e| (e.path.clone(), (e.kind, e.digest)))
                .collect()
        };
        let (ours, theirs) = (by_path(self), by_path(base));
        let mut diff = Differences::default();
        for (path, entry) in &ours {
            match theirs.get(path) {
                None => diff.added.push(path.clone()),
                Some(base) if base != entry => diff.changed.push(path.clone()),
                Some(_) => {}
            }
        }
        diff.removed = theirs
            .into_keys()
            .filter(|p| !ours.contains_key(p))
            .collect();
        for paths in [&mut diff.added, &mut diff.removed, &mut diff.changed] {
            paths.sort_unstable();
        }
        diff
    }
}

/// The paths where one tree differs from another, each list sorted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Differences {
    /// In this tree, not in the other.
    pub added: Vec<String>,
    /// In the other tree, not in this one.
    pub removed: Vec<String>,
    /// In both, with other bytes or another kind.
    pub changed: Vec<String>,
}

/// The content checksum of a listing: the sha256 of its text.
pub(crate) fn listing_checksum(listing: &[u8]) -> Checksum {
    Checksum {
        algorithm: Algorithm::Sha256,
        digest: Sha256::digest(listing).to_vec(),
    }
}

/// `a/b/c` under `a` is `b/c`; everything is under `""`.
pub(crate) fn strip_dir_prefix<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    if prefix.is_empty() {
        return Some(path);
    }
    path.strip_prefix(prefix)?.strip_prefix('/')
}

/// The sha256 of a byte slice, as the content checksum records it.
pub(crate) fn sha256_bytes(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// A writer adapter that hashes what is written through it (sha256), for per-file digests.
pub(crate) struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: io::Write> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    pub(crate) fn finish(self) -> (W, [u8; 32], u64) {
        (self.inner, self.hasher.finalize().into(), self.bytes)
    }
}

impl<W: io::Write> io::Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The content checksum of a directory as it is on disk (`attune-pack checksum DIR`): the
/// same definition as for installed packs, by the same walk as local-directory installs
/// (`.git` left out, symlinks hashed by target text, special files refused).
pub fn directory_checksum(dir: &Path) -> Result<Checksum> {
    Ok(directory_digest(dir)?.checksum_under(""))
}

/// The per-file digests of a directory as it is on disk (see [`directory_checksum`]), for
/// callers that also compare them with another tree's. The walk hands each file, opened, to
/// as many hashing threads as there are cores through a short queue: a large pack hashes at
/// the speed of the disk, each file is read once, and few descriptors are open at a time.
pub(crate) fn directory_digest(dir: &Path) -> Result<ContentDigest> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let (queue, jobs) = std::sync::mpsc::sync_channel::<FileJob>(2 * threads);
    let jobs = std::sync::Mutex::new(jobs);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| scope.spawn(|| hash_jobs(&jobs)))
            .collect();
        let mut digest = DirectoryDigest {
            root: dir,
            digest: ContentDigest::default(),
            queue,
        };
        let walked = walk(dir, &mut digest);
        let DirectoryDigest {
            digest: mut tree,
            queue,
            ..
        } = digest;
        drop(queue); // the workers end once the queue is drained
        let mut hashed = Vec::new();
        for worker in workers {
            let done = worker
                .join()
                .map_err(|_| Error::Internal("a hashing thread panicked".into()))?;
            hashed.push(done);
        }
        walked?;
        for (index, sha256) in hashed.into_iter().collect::<Result<Vec<_>>>()?.concat() {
            tree.set_digest(index, sha256);
        }
        Ok(tree)
    })
}

/// A file for a hashing thread: its entry's index, its path (for errors), the open file.
type FileJob = (usize, std::path::PathBuf, std::fs::File);

/// Hashes files off the queue until it is closed; after a failure the rest are only taken
/// off it (so the walk never blocks on a full queue) and the first failure is returned.
fn hash_jobs(
    jobs: &std::sync::Mutex<std::sync::mpsc::Receiver<FileJob>>,
) -> Result<Vec<(usize, [u8; 32])>> {
    let mut hashed = Vec::new();
    let mut failed = None;
    loop {
        let job = jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .recv();
        let Ok((index, path, file)) = job else {
            break;
        };
        if failed.is_some() {
            continue;
        }
        match HashingReader::new(file, &[Algorithm::Sha256], u64::MAX).finish() {
            Ok((mut sums, _)) => {
                let mut sha256 = [0u8; 32];
                sha256.copy_from_slice(&sums.remove(0).digest);
                hashed.push((index, sha256));
            }
            Err(e) => failed = Some(Error::io(format!("reading {}", path.display()), e)),
        }
    }
    failed.map_or(Ok(hashed), Err)
}

/// Attune's own directory checksum (its `calculate_directory_checksum`), which its CLI writes
/// into indices: sha256 over, for each regular file of a depth-first walk with each
/// directory's entries sorted by file name (links not followed, not hashed), the file's path
/// relative to `dir` and then its bytes, with no separators. The missing boundaries make it
/// weaker than the content checksum; it is only ever a fallback for indices Attune wrote.
pub fn attune_directory_checksum(dir: &Path) -> Result<Checksum> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(dir).display().to_string();
            Error::io(format!("walking {path}"), io::Error::other(e))
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry.path().strip_prefix(dir).unwrap_or(entry.path());
        hasher.update(rel.to_string_lossy().as_bytes());
        let mut file = std::fs::File::open(entry.path())
            .ctx(|| format!("reading {}", entry.path().display()))?;
        loop {
            let n = file
                .read(&mut buf)
                .ctx(|| format!("reading {}", entry.path().display()))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
    }
    Ok(Checksum {
        algorithm: Algorithm::Sha256,
        digest: hasher.finalize().to_vec(),
    })
}

/// The per-file digests of a directory being walked; its files' bytes are hashed by the
/// threads reading `queue`, and their digests filled in once they are done.
struct DirectoryDigest<'a> {
    root: &'a Path,
    digest: ContentDigest,
    queue: std::sync::mpsc::SyncSender<FileJob>,
}

impl Visit for DirectoryDigest<'_> {
    fn dir(&mut self, _name: &str) -> Result<()> {
        Ok(())
    }

    fn file(&mut self, name: &str, mode: u32, file: &mut std::fs::File) -> Result<()> {
        let path = self.root.join(name);
        // The walk closes its descriptor when this returns; the thread hashes through a
        // second one, of the same open file (what the walk checked is what is read).
        let file = file
            .try_clone()
            .ctx(|| format!("reading {}", path.display()))?;
        let index = self.digest.entries().len();
        self.digest.push(ContentEntry {
            path: name.to_owned(),
            kind: kind_for_mode(mode),
            digest: [0; 32],
        });
        self.queue
            .send((index, path, file))
            .map_err(|_| Error::Internal("the hashing threads stopped early".into()))
    }

    fn symlink(&mut self, name: &str, target: &str) -> Result<()> {
        self.digest.push(ContentEntry {
            path: name.to_owned(),
            kind: EntryKind::Symlink,
            digest: sha256_bytes(target.as_bytes()),
        });
        Ok(())
    }

    fn special(&mut self, name: &str, kind: &'static str) -> Result<()> {
        Err(Error::Usage(format!(
            "{}: `{name}` is a {kind}; a pack holds only files, directories and symlinks",
            self.root.display()
        )))
    }

    fn not_utf8(&self, name: &str) -> Error {
        Error::InvalidPack(format!(
            "{}: `{name}`: file name or link target is not UTF-8",
            self.root.display()
        ))
    }
}

/// `f` or `x`, by the owner-execute bit, as the reference's mode rule writes files.
pub(crate) fn kind_for_mode(mode: u32) -> EntryKind {
    if mode & 0o100 != 0 {
        EntryKind::Executable
    } else {
        EntryKind::File
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashing_reader_hashes_unread_tail_and_enforces_limit() {
        let data = b"hello world";
        let mut r = HashingReader::new(&data[..], &[Algorithm::Md5, Algorithm::Sha1], 100);
        let mut first = [0u8; 5];
        r.read_exact(&mut first).unwrap();
        let (sums, n) = r.finish().unwrap();
        assert_eq!(n, 11);
        assert_eq!(sums[0].hex(), "5eb63bbbe01eeed093cb22bb8f5acdc3");
        assert_eq!(sums[1].hex(), "2aae6c35c94fcfb415dbe95f408b9ce91ee846ed");
        let r = HashingReader::new(&data[..], &[Algorithm::Sha256], 4);
        assert!(is_limit_exceeded(&r.finish().unwrap_err()));
    }

    #[test]
    fn content_checksum_under_a_prefix_strips_it() {
        let mut d = ContentDigest::default();
        for path in ["pack/b", "pack/a", "README"] {
            d.push(ContentEntry {
                path: path.into(),
                kind: EntryKind::File,
                digest: sha256_bytes(b""),
            });
        }
        let mut alone = ContentDigest::default();
        for path in ["a", "b"] {
            alone.push(ContentEntry {
                path: path.into(),
                kind: EntryKind::File,
                digest: sha256_bytes(b""),
            });
        }
        assert_eq!(d.checksum_under("pack"), alone.checksum_under(""));
        assert_ne!(d.checksum_under(""), alone.checksum_under(""));
    }

    fn entry(path: &str, kind: EntryKind, bytes: &[u8]) -> ContentEntry {
        ContentEntry {
            path: path.into(),
            kind,
            digest: sha256_bytes(bytes),
        }
    }

    #[test]
    fn a_listing_reads_back_only_under_its_own_checksum() {
        let mut d = ContentDigest::default();
        d.push(entry("b/run.sh", EntryKind::Executable, b"#!/bin/sh\n"));
        d.push(entry("a", EntryKind::Symlink, b"b/run.sh"));
        let listing = d.listing_under("");
        let sum = d.checksum_under("");
        let back = ContentDigest::from_listing(&listing, &sum).unwrap();
        assert_eq!(back.checksum_under(""), sum);
        assert_eq!(back.entries()[0].path, "a", "sorted by path");
        let mut damaged = listing.clone();
        damaged[0] = b'z';
        assert!(ContentDigest::from_listing(&damaged, &sum).is_none());
        let empty = ContentDigest::default();
        let none = ContentDigest::from_listing(b"", &empty.checksum_under(""));
        assert!(none.unwrap().entries().is_empty());
    }

    #[test]
    fn differences_name_added_removed_and_changed_paths_a_new_kind_included() {
        let mut base = ContentDigest::default();
        base.push(entry("same", EntryKind::File, b"1"));
        base.push(entry("edited", EntryKind::File, b"1"));
        base.push(entry("chmod", EntryKind::File, b"1"));
        base.push(entry("gone", EntryKind::File, b"1"));
        let mut now = ContentDigest::default();
        now.push(entry("same", EntryKind::File, b"1"));
        now.push(entry("edited", EntryKind::File, b"2"));
        now.push(entry("chmod", EntryKind::Executable, b"1"));
        now.push(entry("new", EntryKind::Symlink, b"same"));
        let diff = now.differences_from(&base);
        assert_eq!(diff.added, ["new"]);
        assert_eq!(diff.removed, ["gone"]);
        assert_eq!(diff.changed, ["chmod", "edited"]);
    }

    #[test]
    fn the_threaded_walk_digests_every_file_of_a_tree() {
        let dir = tempfile::tempdir().unwrap();
        let mut expected = ContentDigest::default();
        for i in 0..300 {
            let (name, bytes) = (format!("d{}/f{i}", i % 7), format!("{i}"));
            std::fs::create_dir_all(dir.path().join(format!("d{}", i % 7))).unwrap();
            std::fs::write(dir.path().join(&name), &bytes).unwrap();
            expected.push(entry(&name, EntryKind::File, bytes.as_bytes()));
        }
        let digest = directory_digest(dir.path()).unwrap();
        assert_eq!(digest.checksum_under(""), expected.checksum_under(""));
    }
}
