//! What makes bytes trustworthy: hashing readers, per-file digests and content checksums
//! ([`hashing`]), minisign signatures ([`signature`]) and the rollback record of signature
//! times ([`freshness`]). It may import `model`, `error`, `util` and `fs`.

pub mod freshness;
pub mod hashing;
pub mod signature;
