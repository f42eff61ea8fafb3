//! `udprelay-bench seal INVITE`: envelopes for a load generator that cannot seal them itself
//! (gui-client/benches/window_cpu.py): one line each on stdout, sealed now, as one member's
//! messages in order, so that a reader shows every one (docs/protocol.md, "End-to-end
//! encrypted payloads").

use std::io::{BufWriter, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use udprelay_client::Name;
use udprelay_client::e2e::{GroupKey, Identity, Invite, Reader};

#[derive(Debug, clap::Args)]
pub struct SealArgs {
    /// An encrypted group's invite (udprelay://HOST:PORT/GROUP#SECRET)
    invite: String,
    /// How many messages
    #[arg(long, default_value_t = 1000)]
    count: u64,
    /// The sender's name, inside each envelope
    #[arg(long, default_value = "bot")]
    name: String,
}

pub fn run(args: &SealArgs) -> Result<(), String> {
    let invite: Invite = args.invite.parse().map_err(|error| format!("{error}"))?;
    let secret = invite.secret.ok_or("the invite has no #SECRET: not an encrypted group")?;
    let name: Name = args.name.parse().map_err(|error| format!("{error}"))?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_err(|error| error.to_string())?;
    let now_ms = now.as_millis() as u64;
    let key = GroupKey::derive(&secret, invite.group);
    let mut sender = Reader::new(key, Identity::generate(), now.as_secs());
    let mut out = BufWriter::new(std::io::stdout().lock());
    for n in 0..args.count {
        let text = format!("message {n}, with some words to show");
        let envelope =
            sender.seal(Some(&name), &text, now_ms).map_err(|error| error.to_string())?;
        writeln!(out, "{envelope}").map_err(|error| error.to_string())?;
    }
    out.flush().map_err(|error| error.to_string())
}
