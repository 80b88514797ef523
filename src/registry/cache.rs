//! The on-disk cache of remote index documents: one file per index URL under
//! `CACHE_DIR/indices/`, named by a hash of the URL (a URL may carry credentials; a hash
//! does not). A file holds one JSON header line (validators and fetch time) and then the
//! document, written atomically in one piece so header and body always belong together.
//! The header carries the document's digest; beside the file, `KEY.parsed` holds the
//! document's pre-parsed form ([`super::stored`]), used only when it carries the same digest,
//! so a new document is never read through an old parsed form (whatever order the two files
//! were written in, or if one write was lost).
//!
//! A local index file (a path or `file://`) is not copied: its pre-parsed form alone is kept,
//! in `HASH.local` (named by the file's path), behind the identity of the version it was made
//! from: size, modification and status-change times, inode and device. A file written in
//! place changes its times, one renamed over it its inode, so any of them differing rebuilds
//! the form.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::Result;
use crate::fs::fsutil::{write_atomic_with, Durability};
use crate::integrity::signature::document_digest;

use super::index::{EntryBytes, Parsed, Span};
use super::stored::{self, Digest, Stored};

/// A cached index document with what is needed to revalidate it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cached {
    pub body: Vec<u8>,
    pub validators: Validators,
    /// Unix seconds of the last fetch or successful revalidation.
    pub fetched_at: u64,
    /// The detached signature (`URL.minisig`) fetched with it, for a signed index.
    pub signature: Option<Vec<u8>>,
}

/// ETag and Last-Modified as the server sent them, for a conditional request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    #[serde(flatten)]
    validators: Validators,
    fetched_at: u64,
    /// The signature's text (minisign's is ASCII).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signature: Option<String>,
    /// The document's digest (hex), which its pre-parsed form must carry to be used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    digest: Option<String>,
}

/// A cached copy opened with only its header read: deciding whether it is fresh, and using
/// its pre-parsed form, need not read the document.
#[derive(Debug)]
pub struct Opened {
    file: File,
    header: Header,
    body_at: u64,
    pub body_len: u64,
}

impl Opened {
    pub fn age_secs(&self) -> u64 {
        now_secs().saturating_sub(self.header.fetched_at)
    }

    pub fn signature(&self) -> Option<&[u8]> {
        self.header.signature.as_deref().map(str::as_bytes)
    }

    /// Whether the header carries the document's digest (copies cached by older versions
    /// do not), without which no pre-parsed form is used.
    pub fn has_digest(&self) -> bool {
        self.header.digest.is_some()
    }

    /// The whole cached copy.
    pub fn read(mut self) -> Option<Cached> {
        let mut body = Vec::with_capacity(usize::try_from(self.body_len).ok()?);
        self.file.read_to_end(&mut body).ok()?;
        Some(Cached {
            body,
            validators: self.header.validators,
            fetched_at: self.header.fetched_at,
            signature: self.header.signature.map(String::into_bytes),
        })
    }
}

/// The document of an opened cached copy, for the entries of its pre-parsed form. The file
/// stays open, so a copy written meanwhile by another command (a rename over this one) is
/// not read.
#[derive(Debug)]
struct Document {
    file: Mutex<File>,
    body_at: u64,
    body_len: u64,
}

impl EntryBytes for Document {
    fn read(&self, span: Span) -> std::io::Result<Vec<u8>> {
        if span
            .start
            .checked_add(span.len)
            .is_none_or(|end| end > self.body_len)
        {
            return Err(std::io::Error::other("beyond the end of the document"));
        }
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.seek(SeekFrom::Start(self.body_at + span.start))?;
        let mut bytes = vec![0; span.len as usize];
        file.read_exact(&mut bytes)?;
        Ok(bytes)
    }
}

impl Cached {
    pub fn age_secs(&self) -> u64 {
        now_secs().saturating_sub(self.fetched_at)
    }
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The index cache under one cache directory.
#[derive(Debug, Clone)]
pub struct IndexCache {
    dir: PathBuf,
}

impl IndexCache {
    pub fn new(cache_dir: &Path) -> Self {
        IndexCache {
            dir: cache_dir.join("indices"),
        }
    }

    fn path(&self, url: &str, extension: &str) -> PathBuf {
        let key = hex::encode(Sha256::digest(url.as_bytes()));
        self.dir.join(format!("{}.{extension}", &key[..32]))
    }

    /// The cached copy of `url` with only its header read, if there is a readable one.
    pub fn open(&self, url: &str) -> Option<Opened> {
        let file = File::open(self.path(url, "json")).ok()?;
        let len = file.metadata().ok()?.len();
        let mut line = Vec::new();
        // A header is a few hundred bytes (a signature is the longest part).
        BufReader::new((&file).take(256 * 1024))
            .read_until(b'\n', &mut line)
            .ok()?;
        let header: Header = serde_json::from_slice(line.strip_suffix(b"\n")?).ok()?;
        let body_at = line.len() as u64;
        let mut file = file;
        file.seek(SeekFrom::Start(body_at)).ok()?;
        Some(Opened {
            file,
            header,
            body_at,
            body_len: len.checked_sub(body_at)?,
        })
    }

    /// The pre-parsed form of an opened copy, when there is one made from that very document
    /// (`Err` gives the copy back).
    pub fn stored(
        &self,
        url: &str,
        opened: Opened,
    ) -> std::result::Result<(Stored, Arc<dyn EntryBytes>), Box<Opened>> {
        let Some(stored) = self.stored_for(url, &opened) else {
            return Err(Box::new(opened));
        };
        let document = Document {
            file: Mutex::new(opened.file),
            body_at: opened.body_at,
            body_len: opened.body_len,
        };
        Ok((stored, Arc::new(document)))
    }

    fn stored_for(&self, url: &str, opened: &Opened) -> Option<Stored> {
        let digest = hex::decode(opened.header.digest.as_deref()?).ok()?;
        let bytes = std::fs::read(self.path(url, "parsed")).ok()?;
        stored::decode(bytes).filter(|s| s.digest[..] == digest[..])
    }

    /// Writes the pre-parsed form of a cached document (its header must carry the same
    /// digest for it to be used).
    pub fn write_parsed(&self, url: &str, digest: &Digest, parsed: &Parsed) -> Result<()> {
        write_atomic_with(
            &self.path(url, "parsed"),
            |out| stored::encode(out, digest, parsed),
            Durability::NoSync,
            "cache.write",
        )
    }

    /// Writes a document, and its pre-parsed form when it is given.
    pub fn write(&self, url: &str, cached: &Cached, parsed: Option<&Parsed>) -> Result<()> {
        let digest = document_digest(&cached.body);
        if let Some(parsed) = parsed {
            self.write_parsed(url, &digest, parsed)?;
        }
        let header = Header {
            validators: cached.validators.clone(),
            fetched_at: cached.fetched_at,
            signature: cached
                .signature
                .as_ref()
                .map(|s| String::from_utf8_lossy(s).into_owned()),
            digest: Some(hex::encode(digest)),
        };
        let mut header = serde_json::to_vec(&header)
            .map_err(|e| crate::error::Error::Internal(e.to_string()))?;
        header.push(b'\n');
        // A cache that a power cut tears is read as missing and fetched again.
        write_atomic_with(
            &self.path(url, "json"),
            |out| {
                out.write_all(&header)?;
                out.write_all(&cached.body)
            },
            Durability::NoSync,
            "cache.write",
        )
    }
}

/// What tells one version of a local file from another without reading it: its size, its
/// modification and status-change times to the nanosecond, its inode and device. A write
/// moves both times (and the status-change time cannot be set back, as the other can), a
/// file renamed over it has another inode.
type Identity = [u8; 56];

fn identity(meta: &std::fs::Metadata) -> Identity {
    #[cfg(unix)]
    let fields = {
        use std::os::unix::fs::MetadataExt;
        [
            meta.size(),
            meta.mtime() as u64,
            meta.mtime_nsec() as u64,
            meta.ctime() as u64,
            meta.ctime_nsec() as u64,
            meta.ino(),
            meta.dev(),
        ]
    };
    // Elsewhere the size and modification time alone.
    #[cfg(not(unix))]
    let fields = {
        let since = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok());
        let since = since.unwrap_or_default();
        let nanos = u64::from(since.subsec_nanos());
        [meta.len(), since.as_secs(), nanos, 0, 0, 0, 0]
    };
    let mut id = [0u8; 56];
    for (slot, field) in id.chunks_exact_mut(8).zip(fields) {
        slot.copy_from_slice(&field.to_le_bytes());
    }
    id
}

/// A local index file, opened: its pre-parsed form is looked for by what [`identity`] says
/// of this very file (the open one, so a file replaced meanwhile is not mixed in).
#[derive(Debug)]
pub struct LocalFile {
    file: File,
    /// The path it was opened by, absolute: what names its pre-parsed form.
    path: PathBuf,
    identity: Identity,
    pub len: u64,
}

impl LocalFile {
    pub fn open(path: &Path) -> std::io::Result<LocalFile> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        Ok(LocalFile {
            path: std::path::absolute(path)?,
            identity: identity(&meta),
            len: meta.len(),
            file,
        })
    }

    /// The whole document, at most `limit` bytes (`None`: longer), and what names its
    /// pre-parsed form once made.
    pub fn read(self, limit: u64) -> std::io::Result<(Option<Vec<u8>>, LocalKey)> {
        let mut bytes = Vec::new();
        (&self.file)
            .take(limit.saturating_add(1))
            .read_to_end(&mut bytes)?;
        let key = LocalKey {
            path: self.path,
            identity: self.identity,
        };
        Ok(((bytes.len() as u64 <= limit).then_some(bytes), key))
    }
}

/// The version of a local index file a pre-parsed form is made from.
#[derive(Debug, Clone)]
pub struct LocalKey {
    path: PathBuf,
    identity: Identity,
}

impl IndexCache {
    fn local_path(&self, path: &Path) -> PathBuf {
        self.path(&format!("file:{}", path.display()), "local")
    }

    /// The pre-parsed form of the local file, when one was made from this version of it
    /// (`Err` gives the file back).
    pub fn stored_local(
        &self,
        local: LocalFile,
    ) -> std::result::Result<(Stored, Arc<dyn EntryBytes>), Box<LocalFile>> {
        let stored = std::fs::read(self.local_path(&local.path))
            .ok()
            .and_then(|mut bytes| {
                let rest = bytes.split_off(local.identity.len().min(bytes.len()));
                (bytes == local.identity).then_some(rest)
            })
            .and_then(stored::decode);
        let Some(stored) = stored else {
            return Err(Box::new(local));
        };
        let document = Document {
            file: Mutex::new(local.file),
            body_at: 0,
            body_len: local.len,
        };
        Ok((stored, Arc::new(document)))
    }

    /// Writes the pre-parsed form of a local file's version `key`, replacing the one of any
    /// earlier version.
    pub fn write_parsed_local(
        &self,
        key: &LocalKey,
        digest: &Digest,
        parsed: &Parsed,
    ) -> Result<()> {
        write_atomic_with(
            &self.local_path(&key.path),
            |out| {
                out.write_all(&key.identity)?;
                stored::encode(out, digest, parsed)
            },
            Durability::NoSync,
            "cache.write",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_keeps_credentials_out_of_file_names() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = IndexCache::new(tmp.path());
        let url = "https://user:s3cret@r.example/index.json?token=abc";
        assert!(cache.open(url).and_then(Opened::read).is_none());
        let c = Cached {
            body: b"{\"packs\":[]}\n{odd}".to_vec(),
            validators: Validators {
                etag: Some("\"v1\"".into()),
                last_modified: None,
            },
            fetched_at: now_secs() - 10,
            signature: Some(b"untrusted comment: x\nRWQ\n".to_vec()),
        };
        cache.write(url, &c, None).unwrap();
        assert_eq!(cache.open(url).and_then(Opened::read).unwrap(), c);
        assert!(c.age_secs() >= 10);
        for entry in std::fs::read_dir(tmp.path().join("indices")).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            assert!(
                !name.contains("s3cret") && !name.contains("r.example"),
                "{name}"
            );
        }
        assert!(cache.open("https://r.example/other.json").is_none());
    }
}
