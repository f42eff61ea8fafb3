//! Writes a group's messages to stdout as JSON lines: `{"group":…,"from":…,"text":…}`
//! (`from` is null for a message without a name).
//!
//! `cargo run -p udprelay-client --example logger -- --server HOST:PORT --join ID`

use std::io::Write;

use clap::Parser;
use udprelay_client::{Client, Event, GroupId};

#[derive(Parser)]
struct Args {
    /// The server, HOST:PORT (or several, comma-separated)
    #[arg(long)]
    server: String,
    /// The group to log
    #[arg(long)]
    join: GroupId,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), udprelay_client::Error> {
    let args = Args::parse();
    let (client, mut events) = Client::connect(&args.server).await?;
    client.join(args.join).await?;
    let mut out = std::io::stdout().lock();
    while let Some(event) = events.recv().await {
        let line = match event {
            Event::Message(m) => {
                serde_json::json!({ "group": m.group.to_string(), "from": m.from, "text": m.text })
            }
            Event::Lost { group, .. } => {
                serde_json::json!({ "group": group.to_string(), "lost": true })
            }
            _ => continue,
        };
        // A reader that went away (`| head`) ends the logger.
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            break;
        }
    }
    client.close().await;
    Ok(())
}
