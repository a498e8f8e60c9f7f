//! Who is acting: an operator by name, with the role that says what they may do, the way they
//! proved who they are, and where they act from. Every change the operations make is checked
//! against the role and written to the audit log under this name ([`crate::operate`]).

use std::fmt;
use std::net::IpAddr;

/// What an operator may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Reads only: the console's pages, the API's and SCIM's reads.
    Viewer,
    /// Everything: connecting, syncing, approving, tokens.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Admin => "admin",
        }
    }

    /// A role by its name, as the store, the CLI and the API write it.
    pub fn parse(text: &str) -> Result<Role, String> {
        match text {
            "viewer" => Ok(Role::Viewer),
            "admin" => Ok(Role::Admin),
            other => Err(format!("no role `{other}`: a role is `admin` (everything) or `viewer` (reads only)")),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an operator proved who they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// The server's one admin token: the bootstrap way in, an admin without a name.
    AdminToken,
    /// A named API token, for a machine.
    ApiToken,
    /// A login at the company's identity provider (OpenID Connect).
    SingleSignOn,
    /// A command run on the server's machine, with the store's file or URL at hand.
    CommandLine,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::AdminToken => "admin token",
            Via::ApiToken => "API token",
            Via::SingleSignOn => "single sign-on",
            Via::CommandLine => "command line",
        }
    }
}

/// Someone acting: their name, role, how they proved it and from where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// The name the audit log shows: an email from the identity provider, a token's name, `admin`.
    pub name: String,
    pub role: Role,
    pub via: Via,
    /// The client's address, through the trusted proxies; none on the command line.
    pub address: Option<IpAddr>,
}

impl Actor {
    /// Whoever holds the admin token.
    pub fn admin_token(address: IpAddr) -> Actor {
        Actor { name: "admin".to_owned(), role: Role::Admin, via: Via::AdminToken, address: Some(address) }
    }

    /// The person at this machine's shell: they hold the store itself, so they may do everything.
    pub fn command_line() -> Actor {
        let user = std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "operator".to_owned());
        Actor { name: user, role: Role::Admin, via: Via::CommandLine, address: None }
    }

    /// Where they act from, as the audit log says it.
    pub fn from(&self) -> String {
        self.address.map_or_else(|| "this machine".to_owned(), |a| a.to_string())
    }

    /// Refused unless this actor may change things: what a viewer is told.
    pub fn may_change(&self) -> Result<(), String> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Viewer => Err(format!("{} is a viewer: viewers read only; an admin can do this", self.name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_read_back_from_their_names_and_only_admins_change() {
        for role in [Role::Admin, Role::Viewer] {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
        }
        assert!(Role::parse("owner").expect_err("refused").contains("`admin`"));
        let viewer =
            Actor { name: "ann@example.com".into(), role: Role::Viewer, via: Via::SingleSignOn, address: None };
        assert_eq!(
            viewer.may_change().expect_err("refused"),
            "ann@example.com is a viewer: viewers read only; an admin can do this"
        );
        assert_eq!(viewer.from(), "this machine");
        assert!(Actor::admin_token(IpAddr::from([127, 0, 0, 1])).may_change().is_ok());
    }
}
