//! End-to-end encrypted groups: the envelope members of a private group exchange inside
//! ordinary payloads (docs/protocol.md, "End-to-end encrypted payloads"). The relay and the
//! original clients see printable text they pass on unchanged.
//!
//! A private group is a group id and a 32-byte secret, given together in an invite
//! ([`Invite`]). From them comes the group's key ([`GroupKey`]); each member also signs with
//! an identity of its own ([`Identity`]), so that a name cannot be taken over by another
//! member once a peer has seen it. [`seal`] makes an envelope and [`open`] reads one; a
//! [`ReplayWindow`] per sender drops duplicates and replays and tells what never arrived; a
//! [`Reader`] does all of it for one group, and its [`Pins`] keep names and counters across
//! runs.
//!
//! What this protects against, and what it does not, is in docs/protocol.md.

mod envelope;
mod invite;
mod pins;
mod reader;
mod replay;

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use data_encoding::BASE32_NOPAD;
use ed25519_dalek::SigningKey;
use hkdf::Hkdf;
use rand::Rng;
use sha2::{Digest, Sha256};
use udprelay_shared::GroupId;
use zeroize::{Zeroize, Zeroizing};

use crate::files;

pub use envelope::{
    MAX_SKEW, OpenError, Opened, PREFIX, SealError, is_envelope, max_text, open, seal,
    seal_with_nonce,
};
pub use invite::{InvalidInvite, Invite};
pub use pins::{MAX_PINS, MAX_SIGNERS, Pins};
pub use reader::{Doubt, LATE_GRACE, NOTICE_EVERY, Notice, Reader, Reading};
pub use replay::{Arrival, ReplayWindow, Sequence};

/// The label of this version of the format, in every derivation and signature, so that
/// nothing made for one purpose or version is taken for another.
const LABEL: &[u8] = b"udprelay e2e v2";

/// A private group's secret: 32 random bytes, written in invites as base32 (52 characters).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret([u8; 32]);

impl Secret {
    /// A new secret from the system's secure random source.
    pub fn random() -> Secret {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Secret(bytes)
    }

    /// A secret from its bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Secret {
        Secret(bytes)
    }

    /// Reads the base32 form (either case); `None` when it is not 32 bytes of base32.
    pub fn parse(text: &str) -> Option<Secret> {
        let upper = Zeroizing::new(text.trim().to_ascii_uppercase());
        let bytes = Zeroizing::new(BASE32_NOPAD.decode(upper.as_bytes()).ok()?);
        Some(Secret(bytes.as_slice().try_into().ok()?))
    }
}

/// Wiped when dropped, so that a left group's secret does not linger in freed memory.
impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&BASE32_NOPAD.encode(&self.0))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)") // never in a log
    }
}

/// The key a group's envelopes are sealed with: HKDF-SHA256 of the secret, with the group id
/// as its context, so that one secret gives each group its own key.
#[derive(Clone)]
pub struct GroupKey {
    key: [u8; 32],
    /// SHA-256 of the label, "group key" and the key: in every signature (so that a signature
    /// holds for one key only), its first 100 bits the fingerprint.
    id: [u8; 32],
    group: GroupId,
}

impl GroupKey {
    /// The key of `group` with `secret`.
    pub fn derive(secret: &Secret, group: GroupId) -> GroupKey {
        let mut key = [0u8; 32];
        Hkdf::<Sha256>::new(Some(LABEL), &secret.0)
            .expand(group.to_string().as_bytes(), &mut key)
            .expect("32 bytes is a valid HKDF-SHA256 length");
        let id = digest(b"group key", &key);
        GroupKey { key, id, group }
    }

    /// The group it is for.
    pub fn group(&self) -> GroupId {
        self.group
    }

    /// A fingerprint members can compare (`ABCD-EFGH-IJKL-MNOP-QRST`, 100 bits): the same for
    /// everyone with the same invite.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.id)
    }

    /// A name for the key that says nothing of it, for file names: the fingerprint's 20
    /// characters without the dashes, in lower case.
    pub fn file_name(&self) -> String {
        fingerprint(&self.id).replace('-', "").to_ascii_lowercase()
    }
}

impl Drop for GroupKey {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

impl fmt::Debug for GroupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GroupKey({} {})", self.group, self.fingerprint())
    }
}

/// A member's signing identity (Ed25519), kept across runs so that peers recognise it.
#[derive(Clone)]
pub struct Identity(SigningKey);

impl Identity {
    /// A new identity from the system's secure random source.
    pub fn generate() -> Identity {
        let mut seed = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(seed.as_mut());
        Identity(SigningKey::from_bytes(&seed)) // which wipes itself when dropped
    }

    /// An identity from its 32-byte seed (as kept in a key file).
    pub fn from_seed(seed: [u8; 32]) -> Identity {
        Identity(SigningKey::from_bytes(&seed))
    }

    /// The 32-byte seed, to keep (in a file only its owner can read).
    pub fn seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public key peers see.
    pub fn public_key(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    /// The public key's short fingerprint, to compare with what peers see.
    pub fn fingerprint(&self) -> String {
        public_fingerprint(&self.public_key())
    }

    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.0
    }

    /// The identity kept in `path` (its seed in base32 on one line), made and written there
    /// the first time. The file is its owner's alone (0600 on Unix, in a folder made 0700),
    /// and a file others can read is tightened.
    pub fn load_or_create(path: &Path) -> io::Result<Identity> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                files::private_file(path)?;
                let seed = BASE32_NOPAD.decode(text.trim().as_bytes()).ok();
                let seed = seed.and_then(|seed| <[u8; 32]>::try_from(seed).ok());
                seed.map(Identity::from_seed).ok_or_else(|| {
                    let why = format!("{} is not an identity file", path.display());
                    io::Error::new(io::ErrorKind::InvalidData, why)
                })
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)?;
                    files::private_dir(dir)?;
                }
                let identity = Identity::generate();
                let mut file = std::fs::OpenOptions::new();
                file.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
                let mut file = file.open(path)?;
                writeln!(file, "{}", BASE32_NOPAD.encode(&identity.seed()))?;
                Ok(identity)
            }
            Err(error) => Err(error),
        }
    }

    /// Where the terminal client keeps its identity unless told otherwise: `identity.key` in
    /// the platform's data folder (on Linux `~/.local/share/udprelay`).
    pub fn default_path() -> Option<PathBuf> {
        let dirs = directories::ProjectDirs::from("", "", "udprelay")?;
        Some(dirs.data_dir().join("identity.key"))
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({})", self.fingerprint())
    }
}

/// A signer's public key as a fingerprint (`ABCD-EFGH-IJKL-MNOP-QRST`, 100 bits).
pub fn public_fingerprint(public_key: &[u8; 32]) -> String {
    fingerprint(&digest(b"identity", public_key))
}

/// SHA-256 over the label, `what` and `bytes`.
fn digest(what: &[u8], bytes: &[u8]) -> [u8; 32] {
    Sha256::new().chain_update(LABEL).chain_update(what).chain_update(bytes).finalize().into()
}

/// The first 100 bits of `digest` in base32, five groups of four: about 2^100 tries to find
/// another key with the same one (docs/protocol.md, "Who said it").
fn fingerprint(digest: &[u8; 32]) -> String {
    let text = BASE32_NOPAD.encode(&digest[..13]); // 104 bits: 21 characters, 20 kept
    let groups: Vec<&str> = (0..5).map(|at| &text[at * 4..at * 4 + 4]).collect();
    groups.join("-")
}

#[cfg(test)]
mod tests;
