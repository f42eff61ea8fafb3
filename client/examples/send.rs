//! Sends one message to a group and exits: 0 once sent, 1 with the reason on stderr.
//!
//! `cargo run -p udprelay-client --example send -- --server HOST:PORT --join ID [--name NAME] TEXT`

use std::process::ExitCode;

use clap::Parser;
use udprelay_client::blocking::Client;
use udprelay_client::{Config, GroupId, Name};

#[derive(Parser)]
struct Args {
    /// The server, HOST:PORT (or several, comma-separated)
    #[arg(long)]
    server: String,
    /// The group to send to
    #[arg(long)]
    join: GroupId,
    /// Send as `NAME: text`
    #[arg(long)]
    name: Option<Name>,
    /// The message
    text: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut config = Config::new(args.server);
    if let Some(name) = args.name {
        config = config.name(name);
    }
    let sent = Client::with_config(config).and_then(|(client, _events)| {
        client.join(args.join)?;
        client.send(args.join, &args.text)?;
        client.close(); // leaves the group: the others' count is right at once
        Ok(())
    });
    match sent {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
