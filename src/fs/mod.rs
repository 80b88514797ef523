//! File-system mechanisms: atomic and durable writes and renames ([`fsutil`]), walking a
//! directory without following links ([`walk`]), and syncing a staged tree to disk in
//! parallel ([`syncer`]). It may import `model`, `error` and `util`.

pub mod fsutil;
pub mod syncer;
pub mod walk;
