//! Fixed names: the hub, default usernames.

/// The server `init` creates, owned by the database owner.
pub const HUB_NAME: &str = "Spaces Hub";

/// The username `client_connected` gives a new identity: `user_` and the first 8 hex digits of
/// the identity (big-endian hex, as people see it).
pub fn default_username(identity_hex: &str) -> String {
    let digits = identity_hex
        .strip_prefix("0x")
        .unwrap_or(identity_hex)
        .to_ascii_lowercase();
    let short: String = digits.chars().take(8).collect();
    format!("user_{short}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation;

    #[test]
    fn default_usernames_are_valid() {
        let hex = "c200abcdef0123456789abcdef0123456789abcdef0123456789abcdef012345";
        assert_eq!(default_username(hex), "user_c200abcd");
        assert_eq!(default_username("0xC200ABCDEF"), "user_c200abcd");
        assert!(validation::username(&default_username(hex)).is_ok());
    }
}
