//! The offline bundle file (`bundle create`, `bundle list`, `bundle verify`, and the reader
//! `install --bundle` uses): one uncompressed ustar archive whose every byte is fixed by its
//! content, so that a flipped byte anywhere is refused even without a signature.
//!
//! Members, in this order: `index.json` (an Attune index of the bundled packs, each with one
//! archive source `packs/FILE` carrying the file's sha256 and, as extra fields, the pack's
//! `origin` and `content` checksum), `index.json.minisig` (when signed), `manifest.json`
//! (derived from the index, the sha256 of `index.json` and of the signature: byte for byte
//! what [`manifest_json`] renders), then `packs/FILE` sorted by name. Every header is the one
//! [`header`] writes for its name and size (mode 0644, uid/gid 0, no owner names, mtime the
//! bundle timestamp, the index's `last_updated`); padding and the two end blocks are zero and
//! nothing follows them. The format is documented in `docs/bundles.md`.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use semver::Version;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::{Error, IoContext, Result};
use crate::fs::fsutil::{sync_dir, Durability};
use crate::integrity::hashing::{sha256_bytes, Hasher};
use crate::model::checksum::{Algorithm, Checksum};
use crate::model::pack_ref::PackRef;
use crate::model::receipt::ReceiptSource;

/// The bundle format this version writes and reads.
pub const BUNDLE_FORMAT: u32 = 1;
/// The index member.
pub const INDEX: &str = "index.json";
/// The signature member (present only in a signed bundle).
pub const SIGNATURE: &str = "index.json.minisig";
/// The manifest member.
pub const MANIFEST: &str = "manifest.json";
/// The directory of the pack files.
pub const PACKS_DIR: &str = "packs/";
/// Index, signature and manifest are read into memory; none may be larger.
const MAX_METADATA_BYTES: u64 = 64 << 20;
const BLOCK: usize = 512;

/// `manifest.json`: what the bundle holds, derived from its index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleManifest {
    /// The format's version (1).
    pub format: u32,
    /// The sha256 of `index.json`.
    pub index: Checksum,
    /// The sha256 of `index.json.minisig`, when the bundle is signed.
    pub signature: Option<Checksum>,
    /// One per pack version, in the index's order (by ref, then version).
    pub packs: Vec<BundledPack>,
}

/// One pack of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundledPack {
    /// The pack's ref.
    #[serde(rename = "ref")]
    pub pack_ref: PackRef,
    /// Its version.
    pub version: Version,
    /// Its file under `packs/` in the bundle.
    pub file: String,
    /// Where the bundle's creator fetched it (redacted; never of kind `registry`: the
    /// concrete kind, with `index` naming the index it was resolved in).
    pub origin: ReceiptSource,
    /// The sha256 of the bundled file.
    pub archive: Checksum,
    /// The content checksum of the pack.
    pub content: Checksum,
    /// The pack's directory inside the file, when it is not found by the usual rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subdir: Option<String>,
}

/// A bundle read and checked (everything but the signature, which needs keys).
#[derive(Debug, Clone)]
pub struct OpenedBundle {
    /// `index.json`, as in the bundle (what the signature covers).
    pub index_json: Vec<u8>,
    /// `index.json.minisig`, when signed.
    pub signature: Option<Vec<u8>>,
    /// `manifest.json`.
    pub manifest: BundleManifest,
    /// The bundle timestamp (Unix seconds): the index's `last_updated`, every header's mtime.
    pub timestamp: u64,
}

/// What a bundle is written from.
pub(crate) struct BundleParts {
    pub index_json: Vec<u8>,
    pub signature: Option<Vec<u8>>,
    /// Each pack file of the index (`packs/NAME` by NAME) and where its bytes are.
    pub files: Vec<(String, PathBuf)>,
}

/// `timestamp` in RFC 3339 (UTC, to the second), as `last_updated` is written.
pub fn rfc3339(timestamp: u64) -> String {
    i64::try_from(timestamp)
        .ok()
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// Whether `name` may name a pack file: `[A-Za-z0-9._-]+`, not `.` or `..`.
pub fn is_pack_file_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// The ustar header of a bundle member: regular file, mode 0644, uid/gid 0, no owner names,
/// `mtime`; a name over 100 bytes goes into the prefix field at its `packs/`.
pub fn header(name: &str, size: u64, mtime: u64) -> std::result::Result<[u8; BLOCK], String> {
    let mut h = [0u8; BLOCK];
    let (prefix, rest) = match name.len() {
        0..=100 => ("", name),
        _ => match name.strip_prefix(PACKS_DIR) {
            Some(rest) if rest.len() <= 100 => ("packs", rest),
            _ => {
                return Err(format!(
                    "the member name {name} is too long for a ustar header"
                ))
            }
        },
    };
    if size >= 1 << 33 || mtime >= 1 << 33 {
        return Err(format!("{name}: size or time too large for a ustar header"));
    }
    h[..rest.len()].copy_from_slice(rest.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[136..148].copy_from_slice(format!("{mtime:011o}\0").as_bytes());
    h[148..156].copy_from_slice(b"        ");
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[329..337].copy_from_slice(b"0000000\0");
    h[337..345].copy_from_slice(b"0000000\0");
    h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    Ok(h)
}

/// The source of a bundled pack as `index.json` writes it (extra fields Attune ignores).
#[derive(Deserialize)]
struct IndexSource {
    #[serde(rename = "type")]
    kind: String,
    url: String,
    checksum: Checksum,
    origin: ReceiptSource,
    content: Checksum,
    #[serde(default)]
    subdir: Option<String>,
}

#[derive(Deserialize)]
struct IndexEntry {
    #[serde(rename = "ref")]
    pack_ref: PackRef,
    version: Version,
    install_sources: Vec<IndexSource>,
}

#[derive(Deserialize)]
struct IndexDoc {
    last_updated: String,
    packs: Vec<IndexEntry>,
}

/// The packs and timestamp `index_json` describes, checked: one archive source each, under
/// `packs/` with an allowed name, no file twice, an origin of a concrete kind.
pub(crate) fn read_index(
    index_json: &[u8],
) -> std::result::Result<(Vec<BundledPack>, u64), String> {
    let doc: IndexDoc =
        serde_json::from_slice(index_json).map_err(|e| format!("not a bundle index: {e}"))?;
    let timestamp = OffsetDateTime::parse(&doc.last_updated, &Rfc3339)
        .ok()
        .and_then(|t| u64::try_from(t.unix_timestamp()).ok())
        .filter(|t| rfc3339(*t) == doc.last_updated)
        .ok_or_else(|| {
            format!(
                "last_updated `{}` is not a bundle timestamp",
                doc.last_updated
            )
        })?;
    let mut packs = Vec::new();
    for entry in doc.packs {
        let what = format!("entry {} {}", entry.pack_ref, entry.version);
        let [source] = <[IndexSource; 1]>::try_from(entry.install_sources)
            .map_err(|_| format!("{what}: not exactly one install source"))?;
        let file = source
            .url
            .strip_prefix(PACKS_DIR)
            .filter(|f| is_pack_file_name(f) && source.kind == "archive")
            .ok_or_else(|| format!("{what}: its source is not an archive under packs/"))?;
        if packs.iter().any(|p: &BundledPack| p.file == file) {
            return Err(format!("{what}: packs/{file} is named twice"));
        }
        if matches!(
            source.origin.kind,
            None | Some(crate::model::receipt::SourceKind::Registry)
        ) {
            return Err(format!("{what}: its origin has no concrete kind"));
        }
        packs.push(BundledPack {
            pack_ref: entry.pack_ref,
            version: entry.version,
            file: file.to_owned(),
            origin: source.origin,
            archive: source.checksum,
            content: source.content,
            subdir: source.subdir,
        });
    }
    Ok((packs, timestamp))
}

/// The manifest of a bundle with this index and signature.
pub(crate) fn manifest_of(
    index_json: &[u8],
    signature: Option<&[u8]>,
) -> std::result::Result<(BundleManifest, u64), String> {
    let (packs, timestamp) = read_index(index_json)?;
    let sha = |b: &[u8]| Checksum {
        algorithm: Algorithm::Sha256,
        digest: sha256_bytes(b).to_vec(),
    };
    let manifest = BundleManifest {
        format: BUNDLE_FORMAT,
        index: sha(index_json),
        signature: signature.map(sha),
        packs,
    };
    Ok((manifest, timestamp))
}

/// `manifest.json`'s bytes: pretty JSON and a final newline.
pub fn manifest_json(manifest: &BundleManifest) -> Vec<u8> {
    let mut text = serde_json::to_vec_pretty(manifest).unwrap_or_default();
    text.push(b'\n');
    text
}

/// Writes the bundle to `path` atomically: a temporary file in its directory, synced, then
/// renamed over it. A failure leaves neither `path` nor the temporary file.
pub(crate) fn write(path: &Path, parts: &BundleParts) -> Result<()> {
    let invalid = |reason: String| Error::Internal(format!("writing the bundle: {reason}"));
    let (manifest, timestamp) =
        manifest_of(&parts.index_json, parts.signature.as_deref()).map_err(invalid)?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut builder = tempfile::Builder::new();
    builder.prefix(".tmp-bundle-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let mut tmp = builder
        .tempfile_in(dir)
        .ctx(|| format!("creating a temporary file in {}", dir.display()))?;
    let mut out = BufWriter::new(tmp.as_file_mut());
    let mut member = |name: &str, size: u64, bytes: &mut dyn Read| -> Result<()> {
        let h = header(name, size, timestamp).map_err(Error::Usage)?;
        out.write_all(&h)
            .ctx(|| format!("writing {}", path.display()))?;
        let n = io::copy(&mut bytes.take(size), &mut out)
            .ctx(|| format!("writing {name} into {}", path.display()))?;
        if n != size {
            return Err(invalid(format!("{name} changed while it was written")));
        }
        out.write_all(&vec![0u8; padding(size)])
            .ctx(|| format!("writing {}", path.display()))
    };
    let len = |b: &[u8]| b.len() as u64;
    member(INDEX, len(&parts.index_json), &mut &parts.index_json[..])?;
    if let Some(sig) = &parts.signature {
        member(SIGNATURE, len(sig), &mut &sig[..])?;
    }
    let manifest_bytes = manifest_json(&manifest);
    member(MANIFEST, len(&manifest_bytes), &mut &manifest_bytes[..])?;
    let mut files: Vec<&(String, PathBuf)> = parts.files.iter().collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, file) in files {
        let f = File::open(file).ctx(|| format!("opening {}", file.display()))?;
        let size = f
            .metadata()
            .ctx(|| format!("reading {}", file.display()))?
            .len();
        member(&format!("{PACKS_DIR}{name}"), size, &mut BufReader::new(f))?;
    }
    out.write_all(&[0u8; 2 * BLOCK])
        .and_then(|_| out.flush())
        .ctx(|| format!("writing {}", path.display()))?;
    drop(out);
    tmp.as_file()
        .sync_all()
        .ctx(|| format!("writing {}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .ctx(|| format!("renaming into {}", path.display()))?;
    sync_dir(dir, Durability::Sync)
}

fn padding(size: u64) -> usize {
    ((BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64) as usize
}

/// Reads the bundle at `path` strictly (see the module's rules) and extracts its pack files
/// into `into/packs/` (created). Anything that is not exactly what the writer would write
/// is [`Error::BundleTampered`], naming the member and what does not match.
pub(crate) fn open(path: &Path, into: &Path) -> Result<OpenedBundle> {
    let file =
        File::open(path).map_err(|e| Error::NotFound(format!("bundle {}: {e}", path.display())))?;
    let mut reader = Reader {
        inner: BufReader::with_capacity(256 * 1024, file),
        path,
        last: None,
    };
    let (index_json, timestamp) = reader.index()?;
    let (name, size) = reader.next_header("index.json.minisig or manifest.json")?;
    let (signature, manifest_size) = match name.as_str() {
        SIGNATURE => {
            let sig = reader.small(SIGNATURE, size, timestamp)?;
            let (name, size) = reader.next_header(MANIFEST)?;
            reader.expect_name(&name, MANIFEST)?;
            (Some(sig), size)
        }
        _ => {
            reader.expect_name(&name, MANIFEST)?;
            (None, size)
        }
    };
    let manifest_bytes = reader.small(MANIFEST, manifest_size, timestamp)?;
    let (manifest, _) =
        manifest_of(&index_json, signature.as_deref()).map_err(|r| reader.tampered(INDEX, &r))?;
    if manifest_bytes != manifest_json(&manifest) {
        return Err(reader.tampered(
            MANIFEST,
            "not the manifest of index.json and its signature (index.json, its signature or manifest.json was changed)",
        ));
    }
    let dir = into.join("packs");
    std::fs::create_dir_all(&dir).ctx(|| format!("creating {}", dir.display()))?;
    let mut files: Vec<&BundledPack> = manifest.packs.iter().collect();
    files.sort_by(|a, b| a.file.cmp(&b.file));
    for pack in files {
        let member = format!("{PACKS_DIR}{}", pack.file);
        let (name, size) = reader.next_header(&member)?;
        reader.expect_name(&name, &member)?;
        reader.check_header(&name, size, timestamp)?;
        reader.pack(&member, size, &dir.join(&pack.file), &pack.archive)?;
    }
    reader.end()?;
    Ok(OpenedBundle {
        index_json,
        signature,
        manifest,
        timestamp,
    })
}

/// The bundle read in order, every byte checked.
struct Reader<'a> {
    inner: BufReader<File>,
    path: &'a Path,
    /// The header read last.
    last: Option<[u8; BLOCK]>,
}

impl Reader<'_> {
    fn tampered(&self, member: &str, reason: &str) -> Error {
        Error::BundleTampered {
            path: self.path.display().to_string(),
            reason: format!("{member}: {reason}"),
        }
    }

    fn block(&mut self, member: &str) -> Result<[u8; BLOCK]> {
        let mut b = [0u8; BLOCK];
        match self.inner.read_exact(&mut b) {
            Ok(()) => Ok(b),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                Err(self.tampered(member, "the bundle ends early (truncated)"))
            }
            Err(e) => Err(Error::io(format!("reading {}", self.path.display()), e)),
        }
    }

    /// The next header's name and size (checked against the canonical header later, when
    /// the timestamp is known, or at once by the caller).
    fn next_header(&mut self, expected: &str) -> Result<(String, u64)> {
        let h = self.block(expected)?;
        if h.iter().all(|b| *b == 0) {
            return Err(self.tampered(expected, "missing (the archive ends before it)"));
        }
        let field = |r: std::ops::Range<usize>| {
            let f = &h[r];
            let end = f.iter().position(|b| *b == 0).unwrap_or(f.len());
            String::from_utf8_lossy(&f[..end]).into_owned()
        };
        let (prefix, name) = (field(345..500), field(0..100));
        let name = match prefix.is_empty() {
            true => name,
            false => format!("{prefix}/{name}"),
        };
        let size = std::str::from_utf8(&h[124..135])
            .ok()
            .and_then(|s| u64::from_str_radix(s, 8).ok())
            .ok_or_else(|| self.tampered(&name, "its header's size field is not canonical"))?;
        self.last = Some(h);
        Ok((name, size))
    }

    fn expect_name(&self, name: &str, expected: &str) -> Result<()> {
        if name == expected {
            return Ok(());
        }
        Err(self.tampered(
            expected,
            &format!(
                "expected here, found a member named {:?}",
                crate::model::terminal::escape(name)
            ),
        ))
    }

    /// The last header read must be the canonical one for `name`, `size` and `mtime`.
    fn check_header(&self, name: &str, size: u64, mtime: u64) -> Result<()> {
        let canonical = header(name, size, mtime).map_err(|r| self.tampered(name, &r))?;
        if self.last.as_ref() != Some(&canonical) {
            return Err(self.tampered(name, "its tar header is not the canonical one"));
        }
        Ok(())
    }

    /// A member's data and padding, the padding checked to be zero.
    fn data(&mut self, member: &str, size: u64, out: &mut dyn Write) -> Result<()> {
        let copied = io::copy(&mut (&mut self.inner).take(size), out)
            .map_err(|e| Error::io(format!("reading {member} of {}", self.path.display()), e))?;
        if copied != size {
            return Err(self.tampered(member, "the bundle ends early (truncated)"));
        }
        let mut pad = vec![0u8; padding(size)];
        match self.inner.read_exact(&mut pad) {
            Ok(()) if pad.iter().all(|b| *b == 0) => Ok(()),
            Ok(()) => Err(self.tampered(member, "its padding is not zero")),
            Err(_) => Err(self.tampered(member, "the bundle ends early (truncated)")),
        }
    }

    fn small(&mut self, member: &str, size: u64, mtime: u64) -> Result<Vec<u8>> {
        self.check_header(member, size, mtime)?;
        if size > MAX_METADATA_BYTES {
            return Err(self.tampered(member, "larger than any bundle metadata may be"));
        }
        let mut bytes = Vec::new();
        self.data(member, size, &mut bytes)?;
        Ok(bytes)
    }

    /// `index.json`, first: its header is checked once its timestamp is read.
    fn index(&mut self) -> Result<(Vec<u8>, u64)> {
        let (name, size) = self.next_header(INDEX)?;
        self.expect_name(&name, INDEX)?;
        if size > MAX_METADATA_BYTES {
            return Err(self.tampered(INDEX, "larger than any bundle metadata may be"));
        }
        let mut bytes = Vec::new();
        self.data(INDEX, size, &mut bytes)?;
        let (_, timestamp) = read_index(&bytes).map_err(|r| self.tampered(INDEX, &r))?;
        self.check_header(INDEX, size, timestamp)?;
        Ok((bytes, timestamp))
    }

    /// A pack file, written to `to` while hashed; its sha256 must be `expected`.
    fn pack(&mut self, member: &str, size: u64, to: &Path, expected: &Checksum) -> Result<()> {
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(to)
            .ctx(|| format!("creating {}", to.display()))?;
        let mut out = HashingFile {
            file: BufWriter::new(file),
            hasher: Hasher::new(expected.algorithm),
        };
        self.data(member, size, &mut out)?;
        out.file
            .flush()
            .ctx(|| format!("writing {}", to.display()))?;
        let actual = out.hasher.finish();
        if actual != *expected {
            return Err(self.tampered(
                member,
                &format!("its checksum is {actual}, the index says {expected}"),
            ));
        }
        Ok(())
    }

    /// The two zero blocks, and nothing after them.
    fn end(&mut self) -> Result<()> {
        for _ in 0..2 {
            let b = self.block("the end of the archive")?;
            if b.iter().any(|b| *b != 0) {
                return Err(self.tampered(
                    "the end of the archive",
                    "a member or data the index does not name",
                ));
            }
        }
        let mut rest = [0u8; 1];
        match self.inner.read(&mut rest) {
            Ok(0) => Ok(()),
            Ok(_) => Err(self.tampered("the end of the archive", "bytes after the end blocks")),
            Err(e) => Err(Error::io(format!("reading {}", self.path.display()), e)),
        }
    }
}

/// Writes through to a file, hashing what passes.
struct HashingFile {
    file: BufWriter<File>,
    hasher: Hasher,
}

impl Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_canonical_ustar() {
        let h = header("index.json", 10, 1_700_000_000).unwrap();
        let parsed = tar::Header::from_byte_slice(&h);
        assert_eq!(parsed.size().unwrap(), 10);
        assert_eq!(
            parsed.cksum().unwrap(),
            h.iter().map(|b| u32::from(*b)).sum::<u32>()
                - h[148..156].iter().map(|b| u32::from(*b)).sum::<u32>()
                + 8 * 32
        );
        assert_eq!(&h[257..263], b"ustar\0");
        let long = format!("packs/{}.tar.gz", "a".repeat(90));
        let h = header(&long, 1, 0).unwrap();
        assert_eq!(&h[345..350], b"packs");
        assert!(header(&format!("packs/{}", "a".repeat(101)), 1, 0).is_err());
    }

    #[test]
    fn pack_file_names() {
        assert!(is_pack_file_name("slack-2.1.0.tar.gz"));
        assert!(!is_pack_file_name(".."));
        assert!(!is_pack_file_name("a/b"));
        assert!(!is_pack_file_name("a+b"));
    }
}
