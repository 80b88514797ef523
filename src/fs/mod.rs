//! File-system mechanisms: atomic and durable writes and renames ([`fsutil`]), walking a
//! directory without following links ([`walk`]), syncing a staged tree to disk in
//! parallel ([`syncer`]), and locking a directory built in place ([`dirlock`]). It may import `model`, `error` and `util`.

pub mod dirlock;
pub mod fsutil;
pub mod syncer;
pub mod walk;
