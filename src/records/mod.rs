//! Files attune-pack writes for people and other hosts to keep: the lockfile
//! ([`lockfile`]), the offline bundle format ([`bundle_file`]) and a pack as an OCI artifact
//! ([`oci_artifact`]). It may import every
//! mechanism below it (`model`, `error`, `util`, `fs`, `integrity`, `pack`), never a
//! source, the registry or the store.

pub mod bundle_file;
pub mod lockfile;
pub mod oci_artifact;
pub mod oci_layout;
