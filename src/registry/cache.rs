//! The on-disk cache of remote index documents: one file per index URL under
//! `CACHE_DIR/indices/`, named by a hash of the URL (a URL may carry credentials; a hash
//! does not). A file holds one JSON header line (validators and fetch time) and then the
//! document, written atomically in one piece so header and body always belong together.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::fsutil::{write_atomic, Durability};

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

#[derive(Serialize, Deserialize)]
struct Header {
    #[serde(flatten)]
    validators: Validators,
    fetched_at: u64,
    /// The signature's text (minisign's is ASCII).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signature: Option<String>,
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

    fn path(&self, url: &str) -> PathBuf {
        let key = hex::encode(Sha256::digest(url.as_bytes()));
        self.dir.join(format!("{}.json", &key[..32]))
    }

    /// The cached copy of `url`, if there is a readable one.
    pub fn read(&self, url: &str) -> Option<Cached> {
        let bytes = std::fs::read(self.path(url)).ok()?;
        let split = bytes.iter().position(|b| *b == b'\n')?;
        let header: Header = serde_json::from_slice(&bytes[..split]).ok()?;
        Some(Cached {
            body: bytes[split + 1..].to_vec(),
            validators: header.validators,
            fetched_at: header.fetched_at,
            signature: header.signature.map(String::into_bytes),
        })
    }

    pub fn write(&self, url: &str, cached: &Cached) -> Result<()> {
        let header = Header {
            validators: cached.validators.clone(),
            fetched_at: cached.fetched_at,
            signature: cached
                .signature
                .as_ref()
                .map(|s| String::from_utf8_lossy(s).into_owned()),
        };
        let mut bytes = serde_json::to_vec(&header)
            .map_err(|e| crate::error::Error::Internal(e.to_string()))?;
        bytes.push(b'\n');
        bytes.extend_from_slice(&cached.body);
        // A cache that a power cut tears is read as missing and fetched again.
        write_atomic(&self.path(url), &bytes, Durability::NoSync, "cache.write")
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
        assert!(cache.read(url).is_none());
        let c = Cached {
            body: b"{\"packs\":[]}\n{odd}".to_vec(),
            validators: Validators {
                etag: Some("\"v1\"".into()),
                last_modified: None,
            },
            fetched_at: now_secs() - 10,
            signature: Some(b"untrusted comment: x\nRWQ\n".to_vec()),
        };
        cache.write(url, &c).unwrap();
        assert_eq!(cache.read(url).unwrap(), c);
        assert!(c.age_secs() >= 10);
        for entry in std::fs::read_dir(tmp.path().join("indices")).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            assert!(
                !name.contains("s3cret") && !name.contains("r.example"),
                "{name}"
            );
        }
        assert!(cache.read("https://r.example/other.json").is_none());
    }
}
