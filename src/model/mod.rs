//! The values every other layer speaks in: a pack's identity ([`pack_ref`]), checksums,
//! receipts, history records, events, and text made safe for a terminal. Plain data and
//! their formats, with no I/O of their own: this is the bottom layer, and it imports nothing
//! else of the crate (errors name these values, so they sit even below `error`).

pub mod checksum;
pub mod events;
pub mod history;
pub mod pack_ref;
pub mod receipt;
pub mod terminal;
