//! attune-pack: install Attune automation packs from registries, git repositories, archive
//! URLs, local directories and local archives, with no external programs.
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

pub mod checksum;
pub mod config;
mod context;
mod deps;
pub mod error;
pub mod events;
#[doc(hidden)]
pub mod failpoint;
mod fsutil;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod hashing;
pub mod history;
pub mod hooks;
mod installer;
pub mod interrupt;
pub mod locate;
pub mod manifest;
mod names;
pub mod net;
mod pack_ref;
mod pack_tests;
mod pipeline;
pub mod receipt;
pub mod redact;
pub mod registry;
pub mod safety;
pub mod source;
pub mod store;
mod syncer;
pub mod terminal;
mod walk;
mod yaml_depth;

pub use checksum::{Algorithm, Checksum};
pub use config::{Config, Limits};
pub use error::{Category, Checked, Error, Result};
pub use events::{Event, EventSink, Phase};
pub use fsutil::Durability;
pub use hooks::{InstallHooks, PendingInstall};
pub use installer::{Dependents, Installer, InstallerBuilder};
pub use interrupt::Interrupt;
pub use manifest::Manifest;
pub use pack_ref::{PackRef, REF_RULE};
pub use pipeline::{InstallOptions, InstallReport};
pub use receipt::Receipt;
pub use source::{DetectOptions, PackSource, VersionSpec};
