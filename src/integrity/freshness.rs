//! Rollback protection for signed indices and bundles: the newest signature timestamp seen
//! per signer, kept in the store (`.attune-pack/signatures.json`), not in the cache, which
//! may be wiped. A document signed earlier than one already seen is a replay, refused unless
//! the operator asks for it (`--allow-downgrade`).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result};
use crate::fs::fsutil::{write_atomic, Durability};

/// The record of timestamps seen, in one store.
#[derive(Debug, Clone)]
pub struct SeenTimestamps {
    /// `PACKS_DIR/.attune-pack/signatures.json`.
    path: PathBuf,
    /// The packs directory: nothing is recorded while it does not exist (a read-only command
    /// never creates the store).
    packs_dir: PathBuf,
}

/// What the record says of a timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Not older than anything seen (now recorded).
    Current,
    /// Older than `newest`, which was seen before.
    Older { newest: u64 },
}

impl SeenTimestamps {
    /// The record of the store at `packs_dir`.
    pub fn of_store(packs_dir: &Path) -> SeenTimestamps {
        SeenTimestamps {
            path: packs_dir.join(".attune-pack").join("signatures.json"),
            packs_dir: packs_dir.to_owned(),
        }
    }

    /// Compares `timestamp` with the newest seen for `signer` and records it when newer.
    /// Concurrent commands are serialized by a lock next to the record, so the newest value
    /// is never lost to a race.
    pub fn check_and_record(&self, signer: &str, timestamp: u64) -> Result<Seen> {
        if !self.packs_dir.is_dir() {
            return Ok(Seen::Current);
        }
        let dir = self.path.parent().expect("a parent");
        std::fs::create_dir_all(dir).ctx(|| format!("creating {}", dir.display()))?;
        let lock_path = self.path.with_extension("lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .ctx(|| format!("opening {}", lock_path.display()))?;
        lock.lock()
            .ctx(|| format!("locking {}", lock_path.display()))?;
        let mut seen = self.read();
        let newest = seen.get(signer).copied().unwrap_or(0);
        if timestamp < newest {
            return Ok(Seen::Older { newest });
        }
        if timestamp > newest {
            seen.insert(signer.to_owned(), timestamp);
            let bytes = serde_json::to_vec_pretty(&seen).expect("a map of numbers");
            write_atomic(&self.path, &bytes, Durability::Sync, "signatures.write")?;
        }
        Ok(Seen::Current)
    }

    /// The record; an unreadable one counts as empty (it only ever raises a floor).
    fn read(&self) -> BTreeMap<String, u64> {
        std::fs::read(&self.path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_the_newest_per_signer_and_only_in_an_existing_store() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = SeenTimestamps::of_store(&tmp.path().join("none"));
        assert_eq!(missing.check_and_record("main", 5).unwrap(), Seen::Current);
        assert!(!tmp.path().join("none").exists());
        let f = SeenTimestamps::of_store(tmp.path());
        assert_eq!(f.check_and_record("main", 10).unwrap(), Seen::Current);
        assert_eq!(f.check_and_record("main", 10).unwrap(), Seen::Current);
        assert_eq!(
            f.check_and_record("main", 9).unwrap(),
            Seen::Older { newest: 10 }
        );
        assert_eq!(f.check_and_record("other", 1).unwrap(), Seen::Current);
        assert_eq!(f.check_and_record("main", 11).unwrap(), Seen::Current);
        assert_eq!(
            SeenTimestamps::of_store(tmp.path())
                .check_and_record("main", 10)
                .unwrap(),
            Seen::Older { newest: 11 }
        );
    }
}
