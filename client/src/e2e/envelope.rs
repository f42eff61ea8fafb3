//! The envelope, version 2 (docs/protocol.md, "End-to-end encrypted payloads"):
//!
//! ```text
//! ~E2 <base64url, no padding, of: nonce (24) | ciphertext>
//! ciphertext = XChaCha20-Poly1305(group key, nonce, plaintext, aad = "udprelay e2e v2" | group id)
//! plaintext  = counter (8, big-endian) | time (8, ms since 1970, big-endian)
//!            | signer's public key (32) | name length (1) | name | text | signature (64)
//! signature  = Ed25519 over "udprelay e2e v2 signature" | group id | key id (32)
//!            | plaintext before it
//! ```
//!
//! Version 1 (`~E1 `, whose signature did not cover the key) is recognised and not read.
//!
//! Printable ASCII that never starts with `!`: the relay relays it, and a client that knows
//! nothing of it shows it as text.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use data_encoding::BASE64URL_NOPAD;
use ed25519_dalek::{Signature, Signer, VerifyingKey};
use rand::Rng;
use udprelay_shared::limits::MAX_DATAGRAM;

use super::{GroupKey, Identity, LABEL};
use crate::message::Name;

/// What every envelope starts with: the format and its version.
pub const PREFIX: &str = "~E2 ";

/// What envelopes of version 1 started with: no longer read (their signatures did not bind
/// the group's key), but never shown as text either.
const OLD_PREFIX: &str = "~E1 ";

/// How far a message's time may be from the reader's clock, in milliseconds (5 minutes):
/// older ones are replays a window could no longer tell, newer ones are forged.
pub const MAX_SKEW: u64 = 5 * 60 * 1000;

const NONCE: usize = 24;
const TAG: usize = 16;
const HEADER: usize = 8 + 8 + 32 + 1;
const SIGNATURE: usize = 64;
/// The most bytes of binary envelope whose base64 fits one datagram after the prefix.
const MAX_BINARY: usize = (MAX_DATAGRAM - PREFIX.len()) * 3 / 4;

/// Why a text could not be sealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Longer than fits one datagram once sealed.
    #[error("too long to encrypt ({len} bytes, max {max} with this name)")]
    TooLong {
        /// The text's length in bytes.
        len: usize,
        /// The most that fits with this name.
        max: usize,
    },
    /// No text.
    #[error("a message needs some text")]
    Empty,
}

/// Why an envelope was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// It does not start with [`PREFIX`]: a plain payload.
    #[error("not an encrypted message")]
    NotAnEnvelope,
    /// An envelope of version 1, from a client older than this one: not read.
    #[error("an encrypted message from an older udprelay, which this one no longer reads")]
    OldVersion,
    /// It starts like one but is not one (bad base64, too short, not UTF-8 inside).
    #[error("a damaged encrypted message")]
    Malformed,
    /// It does not decrypt with this group's key: another key, another group, or tampered with.
    #[error("an encrypted message that does not decrypt with this group's key")]
    Undecryptable,
    /// It decrypts, but its signature does not hold.
    #[error("an encrypted message with a bad signature")]
    BadSignature,
    /// Its time is more than [`MAX_SKEW`] from the reader's clock.
    #[error("an encrypted message from too long ago, or from the future")]
    Stale,
}

/// An envelope read: who said what, when, as which message of theirs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The sender's name, if they gave one.
    pub name: Option<String>,
    /// The text.
    pub text: String,
    /// The sender's public key (its fingerprint: [`super::public_fingerprint`]).
    pub signer: [u8; 32],
    /// The sender's counter: one more for each message (see [`super::ReplayWindow`]).
    pub counter: u64,
    /// When it was sealed, in milliseconds since 1970.
    pub time_ms: u64,
}

/// Whether a payload is an envelope (of any version this client reads).
pub fn is_envelope(payload: &[u8]) -> bool {
    payload.starts_with(PREFIX.as_bytes()) || payload.starts_with(OLD_PREFIX.as_bytes())
}

/// The longest text, in bytes, that fits one datagram when sealed with `name`.
pub fn max_text(name: Option<&Name>) -> usize {
    let name = name.map_or(0, |name| name.as_str().len());
    MAX_BINARY - NONCE - TAG - HEADER - SIGNATURE - name
}

/// Seals `text` from `identity` (as `name`, its `counter`-th message at `time_ms`) for the
/// group of `key`, with a random nonce.
pub fn seal(
    key: &GroupKey,
    identity: &Identity,
    name: Option<&Name>,
    text: &str,
    counter: u64,
    time_ms: u64,
) -> Result<String, SealError> {
    let mut nonce = [0u8; NONCE];
    rand::rng().fill_bytes(&mut nonce);
    seal_with_nonce(key, identity, name, text, counter, time_ms, nonce)
}

/// [`seal`] with a given nonce: for known-answer tests only. A nonce must never be used twice
/// with one key.
pub fn seal_with_nonce(
    key: &GroupKey,
    identity: &Identity,
    name: Option<&Name>,
    text: &str,
    counter: u64,
    time_ms: u64,
    nonce: [u8; NONCE],
) -> Result<String, SealError> {
    if text.is_empty() {
        return Err(SealError::Empty);
    }
    let max = max_text(name);
    if text.len() > max {
        return Err(SealError::TooLong { len: text.len(), max });
    }
    let name = name.map_or("", |name| name.as_str());
    Ok(seal_raw(key, identity, name, text, counter, time_ms, nonce))
}

/// Seals whatever it is given, a name that breaks the rule too: what a forger's client could
/// send. Kept apart so that tests can be that client.
pub(crate) fn seal_raw(
    key: &GroupKey,
    identity: &Identity,
    name: &str,
    text: &str,
    counter: u64,
    time_ms: u64,
    nonce: [u8; NONCE],
) -> String {
    let mut plaintext = Vec::with_capacity(HEADER + name.len() + text.len() + SIGNATURE);
    plaintext.extend_from_slice(&counter.to_be_bytes());
    plaintext.extend_from_slice(&time_ms.to_be_bytes());
    plaintext.extend_from_slice(&identity.public_key());
    plaintext.push(name.len().min(255) as u8); // a Name is at most 32 characters: 128 bytes
    let name = &name.as_bytes()[..name.len().min(255)];
    plaintext.extend_from_slice(name);
    plaintext.extend_from_slice(text.as_bytes());
    let signature = identity.signing_key().sign(&signed(key, &plaintext));
    plaintext.extend_from_slice(&signature.to_bytes());
    let cipher = XChaCha20Poly1305::new(&Key::from(key.key));
    let aad = associated(key);
    let payload = Payload { msg: &plaintext, aad: &aad };
    let sealed = cipher.encrypt(&XNonce::from(nonce), payload).expect("in-memory encryption");
    let mut binary = Vec::with_capacity(NONCE + sealed.len());
    binary.extend_from_slice(&nonce);
    binary.extend_from_slice(&sealed);
    format!("{PREFIX}{}", BASE64URL_NOPAD.encode(&binary))
}

/// Reads an envelope of the group of `key`, at `now_ms` (milliseconds since 1970).
pub fn open(key: &GroupKey, payload: &[u8], now_ms: u64) -> Result<Opened, OpenError> {
    if payload.starts_with(OLD_PREFIX.as_bytes()) {
        return Err(OpenError::OldVersion);
    }
    let body = payload.strip_prefix(PREFIX.as_bytes()).ok_or(OpenError::NotAnEnvelope)?;
    let binary = BASE64URL_NOPAD.decode(body).map_err(|_| OpenError::Malformed)?;
    if binary.len() < NONCE + TAG + HEADER + SIGNATURE {
        return Err(OpenError::Malformed);
    }
    let (nonce, sealed) = binary.split_at(NONCE);
    let nonce: [u8; NONCE] = nonce.try_into().expect("split at NONCE");
    let cipher = XChaCha20Poly1305::new(&Key::from(key.key));
    let aad = associated(key);
    let plaintext = cipher
        .decrypt(&XNonce::from(nonce), Payload { msg: sealed, aad: &aad })
        .map_err(|_| OpenError::Undecryptable)?;
    let (signed_part, signature) = plaintext.split_at(plaintext.len() - SIGNATURE);
    let signer: [u8; 32] = signed_part[16..48].try_into().expect("within HEADER");
    let signature = Signature::from_bytes(&signature.try_into().expect("SIGNATURE bytes"));
    let verifying = VerifyingKey::from_bytes(&signer).map_err(|_| OpenError::BadSignature)?;
    verifying
        .verify_strict(&signed(key, signed_part), &signature)
        .map_err(|_| OpenError::BadSignature)?;
    let counter = u64::from_be_bytes(signed_part[..8].try_into().expect("8 bytes"));
    let time_ms = u64::from_be_bytes(signed_part[8..16].try_into().expect("8 bytes"));
    let name_len = usize::from(signed_part[48]);
    let rest = &signed_part[HEADER..];
    if name_len > rest.len() {
        return Err(OpenError::Malformed);
    }
    let (name, text) = rest.split_at(name_len);
    let name = std::str::from_utf8(name).map_err(|_| OpenError::Malformed)?;
    let text = std::str::from_utf8(text).map_err(|_| OpenError::Malformed)?;
    if time_ms.abs_diff(now_ms) > MAX_SKEW {
        return Err(OpenError::Stale);
    }
    let name = (!name.is_empty()).then(|| name.to_string());
    Ok(Opened { name, text: text.to_string(), signer, counter, time_ms })
}

/// What the AEAD authenticates besides the plaintext: the format and the group, so that an
/// envelope cannot be moved into another group that happens to share the secret.
fn associated(key: &GroupKey) -> Vec<u8> {
    [LABEL, key.group.to_string().as_bytes()].concat()
}

/// What the sender signs: the plaintext before the signature, bound to the group and to the
/// key (so that a signed message cannot be sealed again under another group's key).
fn signed(key: &GroupKey, plaintext: &[u8]) -> Vec<u8> {
    [LABEL, b" signature", key.group.to_string().as_bytes(), &key.id, plaintext].concat()
}
