//! The pure rules of the Spaces SpacetimeDB module, kept apart from the `spacetimedb` crate so
//! that `cargo test` runs them natively (a test binary of the module crate itself cannot link:
//! its host imports exist only inside SpacetimeDB).
//!
//! - [`errors`]: every refusal message, byte for byte the engine's `spacesd/engine/errors.py`;
//! - [`validation`]: argument bounds, the engine's `spacesd/engine/validation.py`;
//! - [`roles`]: role levels and the role-change rule;
//! - [`dm`]: direct-conversation participant ordering;
//! - [`mentions`]: `@username` parsing;
//! - [`json`]: the strict JSON-object check of AgentEvent contents;
//! - [`names`]: the hub's name, default usernames;
//! - [`tasks`]: lease patterns and their overlap, the expiry as refusals show it.

pub mod dm;
pub mod errors;
pub mod json;
pub mod mentions;
pub mod names;
pub mod roles;
pub mod tasks;
pub mod validation;
