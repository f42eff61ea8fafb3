//! The clients' message format, `NAME: text` (docs/protocol.md, "Payloads"): composed and read
//! here and nowhere else, with one rule for names.
//!
//! The relay carries payloads verbatim and knows nothing of names: the prefix is a convention
//! between clients, which the original Python client follows too. A message without one is
//! anonymous. A name that starts with `!` would turn every message into a command, so no name
//! may; nor may a message without a name start with `!`.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use udprelay_shared::GroupId;
use udprelay_shared::limits::MAX_DATAGRAM;

use crate::Error;
use crate::e2e::Doubt;

/// Longest name, in characters; a longer text before `: ` is not taken as a name.
pub const MAX_NAME: usize = 32;

/// A sender's name: 1 to [`MAX_NAME`] characters, without control characters, `:` or `\`,
/// and not starting with `!`. Surrounding spaces are trimmed.
///
/// ```
/// use udprelay_client::Name;
/// assert_eq!("ana".parse::<Name>().unwrap().as_str(), "ana");
/// assert!("!x".parse::<Name>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Name(String);

/// Why a text is not a [`Name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidName {
    /// Nothing but spaces.
    #[error("must not be empty")]
    Empty,
    /// Starts with `!`: every message would be a command.
    #[error("must not start with '!' (that would make messages commands)")]
    Bang,
    /// Longer than [`MAX_NAME`] characters.
    #[error("must be at most {MAX_NAME} characters")]
    TooLong,
    /// Has a control character (a line break, an escape).
    #[error("must not contain control characters")]
    Control,
    /// Has `:` or `\`, which would make `NAME: text` read back differently.
    #[error("must not contain ':' or '\\'")]
    Separator,
}

impl Name {
    /// `text` as a name when it is one exactly as it stands, nothing trimmed: how a name that
    /// comes from someone else is judged (" ana" is not "ana").
    pub fn exactly(text: &str) -> Option<Name> {
        text.parse::<Name>().ok().filter(|name| name.as_str() == text)
    }

    /// The name as it is sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Name {
    type Err = InvalidName;

    fn from_str(text: &str) -> Result<Name, InvalidName> {
        let name = text.trim();
        if name.is_empty() {
            Err(InvalidName::Empty)
        } else if name.starts_with('!') {
            Err(InvalidName::Bang)
        } else if name.chars().any(char::is_control) {
            Err(InvalidName::Control)
        } else if name.chars().count() > MAX_NAME {
            Err(InvalidName::TooLong)
        } else if name.contains([':', '\\']) {
            Err(InvalidName::Separator)
        } else {
            Ok(Name(name.to_string()))
        }
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The payload for `text`, sent as `name`: `NAME: text`, or the text alone without a name.
/// Refused: an empty text, one over the relay's 4096 bytes once the name is put before it,
/// and one that starts with `!` without a name (it would be a command).
pub fn compose(name: Option<&Name>, text: &str) -> Result<Vec<u8>, Error> {
    if text.is_empty() {
        return Err(Error::EmptyMessage);
    }
    let payload = match name {
        Some(name) => format!("{name}: {text}"),
        None if text.starts_with('!') => return Err(Error::LooksLikeCommand),
        None => text.to_string(),
    };
    if payload.len() > MAX_DATAGRAM {
        return Err(Error::TooLong { len: payload.len(), max: MAX_DATAGRAM });
    }
    Ok(payload.into_bytes())
}

/// `NAME: text` split into the name and the text, when the text before the first `: ` is a
/// plausible name (1 to 32 characters, no `\`: an escaped character is no name). Lenient on
/// purpose: other clients allow names this one would not send.
pub fn sender(text: &str) -> Option<(&str, &str)> {
    let (name, message) = text.split_once(": ")?;
    let plausible = !name.is_empty() && name.chars().count() <= MAX_NAME && !name.contains('\\');
    plausible.then_some((name, message))
}

/// A peer's message in one of the client's groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The group it was sent to.
    pub group: GroupId,
    /// The sender's name, when the message has one (`NAME: text`).
    pub from: Option<String>,
    /// The text after the name (all of it without one), as UTF-8 (invalid bytes replaced).
    /// It is exactly what the peer sent: escape it before printing it to a terminal (see
    /// [`crate::text::printable`]).
    pub text: String,
    /// The datagram as it arrived (in a private group, the envelope).
    pub bytes: Vec<u8>,
    /// Whether, and how, it was sealed.
    pub encryption: Encryption,
}

/// How a message came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encryption {
    /// In a plain group: as everyone sends.
    Plain,
    /// In a private group, sealed and signed by `signer`.
    Signed {
        /// The signer's key fingerprint (compare it with what the sender's client shows).
        signer: String,
        /// Why the name may not be who it seems: it came before with another key, it looks
        /// like another member's, or it breaks the name rule.
        doubt: Option<Doubt>,
    },
    /// In a private group, but sent in the clear: anyone who knows the group id could have.
    NotEncrypted,
}

impl Message {
    /// Reads a payload that arrived in `group`.
    pub fn parse(group: GroupId, bytes: Vec<u8>) -> Message {
        let whole = String::from_utf8_lossy(&bytes);
        let (from, text) = match sender(&whole) {
            Some((name, text)) => (Some(name.to_string()), text.to_string()),
            None => (None, whole.to_string()),
        };
        Message { group, from, text, bytes, encryption: Encryption::Plain }
    }

    /// The message as people read it: the payload as it came (a plain group's, or one sent in
    /// the clear), or `NAME: text` from inside an envelope. Not escaped: show it through
    /// [`crate::text::printable`].
    pub fn as_read(&self) -> Cow<'_, [u8]> {
        match (&self.encryption, &self.from) {
            (Encryption::Signed { .. }, Some(from)) => {
                Cow::Owned(format!("{from}: {}", self.text).into_bytes())
            }
            (Encryption::Signed { .. }, None) => Cow::Borrowed(self.text.as_bytes()),
            _ => Cow::Borrowed(&self.bytes),
        }
    }

    /// What to say after it: ` (new key)` when the name came with another key before,
    /// ` (looks like NAME)` when it looks like another member's, ` (not a valid name)` when it
    /// breaks the name rule, ` (not encrypted)` for a payload in the clear in a private group,
    /// else nothing. Escaped, ready to show.
    pub fn mark(&self) -> Cow<'static, str> {
        match &self.encryption {
            Encryption::Signed { doubt: Some(Doubt::NewKey), .. } => " (new key)".into(),
            Encryption::Signed { doubt: Some(Doubt::LooksLike(other)), .. } => {
                format!(" (looks like {})", crate::text::printable(other.as_bytes())).into()
            }
            Encryption::Signed { doubt: Some(Doubt::BadName), .. } => " (not a valid name)".into(),
            Encryption::NotEncrypted => " (not encrypted)".into(),
            _ => "".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn group() -> GroupId {
        "ABCD1234".parse().unwrap()
    }

    #[test]
    fn one_rule_for_names() {
        assert_eq!(" ana ".parse::<Name>().unwrap().as_str(), "ana");
        assert_eq!("ana maria".parse::<Name>().unwrap().as_str(), "ana maria");
        for (text, why) in [
            ("", InvalidName::Empty),
            ("   ", InvalidName::Empty),
            ("!x", InvalidName::Bang),
            ("a\u{1b}[2J", InvalidName::Control),
            ("a\nb", InvalidName::Control),
            ("a:b", InvalidName::Separator),
            ("a\\b", InvalidName::Separator),
        ] {
            assert_eq!(text.parse::<Name>(), Err(why), "{text:?}");
        }
        assert_eq!("x".repeat(33).parse::<Name>(), Err(InvalidName::TooLong));
        assert!("é".repeat(32).parse::<Name>().is_ok(), "characters, not bytes");
        assert_eq!(
            InvalidName::Bang.to_string(),
            "must not start with '!' (that would make messages commands)"
        );
    }

    #[test]
    fn composing() {
        let ana: Name = "ana".parse().unwrap();
        assert_eq!(compose(Some(&ana), "hi there").unwrap(), b"ana: hi there");
        assert_eq!(compose(None, "hi").unwrap(), b"hi");
        assert_eq!(compose(Some(&ana), "!who").unwrap(), b"ana: !who", "not a command");
        assert!(matches!(compose(None, "!who"), Err(Error::LooksLikeCommand)));
        assert!(matches!(compose(None, ""), Err(Error::EmptyMessage)));
        assert!(matches!(
            compose(Some(&ana), &"x".repeat(4092)),
            Err(Error::TooLong { len: 4097, max: 4096 })
        ));
        assert!(compose(Some(&ana), &"x".repeat(4091)).is_ok(), "4096 bytes fit");
    }

    #[test]
    fn reading() {
        let read = |text: &str| Message::parse(group(), text.as_bytes().to_vec());
        let message = read("ben: hi: there");
        assert_eq!((message.from.as_deref(), message.text.as_str()), (Some("ben"), "hi: there"));
        assert_eq!(read("no name here").from, None);
        assert_eq!(read(": empty name").from, None);
        assert_eq!(read(&format!("{}: long", "x".repeat(33))).from, None);
        assert_eq!(read("a\\u{1b}b: escaped").from, None);
        assert_eq!(read("no name here").text, "no name here");
        assert_eq!(Message::parse(group(), b"x: \xff".to_vec()).text, "\u{fffd}");
    }

    proptest! {
        /// Whatever a valid name sends reads back as that name and that text.
        #[test]
        fn what_is_composed_reads_back(name in "[^:\\\\!\\p{Cc}][^:\\\\\\p{Cc}]{0,31}", text in ".{1,200}") {
            if let Ok(name) = name.parse::<Name>() {
                let bytes = compose(Some(&name), &text).unwrap();
                let message = Message::parse(group(), bytes);
                prop_assert_eq!(message.from.as_deref(), Some(name.as_str()));
                prop_assert_eq!(message.text, text);
            }
        }
    }
}
