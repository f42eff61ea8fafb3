//! Answers every message in a group with `echo: <text>`, under its name.
//!
//! `cargo run -p udprelay-client --example echo_bot -- --server HOST:PORT --join ID [--name NAME]`

use clap::Parser;
use udprelay_client::{Config, Event, GroupId, Name};

#[derive(Parser)]
struct Args {
    /// The server, HOST:PORT (or several, comma-separated)
    #[arg(long)]
    server: String,
    /// The group to join
    #[arg(long)]
    join: GroupId,
    /// The name to answer under
    #[arg(long, default_value = "echo")]
    name: Name,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), udprelay_client::Error> {
    let args = Args::parse();
    let (client, mut events) = Config::new(args.server).name(args.name).connect().await?;
    client.join(args.join).await?;
    while let Some(event) = events.recv().await {
        // Never answer an echo (another bot's, or a loop would start); our own messages are
        // not relayed back to us.
        if let Event::Message(message) = event
            && !message.text.starts_with("echo: ")
        {
            client.send(message.group, &format!("echo: {}", message.text)).await?;
        }
    }
    Ok(())
}
