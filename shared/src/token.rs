//! Address-validation tokens (docs/protocol.md, "Address validation (extension)"): what `PONG <seconds> <token>`
//! carries and `!PING <token>` echoes. Opaque to clients; only their shape is checked here.

use std::fmt;
use std::str::FromStr;

/// Longest token the protocol allows.
pub const MAX_TOKEN_CHARS: usize = 64;

/// A well-formed token: 1 to 64 characters of `A-Z a-z 0-9 _ -`. Fixed-size, so commands that
/// carry one stay `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Token {
    len: u8,
    bytes: [u8; MAX_TOKEN_CHARS],
}

/// The text is not a token (empty, too long, or a character outside the token alphabet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidToken;

impl Token {
    pub fn as_str(&self) -> &str {
        // Only ASCII from the token alphabet gets in.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).expect("tokens are ASCII")
    }

    /// Whether a byte may stand in a token.
    pub fn is_token_byte(byte: u8) -> bool {
        byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-'
    }
}

impl FromStr for Token {
    type Err = InvalidToken;

    fn from_str(text: &str) -> Result<Token, InvalidToken> {
        let raw = text.as_bytes();
        if raw.is_empty()
            || raw.len() > MAX_TOKEN_CHARS
            || !raw.iter().all(|&b| Token::is_token_byte(b))
        {
            return Err(InvalidToken);
        }
        let mut bytes = [0u8; MAX_TOKEN_CHARS];
        bytes[..raw.len()].copy_from_slice(raw);
        Ok(Token { len: raw.len() as u8, bytes })
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape() {
        assert_eq!("aZ09_-".parse::<Token>().unwrap().as_str(), "aZ09_-");
        let longest = "x".repeat(MAX_TOKEN_CHARS);
        assert_eq!(longest.parse::<Token>().unwrap().as_str(), longest);
        for bad in ["", "+", "a b", "a.b", "é", &"x".repeat(MAX_TOKEN_CHARS + 1), "a\n"] {
            assert_eq!(bad.parse::<Token>(), Err(InvalidToken), "{bad:?}");
        }
    }
}
