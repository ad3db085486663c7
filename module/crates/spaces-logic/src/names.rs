//! Fixed names and the texts reducers write, the same as the engine's
//! (`spacesd/model.py`, `spacesd/engine/effects.py`, `spacesd/engine/reducers/`;
//! tests/test_schema_sync.py compares them).

/// The server `init` creates, owned by the database owner (`model.HUB_NAME`).
pub const HUB_NAME: &str = "Spaces Hub";

/// The channel `create_server` gives a new server: Text, position 0
/// (`servers.DEFAULT_CHANNEL`).
pub const DEFAULT_CHANNEL: &str = "general";

/// The content of the Join message posted when someone joins a server
/// (`effects.JOIN_CONTENT`).
pub const JOIN_CONTENT: &str = "joined the server";

/// The content of the Leave message posted when someone leaves a server
/// (`effects.LEAVE_CONTENT`).
pub const LEAVE_CONTENT: &str = "left the server";

/// The title of the notification `set_member_role` writes (`servers.ROLE_CHANGED_TITLE`).
pub const ROLE_CHANGED_TITLE: &str = "Role changed";

/// The body of that notification (`servers.role_changed_body`); `role` is the variant name.
pub fn role_changed_body(server_name: &str, role: &str) -> String {
    format!("Your role in {server_name} is now {role}.")
}

/// The title of the notification `invite_to_server` writes (`servers.INVITE_TITLE`).
pub const INVITE_TITLE: &str = "Invitation";

/// The body of that notification (`servers.invite_body`).
pub fn invite_body(inviter: &str, server_name: &str) -> String {
    format!("{inviter} invited you to {server_name}.")
}

/// The title of a mention notification (`messages.mention_title`); its body is the message.
pub fn mention_title(sender: &str, channel: &str) -> String {
    format!("{sender} mentioned you in #{channel}")
}

/// How many hex digits of the identity the default username takes: 8, or 27 (a 32-character
/// username) when the short one is taken (`lifecycle.default_username`).
pub const DEFAULT_USERNAME_DIGITS: [usize; 2] = [8, 27];

/// A default username: `user_` and the first `digits` hex digits of the identity (big-endian
/// hex, as people see it).
pub fn default_username(identity_hex: &str, digits: usize) -> String {
    let hex = identity_hex
        .strip_prefix("0x")
        .unwrap_or(identity_hex)
        .to_ascii_lowercase();
    let short: String = hex.chars().take(digits).collect();
    format!("user_{short}")
}

/// The name of an identity in texts: its username, or `user_<first 8 hex>` without a profile
/// (`effects.name_of`).
pub fn name_of(username: Option<&str>, identity_hex: &str) -> String {
    match username {
        Some(name) => name.to_string(),
        None => default_username(identity_hex, DEFAULT_USERNAME_DIGITS[0]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation;

    const HEX: &str = "c200abcdef0123456789abcdef0123456789abcdef0123456789abcdef012345";

    #[test]
    fn default_usernames_are_valid() {
        assert_eq!(default_username(HEX, 8), "user_c200abcd");
        assert_eq!(default_username("0xC200ABCDEF", 8), "user_c200abcd");
        let long = default_username(HEX, 27);
        assert_eq!(long, "user_c200abcdef0123456789abcdef0");
        assert_eq!(long.len(), 32);
        for digits in DEFAULT_USERNAME_DIGITS {
            assert!(validation::username(&default_username(HEX, digits)).is_ok());
        }
    }

    #[test]
    fn texts() {
        assert_eq!(
            role_changed_body("Spaces Hub", "Moderator"),
            "Your role in Spaces Hub is now Moderator."
        );
        assert_eq!(
            mention_title("alice", "general"),
            "alice mentioned you in #general"
        );
        assert_eq!(name_of(Some("bob"), HEX), "bob");
        assert_eq!(name_of(None, HEX), "user_c200abcd");
        assert!(validation::channel_name(DEFAULT_CHANNEL).is_ok());
    }
}
