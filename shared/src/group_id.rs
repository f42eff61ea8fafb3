//! Group ids: 8 characters from an alphabet without the look-alikes `0` and `O`.

use std::fmt;
use std::str::FromStr;

use rand::RngExt;

/// The characters an id is made of: A–Z without `O`, then 1–9.
pub const ALPHABET: &[u8; 34] = b"ABCDEFGHIJKLMNPQRSTUVWXYZ123456789";

/// Length of every id.
pub const GROUP_ID_LEN: usize = 8;

/// A well-formed group id, such as `ABCD1234`.
///
/// It is the only thing needed to join a group, so fresh ids come from a cryptographically
/// secure generator ([`GroupId::random`] accepts nothing weaker).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId([u8; GROUP_ID_LEN]);

/// Why a string is not a group id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvalidGroupId {
    /// Not exactly 8 characters (the length found).
    Length(usize),
    /// A character outside the alphabet.
    Character(char),
}

impl fmt::Display for InvalidGroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidGroupId::Length(n) => {
                write!(f, "a group id has {GROUP_ID_LEN} characters, not {n}")
            }
            InvalidGroupId::Character(c) => {
                write!(f, "{c:?} cannot be in a group id (letters A-Z except O, digits 1-9)")
            }
        }
    }
}

impl std::error::Error for InvalidGroupId {}

impl GroupId {
    /// A fresh id, each character drawn uniformly from [`ALPHABET`].
    pub fn random<R: rand::CryptoRng + ?Sized>(rng: &mut R) -> GroupId {
        let mut id = [0u8; GROUP_ID_LEN];
        for byte in &mut id {
            *byte = ALPHABET[rng.random_range(0..ALPHABET.len())];
        }
        GroupId(id)
    }

    /// Reads an id the way the server reads a `!JOIN`/`!LEAVE` argument: surrounding white
    /// space trimmed, letters upper-cased (`" abcd1234 "` is `ABCD1234`).
    pub fn parse_lenient(text: &str) -> Result<GroupId, InvalidGroupId> {
        normalize(text).parse()
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only ALPHABET bytes ever get in, and they are ASCII.
        std::str::from_utf8(&self.0).expect("group ids are ASCII")
    }
}

/// The server's normalisation of an id argument: trimmed and upper-cased as Python's
/// `str.strip().upper()` does it, so that odd input lands on the same id as with the original
/// server. (Python also counts U+001C..U+001F as white space; Rust's `trim` does not.)
pub fn normalize(text: &str) -> String {
    text.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
        .to_uppercase()
}

impl FromStr for GroupId {
    type Err = InvalidGroupId;

    /// Strict: exactly 8 characters of [`ALPHABET`], nothing trimmed or upper-cased.
    fn from_str(text: &str) -> Result<GroupId, InvalidGroupId> {
        if let Some(c) = text.chars().find(|c| !c.is_ascii() || !ALPHABET.contains(&(*c as u8))) {
            return Err(InvalidGroupId::Character(c));
        }
        let bytes: [u8; GROUP_ID_LEN] =
            text.as_bytes().try_into().map_err(|_| InvalidGroupId::Length(text.len()))?;
        Ok(GroupId(bytes))
    }
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl fmt::Debug for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GroupId({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn alphabet_has_no_look_alikes() {
        assert_eq!(ALPHABET.len(), 34);
        assert!(!ALPHABET.contains(&b'O') && !ALPHABET.contains(&b'0'));
        let distinct: HashSet<_> = ALPHABET.iter().collect();
        assert_eq!(distinct.len(), ALPHABET.len());
    }

    #[test]
    fn random_ids_are_valid_and_use_the_whole_alphabet() {
        let mut rng = rand::rng();
        let mut seen = HashSet::new();
        for _ in 0..2000 {
            let id = GroupId::random(&mut rng);
            assert_eq!(id.as_str().parse::<GroupId>(), Ok(id));
            seen.extend(id.as_str().bytes());
        }
        // 16 000 draws from 34 characters: every character shows up.
        assert_eq!(seen.len(), ALPHABET.len());
    }

    #[test]
    fn strict_parse_rejects_what_is_not_an_id() {
        assert_eq!("ABCD1234".parse::<GroupId>().unwrap().as_str(), "ABCD1234");
        assert_eq!("ABCD123".parse::<GroupId>(), Err(InvalidGroupId::Length(7)));
        assert_eq!("ABCD12345".parse::<GroupId>(), Err(InvalidGroupId::Length(9)));
        assert_eq!("ABCD0234".parse::<GroupId>(), Err(InvalidGroupId::Character('0')));
        assert_eq!("ABCDO234".parse::<GroupId>(), Err(InvalidGroupId::Character('O')));
        assert_eq!("abcd1234".parse::<GroupId>(), Err(InvalidGroupId::Character('a')));
        assert_eq!("ABCDé234".parse::<GroupId>(), Err(InvalidGroupId::Character('é')));
    }

    #[test]
    fn lenient_parse_trims_and_upper_cases_like_the_server() {
        let id: GroupId = "ABCD1234".parse().unwrap();
        assert_eq!(GroupId::parse_lenient("abcd1234"), Ok(id));
        assert_eq!(GroupId::parse_lenient(" \t aBcD1234\r\n"), Ok(id));
        assert_eq!(GroupId::parse_lenient("\u{1f}abcd1234\u{a0}"), Ok(id));
        // Python upper-cases the dotless i to I; so do we.
        assert_eq!(GroupId::parse_lenient("abcd\u{131}234").unwrap().as_str(), "ABCDI234");
        assert!(GroupId::parse_lenient("abcd 1234").is_err());
    }

    #[test]
    fn errors_explain_themselves() {
        assert_eq!(InvalidGroupId::Length(3).to_string(), "a group id has 8 characters, not 3");
        assert_eq!(
            InvalidGroupId::Character('0').to_string(),
            "'0' cannot be in a group id (letters A-Z except O, digits 1-9)"
        );
    }
}
