//! attune-pack: install Attune automation packs from registries, git repositories, archive
//! URLs, local directories and local archives, with no external programs.
//!
//! An [`Installer`] works on one store (a packs directory); [`PackSource::detect`] reads an
//! install argument the way the command line does; [`InstallHooks`] let a program keep its
//! own record of packs in step with the store.
//!
//! ```no_run
//! # async fn demo() -> Result<(), attune_pack::Error> {
//! use attune_pack::{DetectOptions, InstallOptions, Installer, PackSource};
//! let installer = Installer::builder().packs_dir("/var/lib/attune/packs").build()?;
//! let source = PackSource::detect("./my-pack", &DetectOptions::new())?;
//! let report = installer.install(source, InstallOptions::new()).await?;
//! assert_eq!(report.receipt.pack_ref, "my_pack");
//! # Ok(()) }
//! ```
//!
//! Errors are one [`Error`] enum; [`Error::code`] and [`Error::exit_code`] follow the
//! reference (`docs/reference.md` in the repository).

#![warn(missing_docs)]

mod bundle_file;
mod checksum;
mod config;
mod context;
mod deps;
mod error;
mod events;
#[doc(hidden)]
pub mod failpoint;
mod freshness;
mod fsutil;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod hashing;
mod history;
mod hooks;
mod installer;
mod interrupt;
mod locate;
mod lockfile;
mod manifest;
mod names;
mod net;
mod pack_ref;
mod pack_tests;
mod pipeline;
pub mod publish;
mod python;
mod receipt;
mod redact;
mod registry;
mod safety;
// PublicKey::id is for the index verification being added on main.
mod signature;
mod source;
mod store;
mod syncer;
pub mod terminal;
mod walk;
mod yaml_depth;

pub use bundle_file::{BundleManifest, BundledPack};
pub use checksum::{Algorithm, Checksum, ParseChecksumError};
pub use config::{parse_byte_size, Config, IndexConfig, Limits, NetPolicy, RegistryConfig};
pub use error::{Category, Checked, Error, Result, Rule};
pub use events::{Event, EventSink, Phase};
pub use hashing::{directory_checksum, file_checksum};
pub use history::{Action, Outcome, Record, Recovered, Recovery};
pub use hooks::{InstallHooks, PendingChange};
pub use installer::{Dependents, Installer, InstallerBuilder};
pub use interrupt::Interrupt;
pub use locate::Subdir;
pub use lockfile::{LockedPack, Lockfile, LOCKFILE_VERSION};
pub use manifest::{Dependency, Manifest, OnFailure, Runner, RunnerKind, Testing};
pub use pack_ref::{InvalidRef, PackRef, REF_RULE};
pub use pipeline::{
    BundleOptions, BundleReport, BundleVerified, InstallOptions, InstallReport, LockedAction,
    LockedOptions, LockedOutcome, Outdated, PasswordFn, UpdateOptions, UpdateReport, Verified,
};
pub use python::PythonRequirement;
pub use receipt::{
    Receipt, ReceiptChecksums, ReceiptSource, Sandbox, SourceKind, TestStatus, TestSummary,
};
pub use registry::{IndexStatus, SearchHit};
pub use source::{DetectOptions, PackSource, VersionSpec};
pub use store::{RolledBack, Uninstalled};
