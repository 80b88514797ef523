//! `index sign`: the detached minisign signature of an index file, written beside it as
//! `INDEX.json.minisig`, which installers with the author's public key in `trusted_keys`
//! check before they use the index.

use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::fs::fsutil::{write_atomic, Durability};
use crate::integrity::signature::SigningKey;

/// A signature written by [`sign_index`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIndex {
    /// `INDEX.json.minisig`.
    pub signature: PathBuf,
    /// The signing key's id, as minisign prints it.
    pub key_id: String,
    /// The trusted comment's timestamp (Unix seconds): the signing time, which installers
    /// remember to refuse an older copy later.
    pub timestamp: u64,
}

/// Signs the index file `index` with the minisign secret key at `secret_key`; `password` is
/// asked only when that key is encrypted. The index must be one attune-pack can read, so a
/// typo is not signed and published.
pub fn sign_index(
    index: &Path,
    secret_key: &Path,
    password: impl FnOnce() -> std::result::Result<String, String>,
) -> Result<SignedIndex> {
    let body = std::fs::read(index).ctx(|| format!("reading {}", index.display()))?;
    crate::registry::index::Index::parse(&body, &index.display().to_string())
        .map_err(Error::Usage)?;
    let key = SigningKey::load(secret_key, || {
        password().map_err(crate::integrity::signature::SignatureError)
    })
    .map_err(|e| Error::Usage(e.0))?;
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let file = index
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = key.sign(&body, &format!("timestamp:{timestamp}\tfile:{file}"));
    let mut signature = index.as_os_str().to_owned();
    signature.push(".minisig");
    let signature = PathBuf::from(signature);
    write_atomic(&signature, text.as_bytes(), Durability::Sync, "index.sign")?;
    Ok(SignedIndex {
        signature,
        key_id: key.id().to_string(),
        timestamp,
    })
}
