//! The state file on disk: written atomically (a temporary file beside it, fsync, rename,
//! fsync of the directory), so that a crash leaves the old state or the new, never half of
//! one; read at start, and moved aside when it cannot be read, so that a bad file stops
//! nothing.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use crate::relay::Relay;
use crate::relay::snapshot::{Restored, Snapshot};

/// Writes `snapshot` to `path`, replacing what was there only once the new file is whole.
pub fn write(path: &Path, snapshot: &Snapshot) -> io::Result<usize> {
    let bytes = snapshot.encode();
    let temporary = sibling(path, ".tmp");
    {
        let mut file = File::create(&temporary)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
    }
    fs::rename(&temporary, path)?;
    #[cfg(unix)]
    if let Some(directory) = path.parent() {
        // The rename itself is durable only once the directory is.
        let directory = if directory.as_os_str().is_empty() { Path::new(".") } else { directory };
        File::open(directory)?.sync_all()?;
    }
    Ok(bytes.len())
}

/// What reading the state file at start came to.
#[derive(Debug)]
pub enum Loaded {
    /// No file: a first start.
    Nothing,
    Restored(Restored),
    /// The file could not be used: why, and where it was moved.
    MovedAside {
        why: String,
        to: PathBuf,
    },
}

/// Reads the state file into `relay` (which must be empty). A file that cannot be read,
/// decoded or restored is renamed `PATH.bad-<unix seconds>` and the relay starts empty.
pub fn load(path: &Path, relay: &mut Relay, now: Instant, wall: SystemTime) -> io::Result<Loaded> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Loaded::Nothing),
        Err(error) => return move_aside(path, error.to_string(), wall),
    };
    let snapshot = match Snapshot::decode(&bytes) {
        Ok(snapshot) => snapshot,
        Err(error) => return move_aside(path, error.to_string(), wall),
    };
    match relay.restore(now, wall, &snapshot) {
        Ok(restored) => Ok(Loaded::Restored(restored)),
        Err(error) => {
            // A partial restore is not kept: start empty, as with any other bad file.
            *relay = Relay::new(relay.config().clone());
            move_aside(path, error.to_string(), wall)
        }
    }
}

fn move_aside(path: &Path, why: String, wall: SystemTime) -> io::Result<Loaded> {
    let seconds = wall.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs();
    let to = sibling(path, &format!(".bad-{seconds}"));
    fs::rename(path, &to)?;
    Ok(Loaded::MovedAside { why, to })
}

/// `path` with `suffix` added to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().map(|name| name.to_os_string()).unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::Config;
    use crate::relay::limits::Limits;

    fn relay_with_a_member() -> (Relay, String) {
        let mut relay = Relay::new(Config { limits: Limits::none(), ..Config::default() });
        let now = Instant::now();
        let a = "10.0.0.1:4000".parse().unwrap();
        let reply = match relay.handle(now, a, b"!CREATE") {
            crate::relay::Outgoing::Reply(reply) => reply.to_string(),
            _ => unreachable!(),
        };
        let id = reply["OK CREATED ".len()..].to_string();
        relay.handle(now, a, format!("!JOIN {id}").as_bytes());
        (relay, id)
    }

    fn directory() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "udprelay-state-test-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn written_then_loaded() {
        let dir = directory();
        let path = dir.join("state");
        let (relay, _) = relay_with_a_member();
        let (now, wall) = (Instant::now(), SystemTime::now());
        write(&path, &relay.snapshot(now, wall)).unwrap();
        assert!(!sibling(&path, ".tmp").exists(), "no temporary file left");
        let mut fresh = Relay::new(relay.config().clone());
        match load(&path, &mut fresh, now, wall).unwrap() {
            Loaded::Restored(restored) => assert_eq!((restored.groups, restored.members), (1, 1)),
            other => panic!("{other:?}"),
        }
        assert_eq!(fresh.live_members(), 1);
        let mut none = Relay::new(relay.config().clone());
        assert!(matches!(
            load(&dir.join("absent"), &mut none, now, wall).unwrap(),
            Loaded::Nothing
        ));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_files_are_moved_aside_and_the_relay_starts_empty() {
        let dir = directory();
        let (relay, _) = relay_with_a_member();
        let (now, wall) = (Instant::now(), SystemTime::now());
        let good = relay.snapshot(now, wall).encode();
        let mut other_version = good.clone();
        other_version[15] ^= 0xff;
        let cases: [(&str, Vec<u8>); 4] = [
            ("truncated", good[..good.len() - 3].to_vec()),
            ("garbage", b"{\"groups\": []}".to_vec()),
            ("other version", other_version),
            ("empty", Vec::new()),
        ];
        for (name, bytes) in cases {
            let path = dir.join(name);
            fs::write(&path, &bytes).unwrap();
            let mut fresh = Relay::new(relay.config().clone());
            match load(&path, &mut fresh, now, wall).unwrap() {
                Loaded::MovedAside { to, why } => {
                    assert!(to.to_string_lossy().contains(".bad-"), "{name}: {to:?}");
                    assert_eq!(fs::read(&to).unwrap(), bytes, "{name}: kept as it was");
                    assert!(!why.is_empty());
                }
                other => panic!("{name}: {other:?}"),
            }
            assert!(!path.exists(), "{name}: moved, so the next start begins clean");
            assert_eq!(fresh.live_groups(), 0);
        }
        fs::remove_dir_all(dir).unwrap();
    }
}
