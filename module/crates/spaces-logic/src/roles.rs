//! The 5-tier role model: levels and who may do what to whom.
//!
//! `Role` mirrors the module's `MemberRole` (same variants, same order); the module converts
//! with exhaustive `From` impls, so a new variant cannot be forgotten on either side.

use crate::errors;

/// A member's role in a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Owner,
    Admin,
    Moderator,
    Member,
    Agent,
}

/// Every role, in variant (BSATN tag) order.
pub const ALL_ROLES: [Role; 5] = [
    Role::Owner,
    Role::Admin,
    Role::Moderator,
    Role::Member,
    Role::Agent,
];

impl Role {
    /// Owner 4, Admin 3, Moderator 2, Member 1, Agent 1.
    pub const fn level(self) -> u8 {
        match self {
            Role::Owner => 4,
            Role::Admin => 3,
            Role::Moderator => 2,
            Role::Member | Role::Agent => 1,
        }
    }

    /// Whether this role is at least as high as `other` (by level).
    pub const fn at_least(self, other: Role) -> bool {
        self.level() >= other.level()
    }

    /// The variant's name as written in Rust and in `spacesd.model`.
    pub const fn name(self) -> &'static str {
        match self {
            Role::Owner => "Owner",
            Role::Admin => "Admin",
            Role::Moderator => "Moderator",
            Role::Member => "Member",
            Role::Agent => "Agent",
        }
    }

    /// The role a newcomer gets when joining a server: agents are `Agent`, people `Member`.
    pub const fn for_newcomer(is_agent: bool) -> Role {
        if is_agent {
            Role::Agent
        } else {
            Role::Member
        }
    }
}

/// Admin+ : update_server, create_channel, delete_channel, announcements.
pub fn is_admin(role: Role) -> bool {
    role.at_least(Role::Admin)
}

/// Moderator+ : update_channel, delete anyone's message, archive anyone's thread.
pub fn is_moderator(role: Role) -> bool {
    role.at_least(Role::Moderator)
}

/// The rule of `set_member_role`, once the server, the caller's membership and the target's
/// membership are known to exist.
///
/// - only Admins and the Owner change roles;
/// - nobody gives the Owner role, and nobody changes the Owner's role;
/// - an Admin gives only Moderator, Member or Agent, and only to members below Admin;
/// - an agent profile can only hold Agent.
///
/// Checks run in the engine's order (`spacesd/engine/reducers/servers.py`).
pub fn check_set_role(
    actor: Role,
    target: Role,
    new_role: Role,
    target_is_agent: bool,
) -> Result<(), &'static str> {
    if !is_admin(actor) {
        return Err(errors::SET_ROLE_FORBIDDEN);
    }
    if new_role == Role::Owner {
        return Err(errors::OWNER_ROLE_NOT_ASSIGNABLE);
    }
    if target == Role::Owner {
        return Err(errors::OWNER_ROLE_FIXED);
    }
    if actor != Role::Owner {
        if new_role == Role::Admin {
            return Err(errors::ADMIN_ROLE_LIMIT);
        }
        if target.at_least(Role::Admin) {
            return Err(errors::ADMIN_TARGET_LIMIT);
        }
    }
    if target_is_agent && new_role != Role::Agent {
        return Err(errors::AGENT_ROLE_ONLY);
    }
    Ok(())
}

/// Whether an identity holding these roles may become an agent: an agent holds no Owner,
/// Admin or Moderator role anywhere.
pub fn may_become_agent(held: impl IntoIterator<Item = Role>) -> bool {
    held.into_iter().all(|r| r.level() <= Role::Member.level())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_the_design() {
        let levels: Vec<u8> = ALL_ROLES.iter().map(|r| r.level()).collect();
        assert_eq!(levels, vec![4, 3, 2, 1, 1]);
        assert!(Role::Owner.at_least(Role::Admin));
        assert!(Role::Agent.at_least(Role::Member));
        assert!(Role::Member.at_least(Role::Agent));
        assert!(!Role::Moderator.at_least(Role::Admin));
        assert!(is_admin(Role::Admin) && is_admin(Role::Owner) && !is_admin(Role::Moderator));
        assert!(is_moderator(Role::Moderator) && !is_moderator(Role::Member));
        assert!(!is_moderator(Role::Agent));
    }

    #[test]
    fn names_and_newcomers() {
        let names: Vec<&str> = ALL_ROLES.iter().map(|r| r.name()).collect();
        assert_eq!(names, ["Owner", "Admin", "Moderator", "Member", "Agent"]);
        assert_eq!(Role::for_newcomer(true), Role::Agent);
        assert_eq!(Role::for_newcomer(false), Role::Member);
    }

    #[test]
    fn owner_sets_any_role_but_owner() {
        for target in [Role::Admin, Role::Moderator, Role::Member, Role::Agent] {
            for new_role in [Role::Admin, Role::Moderator, Role::Member, Role::Agent] {
                assert_eq!(check_set_role(Role::Owner, target, new_role, false), Ok(()));
            }
            assert_eq!(
                check_set_role(Role::Owner, target, Role::Owner, false),
                Err(errors::OWNER_ROLE_NOT_ASSIGNABLE)
            );
        }
    }

    #[test]
    fn nobody_changes_the_owner() {
        for actor in [Role::Owner, Role::Admin] {
            assert_eq!(
                check_set_role(actor, Role::Owner, Role::Member, false),
                Err(errors::OWNER_ROLE_FIXED)
            );
        }
        // Giving Owner is refused first, whoever the target.
        assert_eq!(
            check_set_role(Role::Owner, Role::Owner, Role::Owner, false),
            Err(errors::OWNER_ROLE_NOT_ASSIGNABLE)
        );
    }

    #[test]
    fn becoming_an_agent() {
        assert!(may_become_agent([]));
        assert!(may_become_agent([Role::Member, Role::Agent]));
        for held in [Role::Owner, Role::Admin, Role::Moderator] {
            assert!(!may_become_agent([Role::Member, held]));
        }
    }

    #[test]
    fn admins_work_below_admin() {
        for new_role in [Role::Moderator, Role::Member, Role::Agent] {
            assert_eq!(
                check_set_role(Role::Admin, Role::Member, new_role, false),
                Ok(())
            );
            assert_eq!(
                check_set_role(Role::Admin, Role::Moderator, new_role, false),
                Ok(())
            );
        }
        assert_eq!(
            check_set_role(Role::Admin, Role::Admin, Role::Member, false),
            Err(errors::ADMIN_TARGET_LIMIT)
        );
        assert_eq!(
            check_set_role(Role::Admin, Role::Member, Role::Admin, false),
            Err(errors::ADMIN_ROLE_LIMIT)
        );
        // The role asked for is judged before the target's rank.
        assert_eq!(
            check_set_role(Role::Admin, Role::Admin, Role::Admin, false),
            Err(errors::ADMIN_ROLE_LIMIT)
        );
        assert_eq!(
            check_set_role(Role::Admin, Role::Member, Role::Owner, false),
            Err(errors::OWNER_ROLE_NOT_ASSIGNABLE)
        );
    }

    #[test]
    fn below_admin_sets_nothing() {
        for actor in [Role::Moderator, Role::Member, Role::Agent] {
            assert_eq!(
                check_set_role(actor, Role::Member, Role::Agent, false),
                Err(errors::SET_ROLE_FORBIDDEN)
            );
        }
    }

    #[test]
    fn agents_only_hold_agent() {
        assert_eq!(
            check_set_role(Role::Owner, Role::Agent, Role::Agent, true),
            Ok(())
        );
        for new_role in [Role::Admin, Role::Moderator, Role::Member] {
            assert_eq!(
                check_set_role(Role::Owner, Role::Agent, new_role, true),
                Err(errors::AGENT_ROLE_ONLY)
            );
        }
    }
}
