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

mod config;
mod context;
mod error;
mod fs;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod hooks;
mod installer;
mod integrity;
mod model;
mod net;
mod pack;
mod pack_tests;
mod pipeline;
pub mod publish;
mod records;
mod registry;
mod runtime_env;
mod safety;
mod source;
mod store;
mod util;

pub use model::terminal;
#[doc(hidden)]
pub use util::failpoint;

pub use config::{parse_byte_size, Config, IndexConfig, Limits, NetPolicy, RegistryConfig};
pub use error::{Category, Checked, Error, Result, Rule};
pub use hooks::{InstallHooks, PendingChange};
pub use installer::{Dependents, Installer, InstallerBuilder};
pub use integrity::hashing::{directory_checksum, file_checksum};
pub use model::checksum::{Algorithm, Checksum, ParseChecksumError};
pub use model::events::{Event, EventSink, Phase};
pub use model::history::{Action, Outcome, Record, Recovered, Recovery};
pub use model::pack_ref::{InvalidRef, PackRef, REF_RULE};
pub use model::receipt::{
    EnvStatus, Receipt, ReceiptChecksums, ReceiptEnv, ReceiptSource, Sandbox, SourceKind,
    TestStatus, TestSummary,
};
pub use net::oci::Credential;
pub use pack::locate::Subdir;
pub use pack::manifest::{Dependency, Manifest, OnFailure, Runner, RunnerKind, Testing};
pub use pack::python::PythonRequirement;
pub use pipeline::{
    BundleFormat, BundleOptions, BundleReport, BundleVerified, InstallOptions, InstallReport,
    LockedAction, LockedOptions, LockedOutcome, Outdated, PasswordFn, UpdateOptions, UpdateReport,
    Verified,
};
pub use publish::{PushOptions, Pushed};
pub use records::bundle_file::{BundleManifest, BundledPack};
pub use records::lockfile::{LockedPack, Lockfile, LOCKFILE_VERSION};
pub use registry::{IndexStatus, SearchHit};
pub use runtime_env::{state as env_state, EnvState};
pub use source::{DetectOptions, PackSource, VersionSpec};
pub use store::{RolledBack, Uninstalled};
pub use util::interrupt::Interrupt;
