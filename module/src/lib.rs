//! Spaces: the SpacetimeDB 2.x server module.
//!
//! The data model (the design's 13 tables, `write_key`, `server_invite`, issue 13's task,
//! path_lease and vote; 5 enums) and its reducers (and keyed variants) follow `/DESIGN.md`
//! (`docs/roles.md` for invites, `docs/tasks.md` for tasks) and
//! `spacesd/model.py` to the letter; the rules are the same as the embedded engine's
//! (`spacesd/engine/`), and so are the refusal messages, which live in the `spaces-logic`
//! crate together with validation, role levels, DM ordering and mention parsing.
//!
//! Layout:
//! - `tables.rs`: the tables (and the scheduled `expiry_schedule`); `enums.rs`: the enums;
//! - `visibility.rs`: row-level security for DMs and notifications;
//! - `auth.rs`: lookups, membership and role checks (every authorization goes through here,
//!   always about `ctx.sender()`);
//! - `reducers/`: the reducers, grouped by domain.

pub mod auth;
pub mod enums;
pub mod reducers;
pub mod tables;
pub mod visibility;

use spacetimedb::CaseConversionPolicy;

/// Names are used verbatim: tables, columns and reducers are already snake_case, and enum
/// variants keep their Rust spelling (`AgentLog`, not `agentLog`), as in `spacesd/model.py`,
/// so the JSON of the HTTP call route (`{"AgentEvent": []}`) and generated bindings use the
/// same names as the Python data model.
#[spacetimedb::settings]
const CASE_CONVERSION_POLICY: CaseConversionPolicy = CaseConversionPolicy::None;
