//! What a member remembers of a private group's signers across runs ([`Pins`]): the key each
//! name first came with, and each signer's newest counter, so that after a restart a known
//! name with another key is still marked and the last minutes cannot be replayed.
//!
//! Kept as a text file per group, named after the group key's fingerprint (which says
//! nothing of the secret), in a `pins` folder beside the identity file, its owner's alone:
//!
//! ```text
//! udprelay pins v1
//! seen <signer's public key, base32> <newest counter, decimal>
//! name <signer's public key, base32> <name, to the end of the line>
//! ```
//!
//! A line that is not one of these is skipped: a damaged file costs what it lost, not the rest.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use data_encoding::BASE32_NOPAD;

use super::GroupKey;
use crate::files;

const HEADER: &str = "udprelay pins v1";

/// The most names pinned in one group: past that a new name is shown but not pinned (a
/// member could make up names without end; the ones pinned first stay).
pub const MAX_PINS: usize = 256;

/// The most signers whose counters are remembered in one group; past that the one heard from
/// longest ago that holds no pin is forgotten.
pub const MAX_SIGNERS: usize = 1024;

/// A private group's remembered signers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pins {
    /// Each name and the key it first came with, oldest first.
    pub names: Vec<(String, [u8; 32])>,
    /// Each signer's newest counter.
    pub newest: Vec<([u8; 32], u64)>,
}

impl Pins {
    /// The file's text.
    pub fn encode(&self) -> String {
        let mut text = format!("{HEADER}\n");
        for (key, counter) in &self.newest {
            text += &format!("seen {} {counter}\n", BASE32_NOPAD.encode(key));
        }
        for (name, key) in &self.names {
            text += &format!("name {} {name}\n", BASE32_NOPAD.encode(key));
        }
        text
    }

    /// Reads a file's text, within the bounds; `None` when it is not a pins file.
    pub fn decode(text: &str) -> Option<Pins> {
        let mut lines = text.lines();
        if lines.next()? != HEADER {
            return None;
        }
        let mut pins = Pins::default();
        for line in lines {
            let mut parts = line.splitn(3, ' ');
            let (Some(kind), Some(key), Some(rest)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Some(key) = BASE32_NOPAD.decode(key.as_bytes()).ok() else { continue };
            let Ok(key) = <[u8; 32]>::try_from(key) else { continue };
            match kind {
                "seen" if pins.newest.len() < MAX_SIGNERS => {
                    if let Ok(counter) = rest.parse() {
                        pins.newest.push((key, counter));
                    }
                }
                "name" if pins.names.len() < MAX_PINS && crate::Name::exactly(rest).is_some() => {
                    pins.names.push((rest.to_string(), key));
                }
                _ => {}
            }
        }
        Some(pins)
    }

    /// Where the pins of the group of `key` are kept, beside the identity file `identity`.
    pub fn path(identity: &Path, key: &GroupKey) -> PathBuf {
        let dir = identity.parent().unwrap_or(Path::new("."));
        dir.join("pins").join(key.file_name())
    }

    /// The pins kept in `path`: none when there is no file or it is not a pins file.
    pub fn load(path: &Path) -> Pins {
        std::fs::read_to_string(path).ok().and_then(|text| Pins::decode(&text)).unwrap_or_default()
    }

    /// Keeps them in `path` (its folder made, its owner's alone), replacing the file whole
    /// so that a crash midway leaves the old one.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        files::private_dir(dir)?;
        let partial = path.with_extension("partial");
        let mut file = std::fs::OpenOptions::new();
        file.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
        let mut file = file.open(&partial)?;
        file.write_all(self.encode().as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&partial, path)
    }
}
