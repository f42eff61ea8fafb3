//! Invites: `udprelay://HOST:PORT/ID#SECRET`, a link that says where, which group, and (for a
//! private group) its secret. The secret is after `#`, the part of a URL that browsers and
//! most link handlers never send anywhere. A plain group's invite has no `#` part.

use std::fmt;
use std::str::FromStr;

use udprelay_shared::{GroupId, InvalidGroupId};

use super::Secret;

const SCHEME: &str = "udprelay://";

/// Where a group is, which it is, and its secret when it is private.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    /// The server as `HOST:PORT` (`[IPv6]:PORT`), as a client's `--host` takes it.
    pub server: String,
    /// The group.
    pub group: GroupId,
    /// The group's secret, for a private group.
    pub secret: Option<Secret>,
}

/// Why a text is not an invite; each says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidInvite {
    /// It does not start with `udprelay://`.
    #[error("an invite starts with udprelay:// (udprelay://HOST:PORT/GROUP#SECRET)")]
    Scheme,
    /// No `HOST:PORT` after the scheme.
    #[error("the invite names no server (udprelay://HOST:PORT/GROUP)")]
    Server,
    /// The port is not a number from 1 to 65535.
    #[error("the invite's port '{0}' is not a port number (1 to 65535)")]
    Port(String),
    /// An IPv6 address without its closing `]`.
    #[error("the invite's IPv6 address has no closing ']'")]
    Bracket,
    /// The host has a character no host name or address has: a `,` (which a client's
    /// `--host` would take as a second server), an `@`, white space, a control character.
    /// The text is shown with such characters escaped.
    #[error("the invite's server {0:?} is not a host name or address")]
    Host(String),
    /// The group id is not one.
    #[error("the invite's group id is not one: {0}")]
    Group(InvalidGroupId),
    /// The secret is not 32 bytes of base32: copied only in part, perhaps.
    #[error("the invite's secret is damaged (copy the whole link)")]
    Secret,
}

impl Invite {
    /// Whether `text` is meant as an invite: it starts with `udprelay://` (any case, after
    /// white space). What users type to join is read as an invite then, and as a group id
    /// otherwise, so that a damaged link is refused as a link.
    pub fn is_meant(text: &str) -> bool {
        text.trim_start().get(..SCHEME.len()).is_some_and(|s| s.eq_ignore_ascii_case(SCHEME))
    }
}

impl FromStr for Invite {
    type Err = InvalidInvite;

    fn from_str(text: &str) -> Result<Invite, InvalidInvite> {
        let text = text.trim();
        if !Invite::is_meant(text) {
            return Err(InvalidInvite::Scheme);
        }
        let rest = &text[SCHEME.len()..];
        let (rest, secret) = match rest.split_once('#') {
            Some((rest, secret)) => {
                (rest, Some(Secret::parse(secret).ok_or(InvalidInvite::Secret)?))
            }
            None => (rest, None),
        };
        let (authority, path) = rest.split_once('/').ok_or(InvalidInvite::Server)?;
        let server = server(authority)?;
        let id = path.trim_end_matches('/');
        let group = GroupId::parse_lenient(id).map_err(InvalidInvite::Group)?;
        Ok(Invite { server, group, secret })
    }
}

/// `HOST:PORT` or `[IPv6]:PORT` (the port is needed: a link has no default to fall back on
/// that the reader would know).
fn server(authority: &str) -> Result<String, InvalidInvite> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or(InvalidInvite::Bracket)?;
        let port = after.strip_prefix(':').ok_or(InvalidInvite::Server)?;
        (format!("[{host}]"), port)
    } else {
        let (host, port) = authority.rsplit_once(':').ok_or(InvalidInvite::Server)?;
        (host.to_string(), port)
    };
    if host.is_empty() || host == "[]" || host.contains(':') && !host.starts_with('[') {
        return Err(InvalidInvite::Server);
    }
    let fits = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(ipv6) => ipv6.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.'),
        // Letters and digits of any script (internationalised names), '-', '.' and '_'.
        None => host.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | '_')),
    };
    if !fits {
        return Err(InvalidInvite::Host(host));
    }
    match port.parse::<u16>() {
        Ok(port) if port > 0 => Ok(format!("{host}:{port}")),
        _ => Err(InvalidInvite::Port(port.to_string())),
    }
}

impl fmt::Display for Invite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}/{}", self.server, self.group)?;
        match &self.secret {
            Some(secret) => write!(f, "#{secret}"),
            None => Ok(()),
        }
    }
}
