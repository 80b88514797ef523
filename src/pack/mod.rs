//! The pack as an author writes it: pack.yaml read and validated ([`manifest`]), where
//! pack.yaml is found in a tree ([`locate`]), dependencies and dependents ([`deps`]) and the
//! Python requirement checked against an interpreter ([`python`]). It may import `model`,
//! `error`, `util` and `fs`; it knows nothing of sources, registries or the store.

pub mod deps;
pub mod locate;
pub mod manifest;
pub mod python;
