//! Path safety: the one place that decides what may be written into a staging tree.
//!
//! Every source (local directory, tar, zip, git checkout) hands its entries to a
//! [`TreeWriter`], which refuses hostile names and links, writes files with normalised modes,
//! enforces the size and count limits, and records each file's sha256 while writing it, so the
//! content checksum never re-reads a file. The rules are at least as strict as Python's PEP 706
//! `data` filter, and stricter where that filter was bypassed (links through links, links
//! created before the entries that go through them): links are only created after every
//! regular entry is written, so nothing is ever written through a link.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::Limits;
use crate::error::{Error, IoContext, Result};
use crate::fs::fsutil::Durability;
use crate::fs::syncer::Syncer;
use crate::integrity::hashing::{
    kind_for_mode, sha256_bytes, ContentDigest, ContentEntry, EntryKind, HashingWriter,
};
use crate::util::interrupt::Interrupt;

pub use crate::error::rule::{MAX_COMPONENT_BYTES, MAX_EXTENSION_BYTES, MAX_NAME_BYTES};
use crate::util::names::{collision_key, is_dotgit};

pub use crate::error::Rule;

/// Entry names longer than this are shortened in error messages.
const SHOWN_NAME_CHARS: usize = 512;

/// A checked entry name: relative, `/`-separated, no `.`/`..`/empty components.
enum Name {
    /// The tree root itself (`./`), which carries nothing.
    Root,
    /// Inside a `.git` directory: never part of a pack.
    GitDir,
    Path(String),
}

/// Checks an entry name against the path rules. `.` components and repeated or trailing
/// slashes are harmless spellings and are normalised; everything else is refused.
fn check_name(raw: &str) -> Result<Name, Rule> {
    if raw.is_empty() {
        return Err(Rule::EmptyName);
    }
    if raw.contains('\0') {
        return Err(Rule::NulByte);
    }
    if raw.chars().any(crate::model::terminal::is_control) {
        return Err(Rule::ControlCharacter);
    }
    if raw.contains('\\') {
        return Err(Rule::Backslash);
    }
    if raw.starts_with('/') {
        return Err(Rule::AbsolutePath);
    }
    if has_drive_letter(raw) {
        return Err(Rule::DriveLetter);
    }
    if raw.len() > MAX_NAME_BYTES {
        return Err(Rule::NameTooLong);
    }
    let mut parts = Vec::new();
    for comp in raw.split('/') {
        match comp {
            "" | "." => {}
            ".." => return Err(Rule::ParentComponent),
            c if c.len() > MAX_COMPONENT_BYTES => return Err(Rule::NameTooLong),
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return Ok(Name::Root);
    }
    if parts.iter().any(|c| is_dotgit(c)) {
        return Ok(Name::GitDir);
    }
    Ok(Name::Path(parts.join("/")))
}

/// An entry name as error messages show it: shortened (a hostile name can be megabytes
/// long) and with control characters escaped.
fn shown_name(name: &str) -> String {
    let short = match name.char_indices().nth(SHOWN_NAME_CHARS) {
        Some((cut, _)) => format!("{}… ({} bytes)", &name[..cut], name.len()),
        None => name.to_owned(),
    };
    crate::model::terminal::escape(&short).into_owned()
}

fn has_drive_letter(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

/// A link target resolved lexically from the link's own directory.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Resolution {
    /// Every path the resolution enters by naming a component, in order (the last is the
    /// target itself). The kernel follows a symlink at each of them, even when a later `..`
    /// climbs back out, so none of them may be a symlink.
    steps: Vec<String>,
    /// Where the target resolves to.
    resolved: String,
    /// The shallowest directory the resolution passes through (the link's own directory, or
    /// an ancestor that a `..` climbed to): every step lies under it.
    shallowest: String,
}

/// Resolves a link target lexically from the link's own directory. `None` when it climbs
/// above the tree root.
fn resolve_link(link_path: &str, target: &str) -> Option<Resolution> {
    let mut stack: Vec<&str> = link_path.split('/').collect();
    stack.pop();
    let mut shallowest = stack.len();
    let mut steps = Vec::new();
    for comp in target.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                stack.pop()?;
                shallowest = shallowest.min(stack.len());
            }
            c => {
                stack.push(c);
                steps.push(stack.join("/"));
            }
        }
    }
    let start: Vec<&str> = link_path.split('/').collect();
    Some(Resolution {
        steps,
        resolved: stack.join("/"),
        shallowest: start[..shallowest].join("/"),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File { digest_index: usize },
    Symlink,
}

struct Seen {
    path: String,
    kind: Kind,
}

/// A symlink kept in the tree, with its lexically resolved target.
#[derive(Debug, Clone)]
pub struct KeptLink {
    pub path: String,
    pub resolved: String,
    /// The shallowest directory that resolving the target passes through (`a/l -> ../a/x`
    /// resolves to `a/x` but passes through the tree root on the way).
    pub shallowest: String,
}

/// What a finished [`TreeWriter`] wrote.
#[derive(Debug)]
pub struct Tree {
    /// The per-file digests, for the content checksum.
    pub digest: ContentDigest,
    /// The symlinks kept, for the check against the pack root.
    pub links: Vec<KeptLink>,
}

impl Tree {
    /// Refuses a tree whose links leave `pack_root` (a subdirectory of the tree, or `""`):
    /// only the pack root is installed, so a link that was inside the archive can still point
    /// out of the pack.
    pub fn check_links_within(&self, pack_root: &str, origin: &str) -> Result<()> {
        if pack_root.is_empty() {
            return Ok(());
        }
        let within = |p: &str| {
            p == pack_root || crate::integrity::hashing::strip_dir_prefix(p, pack_root).is_some()
        };
        for link in &self.links {
            // Once installed, the pack root's parent is PACKS_DIR: a target that climbs above
            // the pack root, even only to come back down (`../ROOT/x`), names another pack.
            if within(&link.path) && (!within(&link.resolved) || !within(&link.shallowest)) {
                return Err(Error::UnsafeArchive {
                    origin: origin.to_owned(),
                    entry: link.path.clone(),
                    rule: Rule::LinkEscapesPack {
                        pack_root: pack_root.to_owned(),
                    },
                });
            }
        }
        Ok(())
    }
}

/// Writes entries into a staging tree, refusing anything unsafe. See the module docs.
pub struct TreeWriter {
    root: PathBuf,
    origin: String,
    limits: Limits,
    interrupt: Interrupt,
    seen: HashMap<String, Seen>,
    /// Symlinks to create in [`TreeWriter::finish`]: path, target, resolution.
    pending_links: Vec<(String, String, Resolution)>,
    digest: ContentDigest,
    /// Shared with the [`FileSink`]s writing in parallel.
    unpacked: AtomicU64,
    entries: u64,
    /// Files reserved whose digest is not recorded yet: [`TreeWriter::finish`] refuses to
    /// return a tree with a placeholder in it.
    incomplete: usize,
    buf: Vec<u8>,
    durability: Durability,
    /// Syncs each file once written, and the directories at the end (`Durability::Sync`);
    /// started with the first file.
    syncer: Option<Syncer>,
}

const COPY_BUF: usize = 256 * 1024;

impl TreeWriter {
    /// `root` must be an existing empty directory; `origin` names the source in errors.
    /// With `Durability::Sync`, everything written is on the disk when [`TreeWriter::finish`]
    /// returns.
    pub fn new(
        root: &Path,
        origin: impl Into<String>,
        limits: Limits,
        interrupt: Interrupt,
        durability: Durability,
    ) -> Self {
        TreeWriter {
            root: root.to_owned(),
            origin: origin.into(),
            limits,
            interrupt,
            seen: HashMap::new(),
            pending_links: Vec::new(),
            digest: ContentDigest::default(),
            unpacked: AtomicU64::new(0),
            entries: 0,
            incomplete: 0,
            buf: Vec::new(),
            durability,
            syncer: None,
        }
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The error for an entry that breaks `rule`.
    pub fn refuse(&self, entry: &str, rule: Rule) -> Error {
        refuse(&self.origin, entry, rule)
    }

    /// Checks the name, counts the entry and makes the parent directories; `None` for entries
    /// that carry nothing (the root, `.git`).
    fn prepare(&mut self, raw: &str) -> Result<Option<String>> {
        self.interrupt.check()?;
        let path = match check_name(raw).map_err(|rule| self.refuse(raw, rule))? {
            Name::Root | Name::GitDir => return Ok(None),
            Name::Path(p) => p,
        };
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(self.refuse(raw, Rule::TooManyEntries(self.limits.max_entries)));
        }
        let mut end = 0;
        while let Some(i) = path[end..].find('/') {
            let parent = &path[..end + i];
            end += i + 1;
            match self.seen.get(&collision_key(parent)) {
                Some(s) if s.path == parent && s.kind == Kind::Dir => {}
                Some(s) if s.path == parent => {
                    return Err(self.refuse(
                        raw,
                        Rule::ParentNotDirectory {
                            parent: parent.to_owned(),
                        },
                    ))
                }
                Some(s) => return Err(self.refuse(raw, collision(parent, &s.path))),
                None => {
                    let parent = parent.to_owned();
                    fs::create_dir(self.root.join(&parent))
                        .ctx(|| format!("creating directory {parent} in staging"))?;
                    self.seen.insert(
                        collision_key(&parent),
                        Seen {
                            path: parent,
                            kind: Kind::Dir,
                        },
                    );
                }
            }
        }
        Ok(Some(path))
    }

    /// Records a new entry; refuses duplicates and names that collide with another. A directory may be
    /// named again (archives list parents implicitly and explicitly).
    fn register(&mut self, raw: &str, path: &str, kind: Kind) -> Result<bool> {
        if let Some(s) = self.seen.get(&collision_key(path)) {
            if s.path != path {
                return Err(self.refuse(raw, collision(path, &s.path)));
            }
            if s.kind == Kind::Dir && kind == Kind::Dir {
                return Ok(false);
            }
            return Err(self.refuse(raw, Rule::Duplicate));
        }
        self.seen.insert(
            collision_key(path),
            Seen {
                path: path.to_owned(),
                kind,
            },
        );
        Ok(true)
    }

    pub fn dir(&mut self, raw: &str) -> Result<()> {
        let Some(path) = self.prepare(raw)? else {
            return Ok(());
        };
        if self.register(raw, &path, Kind::Dir)? {
            fs::create_dir(self.root.join(&path))
                .ctx(|| format!("creating directory {path} in staging"))?;
        }
        Ok(())
    }

    /// Writes a regular file from `reader`: mode 0755 when the owner could execute, else
    /// 0644; its sha256 is taken while writing.
    pub fn file(&mut self, raw: &str, mode: u32, reader: &mut dyn Read) -> Result<()> {
        let Some(reserved) = self.reserve_file(raw, mode)? else {
            // Not installed (`.git/…`), but still decompressed: it counts toward the limit.
            let room = self
                .limits
                .max_unpacked_bytes
                .saturating_sub(self.unpacked());
            let skipped = io::copy(&mut reader.take(room.saturating_add(1)), &mut io::sink())
                .ctx(|| format!("reading {raw}"))?;
            return self.count_unpacked(raw, skipped);
        };
        let mut buf = std::mem::take(&mut self.buf);
        let written = self.sink().write(reserved, raw, reader, &mut buf);
        self.buf = buf;
        self.complete(written?);
        Ok(())
    }

    /// Checks and records a regular file as [`TreeWriter::file`] does, without writing it:
    /// a [`FileSink`] writes it later, maybe on another thread, and
    /// [`TreeWriter::complete`] records its digest. `None` for a file that is not
    /// installed (`.git/…`).
    pub fn reserve_file(&mut self, raw: &str, mode: u32) -> Result<Option<Reserved>> {
        let Some(path) = self.prepare(raw)? else {
            return Ok(None);
        };
        let kind = kind_for_mode(mode);
        let digest_index = self.digest.entries().len();
        self.register(raw, &path, Kind::File { digest_index })?;
        self.digest.push(ContentEntry {
            path,
            kind,
            digest: [0; 32],
        });
        self.incomplete += 1;
        Ok(Some(Reserved { digest_index }))
    }

    /// Writes reserved files: one sink is shared by every thread that extracts. Starts the
    /// syncer first (with `Durability::Sync`), so the sink only reads the writer.
    pub fn sink(&mut self) -> FileSink<'_> {
        if self.durability == Durability::Sync {
            self.syncer.get_or_insert_with(Syncer::new);
        }
        FileSink {
            root: &self.root,
            origin: &self.origin,
            limits: &self.limits,
            interrupt: &self.interrupt,
            unpacked: &self.unpacked,
            digest: &self.digest,
            syncer: self.syncer.as_ref(),
        }
    }

    /// Records the digest of a reserved file its sink has written.
    pub fn complete(&mut self, written: Written) {
        self.digest.set_digest(written.digest_index, written.digest);
        self.incomplete -= 1;
    }

    fn unpacked(&self) -> u64 {
        self.unpacked.load(Ordering::Relaxed)
    }

    /// Records a symlink; it is checked and created by [`TreeWriter::finish`], after every
    /// other entry, so no entry can be written through it.
    pub fn symlink(&mut self, raw: &str, target: &str) -> Result<()> {
        let Some(path) = self.prepare(raw)? else {
            return Ok(());
        };
        if target.starts_with('/') {
            return Err(self.refuse(raw, Rule::LinkTargetAbsolute));
        }
        if target.is_empty()
            || target.len() > MAX_NAME_BYTES
            || target.contains('\\')
            || target.chars().any(crate::model::terminal::is_control)
            || has_drive_letter(target)
        {
            return Err(self.refuse(raw, Rule::LinkTargetInvalid));
        }
        let resolved =
            resolve_link(&path, target).ok_or_else(|| self.refuse(raw, Rule::LinkEscapes))?;
        self.register(raw, &path, Kind::Symlink)?;
        self.digest.push(ContentEntry {
            path: path.clone(),
            kind: EntryKind::Symlink,
            digest: sha256_bytes(target.as_bytes()),
        });
        self.pending_links.push((path, target.to_owned(), resolved));
        Ok(())
    }

    /// A hardlink to an earlier regular-file entry, written as a copy of it.
    pub fn hardlink(&mut self, raw: &str, target_raw: &str) -> Result<()> {
        let target = match check_name(target_raw) {
            Ok(Name::Path(p)) => p,
            _ => return Err(self.refuse(raw, Rule::HardlinkTarget)),
        };
        let digest_index = match self.seen.get(&collision_key(&target)) {
            Some(Seen {
                path,
                kind: Kind::File { digest_index },
            }) if *path == target => *digest_index,
            _ => return Err(self.refuse(raw, Rule::HardlinkTarget)),
        };
        let Some(path) = self.prepare(raw)? else {
            return Ok(());
        };
        let source = self.digest.entries()[digest_index].clone();
        let new_index = self.digest.entries().len();
        self.register(
            raw,
            &path,
            Kind::File {
                digest_index: new_index,
            },
        )?;
        let len = fs::metadata(self.root.join(&target))
            .ctx(|| format!("reading {target} in staging"))?
            .len();
        self.count_unpacked(raw, len)?;
        let mut from = fs::File::open(self.root.join(&target))
            .ctx(|| format!("reading {target} in staging"))?;
        let mut to = create_new(&self.root.join(&path), source.kind)
            .ctx(|| format!("creating {path} in staging"))?;
        io::copy(&mut from, &mut to).ctx(|| format!("writing {path} in staging"))?;
        self.sink().sync(to, &path);
        self.digest.push(ContentEntry {
            path,
            kind: source.kind,
            digest: source.digest,
        });
        Ok(())
    }

    /// Device files, FIFOs and sockets are never part of a pack.
    pub fn special(&mut self, raw: &str, what: &'static str) -> Result<()> {
        Err(self.refuse(raw, Rule::SpecialFile(what)))
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Refuses an entry whose name (or link target) is not UTF-8.
    pub fn not_utf8(&self, raw: &str) -> Error {
        self.refuse(raw, Rule::NotUtf8)
    }

    /// Counts `len` bytes that an entry makes the extractor decompress or copy without
    /// writing them as a file (hardlink copies, data of tar records that are not files), so
    /// that they too are bounded by the unpacked limit.
    pub fn count_unpacked(&mut self, raw: &str, len: u64) -> Result<()> {
        self.sink().count_unpacked(raw, len)
    }

    /// Refuses the entry for passing the unpacked-size limit.
    pub fn unpacked_limit_error(&self, raw: &str) -> Error {
        self.refuse(raw, Rule::UnpackedTooLarge(self.limits.max_unpacked_bytes))
    }

    /// Refuses the entry for passing the download limit (reported by the source reader).
    pub fn download_limit_error(&self, raw: &str) -> Error {
        self.refuse(raw, Rule::DownloadTooLarge(self.limits.max_download_bytes))
    }

    /// Checks the recorded links against the whole tree, creates them, waits until the tree
    /// is on the disk (with `Durability::Sync`), and returns it.
    pub fn finish(mut self) -> Result<Tree> {
        if self.incomplete != 0 {
            return Err(Error::Internal(format!(
                "{} reserved files were never written",
                self.incomplete
            )));
        }
        let mut links = Vec::with_capacity(self.pending_links.len());
        for (path, target, resolution) in &self.pending_links {
            for step in &resolution.steps {
                if let Some(Seen {
                    path: other,
                    kind: Kind::Symlink,
                }) = self.seen.get(&collision_key(step))
                {
                    return Err(self.refuse(
                        path,
                        Rule::LinkThroughLink {
                            link: other.clone(),
                        },
                    ));
                }
            }
            links.push(KeptLink {
                path: path.clone(),
                resolved: resolution.resolved.clone(),
                shallowest: resolution.shallowest.clone(),
            });
            make_symlink(target, &self.root.join(path))
                .ctx(|| format!("creating symlink {path} in staging"))?;
        }
        if self.durability == Durability::Sync {
            let syncer = self.syncer.take().unwrap_or_else(Syncer::new);
            let dirs = self
                .seen
                .values()
                .filter(|s| s.kind == Kind::Dir)
                .map(|s| self.root.join(&s.path));
            syncer.finish(std::iter::once(self.root.clone()).chain(dirs))?;
        }
        Ok(Tree {
            digest: self.digest,
            links,
        })
    }
}

/// A regular file the checks let through, in order, waiting to be written by a
/// [`FileSink`]. Only [`TreeWriter::reserve_file`] makes one, so nothing unchecked is written.
#[derive(Debug)]
pub struct Reserved {
    digest_index: usize,
}

/// A reserved file as written: its digest, for [`TreeWriter::complete`].
#[derive(Debug)]
pub struct Written {
    digest_index: usize,
    digest: [u8; 32],
}

/// Writes the files a [`TreeWriter`] reserved, from any number of threads at once; the
/// unpacked limit is counted across all of them.
pub struct FileSink<'a> {
    root: &'a Path,
    origin: &'a str,
    limits: &'a Limits,
    interrupt: &'a Interrupt,
    unpacked: &'a AtomicU64,
    digest: &'a ContentDigest,
    syncer: Option<&'a Syncer>,
}

impl FileSink<'_> {
    /// Writes a reserved file from `reader` (`raw` is its name in errors), through `buf`.
    /// Chunks go straight to the file: the buffer is reused across entries, because
    /// allocating (and zeroing) one per file dominated extraction of many small files.
    pub fn write(
        &self,
        reserved: Reserved,
        raw: &str,
        reader: &mut dyn Read,
        buf: &mut Vec<u8>,
    ) -> Result<Written> {
        let entry = &self.digest.entries()[reserved.digest_index];
        let path = &entry.path;
        let file = create_new(&self.root.join(path), entry.kind)
            .ctx(|| format!("creating {path} in staging"))?;
        let mut out = HashingWriter::new(file);
        buf.resize(COPY_BUF, 0);
        loop {
            self.interrupt.check()?;
            let n = match reader.read(buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.read_error(raw, e)),
            };
            self.count_unpacked(raw, n as u64)?;
            out.write_all(&buf[..n])
                .ctx(|| format!("writing {path} in staging"))?;
        }
        let (file, digest, _) = out.finish();
        self.sync(file, path);
        Ok(Written {
            digest_index: reserved.digest_index,
            digest,
        })
    }

    fn count_unpacked(&self, raw: &str, len: u64) -> Result<()> {
        let before = self.unpacked.fetch_add(len, Ordering::Relaxed);
        if before.saturating_add(len) > self.limits.max_unpacked_bytes {
            return Err(refuse(
                self.origin,
                raw,
                Rule::UnpackedTooLarge(self.limits.max_unpacked_bytes),
            ));
        }
        Ok(())
    }

    /// A read error inside an entry means the source is truncated or undecodable, unless it
    /// is the download limit tripping underneath.
    fn read_error(&self, raw: &str, e: io::Error) -> Error {
        if crate::integrity::hashing::is_limit_exceeded(&e) {
            return refuse(
                self.origin,
                raw,
                Rule::DownloadTooLarge(self.limits.max_download_bytes),
            );
        }
        Error::ArchiveCorrupt {
            archive: self.origin.to_owned(),
            message: format!("reading entry `{raw}`: {e}"),
        }
    }

    fn sync(&self, file: fs::File, path: &str) {
        if let Some(syncer) = self.syncer {
            syncer.file(file, path);
        }
    }
}

/// The error for an entry of `origin` that breaks `rule`.
fn refuse(origin: &str, entry: &str, rule: Rule) -> Error {
    Error::UnsafeArchive {
        origin: origin.to_owned(),
        entry: shown_name(entry),
        rule,
    }
}

/// The rule two colliding names break: a difference in (ASCII) case alone, or beyond.
fn collision(path: &str, other: &str) -> Rule {
    let other = other.to_owned();
    if path.eq_ignore_ascii_case(&other) {
        Rule::CaseConflict { other }
    } else {
        Rule::Collision { other }
    }
}

/// Opens a new file, never following or replacing anything already there.
fn create_new(path: &Path, kind: EntryKind) -> io::Result<fs::File> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mode = if kind == EntryKind::Executable {
            0o755
        } else {
            0o644
        };
        opts.mode(mode);
        opts.custom_flags(libc::O_NOFOLLOW);
        let file = opts.open(path)?;
        // The process umask may have taken bits away; the store's modes are fixed.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        Ok(file)
    }
    #[cfg(not(unix))]
    {
        let _ = kind;
        opts.open(path)
    }
}

#[cfg(unix)]
fn make_symlink(target: &str, at: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, at)
}

#[cfg(not(unix))]
fn make_symlink(_target: &str, _at: &Path) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "symlinks in packs are only supported on Unix",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(raw: &str) -> Result<Option<String>, Rule> {
        check_name(raw).map(|n| match n {
            Name::Path(p) => Some(p),
            Name::Root | Name::GitDir => None,
        })
    }

    #[test]
    fn names_are_normalised_or_refused() {
        assert_eq!(name("./a//b/./c/").unwrap().as_deref(), Some("a/b/c"));
        assert_eq!(name("./").unwrap(), None);
        assert_eq!(name(".git/config").unwrap(), None);
        assert_eq!(name("/etc/passwd").unwrap_err(), Rule::AbsolutePath);
        assert_eq!(name("C:/x").unwrap_err(), Rule::DriveLetter);
        assert_eq!(name("a\\..\\b").unwrap_err(), Rule::Backslash);
        assert_eq!(name("a/../b").unwrap_err(), Rule::ParentComponent);
        assert_eq!(name("").unwrap_err(), Rule::EmptyName);
    }

    #[test]
    fn links_resolve_lexically_from_their_directory() {
        let r = resolve_link("a/b/l", "../c").unwrap();
        assert_eq!((r.resolved.as_str(), r.shallowest.as_str()), ("a/c", "a"));
        assert_eq!(r.steps, vec!["a/c"]);
        let r = resolve_link("l", "x/./y").unwrap();
        assert_eq!((r.resolved.as_str(), r.shallowest.as_str()), ("x/y", ""));
        assert_eq!(r.steps, vec!["x", "x/y"]);
        assert!(resolve_link("a/l", "../../x").is_none());
        // `s/..` enters `s` before climbing back: the step is recorded.
        let r = resolve_link("up", "s/..").unwrap();
        assert_eq!(
            (r.resolved.as_str(), r.steps.clone()),
            ("", vec!["s".into()])
        );
        let r = resolve_link("top/l", "../top/x").unwrap();
        assert_eq!((r.resolved.as_str(), r.shallowest.as_str()), ("top/x", ""));
    }
}
