//! Address-validation tokens (docs/protocol.md, "Address validation (extension)"): stateless, so handing them
//! out costs no memory. A token is a keyed BLAKE3 hash of the address and a five-minute window,
//! under a key drawn at start; it is accepted in its own window and the two after it, so for at
//! least ten minutes. A restart draws a new key, and the clients' next join asks for a new
//! token anyway.

use std::net::SocketAddr;
use std::time::Duration;

use udprelay_shared::Token;

/// How long one window lasts.
pub const WINDOW: Duration = Duration::from_secs(300);

/// Windows a token stays good for: its own and the next two.
const WINDOWS_ACCEPTED: u64 = 3;

/// Bytes of the hash a token carries (as hex: 32 characters).
const TOKEN_BYTES: usize = 16;

/// Times are given as the time since the relay's first datagram (`since`), as the relay keeps
/// them.
pub struct Tokens {
    key: [u8; 32],
}

impl Tokens {
    /// Tokens under a key from the thread's cryptographically secure generator.
    pub fn new() -> Tokens {
        Tokens::with_key(rand::random())
    }

    pub fn with_key(key: [u8; 32]) -> Tokens {
        Tokens { key }
    }

    /// The token for `addr` at `since`.
    pub fn issue(&self, addr: SocketAddr, since: Duration) -> Token {
        self.token(addr, window(since))
    }

    /// Whether `token` was issued to `addr` within the accepted windows before `since`.
    pub fn check(&self, addr: SocketAddr, token: &Token, since: Duration) -> bool {
        let current = window(since);
        (0..WINDOWS_ACCEPTED)
            .filter_map(|back| current.checked_sub(back))
            .any(|window| constant_time_eq(self.token(addr, window).as_str(), token.as_str()))
    }

    fn token(&self, addr: SocketAddr, window: u64) -> Token {
        let mut hasher = blake3::Hasher::new_keyed(&self.key);
        match addr {
            SocketAddr::V4(addr) => hasher.update(&[4]).update(&addr.ip().octets()),
            SocketAddr::V6(addr) => hasher.update(&[6]).update(&addr.ip().octets()),
        };
        hasher.update(&addr.port().to_be_bytes()).update(&window.to_be_bytes());
        let hash = hasher.finalize();
        let hex: String =
            hash.as_bytes()[..TOKEN_BYTES].iter().map(|byte| format!("{byte:02x}")).collect();
        hex.parse().expect("hex is a well-formed token")
    }
}

impl Default for Tokens {
    fn default() -> Tokens {
        Tokens::new()
    }
}

fn window(since: Duration) -> u64 {
    since.as_secs() / WINDOW.as_secs()
}

/// Compares without stopping at the first difference, so the time taken says nothing about
/// how much of a guess was right.
fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_token_is_good_for_its_address_for_ten_minutes_at_least() {
        let tokens = Tokens::with_key([7; 32]);
        let a = addr("192.0.2.1:4000");
        // Issued at the very end of a window: the worst case for how long it lasts.
        let issued = WINDOW * 7 - Duration::from_millis(1);
        let token = tokens.issue(a, issued);
        assert_eq!(token.as_str().len(), 32);
        assert!(tokens.check(a, &token, issued));
        assert!(tokens.check(a, &token, issued + Duration::from_secs(600)));
        assert!(!tokens.check(a, &token, issued + Duration::from_secs(601)), "expired");
        // Another port, another IP, another family: not theirs.
        assert!(!tokens.check(addr("192.0.2.1:4001"), &token, issued));
        assert!(!tokens.check(addr("192.0.2.2:4000"), &token, issued));
        assert!(!tokens.check(addr("[::ffff:192.0.2.1]:4000"), &token, issued));
    }

    #[test]
    fn forged_tokens_and_other_keys_fail() {
        let epoch = Duration::ZERO;
        let tokens = Tokens::with_key([7; 32]);
        let a = addr("[2001:db8::1]:4000");
        let real = tokens.issue(a, epoch);
        for forged in ["0".repeat(32), "x".into(), real.as_str()[..31].into()] {
            assert!(!tokens.check(a, &forged.parse().unwrap(), epoch), "{forged}");
        }
        let restarted = Tokens::with_key([8; 32]);
        assert!(!restarted.check(a, &real, epoch), "a new key voids old tokens");
        assert_ne!(Tokens::new().issue(a, epoch), Tokens::new().issue(a, epoch));
    }
}
