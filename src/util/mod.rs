//! Process plumbing every mechanism uses: cooperative cancellation ([`interrupt`]),
//! credentials kept out of URLs and messages ([`redact`]), test-only fault injection
//! ([`failpoint`]), the YAML nesting limit checked before parsing ([`yaml_depth`]) and the
//! file-name rules that tell colliding names apart ([`names`]). It may import `model` and
//! `error`, nothing above them.

#[doc(hidden)]
pub mod failpoint;
pub mod interrupt;
pub mod names;
pub mod redact;
pub mod yaml_depth;
