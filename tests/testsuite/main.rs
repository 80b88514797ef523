//! attune-pack's integration tests, as one test binary (cargo's `testsuite` layout): the real
//! binary against real archives, git repositories and HTTP servers started by the tests.

mod support;

mod attune_compat;
mod bundles;
mod crashes;
mod durability;
#[cfg(feature = "failpoints")]
mod faults;
mod git_sources;
mod hostile_archives;
mod library_api;
mod lifecycle;
mod limits;
mod local_sources;
mod net_policy;
mod oci;
mod pack_tests;
mod python_envs;
mod registry;
mod remote_archive;
mod signed_indices;
mod stackstorm;
mod store_cli;
mod verify;
