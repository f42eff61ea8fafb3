//! `udprelay`: the interactive terminal client.

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use udprelay_cli::app::{self, Options};
use udprelay_cli::style::Style;
use udprelay_cli::terminal::Terminal;
use udprelay_client::{Config, Error, Name};

/// udprelay chat client: create, join and leave groups on a udprelay server and chat in them.
#[derive(Debug, Parser)]
#[command(name = "udprelay", version)]
struct Args {
    /// Server host: a name such as `localhost`, an IPv4 or an IPv6 address; or several,
    /// comma-separated, each `HOST` or `HOST:PORT` (the nodes of a cluster): the first is used,
    /// and when it stops answering the next, rejoining your group there
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// Server UDP port (for hosts given without one)
    #[arg(long, default_value_t = 5000)]
    port: u16,

    /// Send your messages as `NAME: text` (on a terminal, messages that mention it ring the bell)
    #[arg(long, value_parser = parse_name)]
    name: Option<Name>,

    /// Put the time (HH:MM) before each line from the network
    #[arg(long)]
    timestamps: bool,

    /// Print a man page or a shell completion script, and exit
    #[arg(long, hide = true, value_name = "WHAT")]
    generate: Option<udprelay_generate::Output>,
}

fn parse_name(text: &str) -> Result<Name, String> {
    text.parse::<Name>().map_err(|why| why.to_string())
}

fn main() -> ExitCode {
    let args = Args::parse(); // a bad flag exits here, with code 2
    if let Some(output) = args.generate {
        return udprelay_generate::print(output, Args::command());
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut config = Config::new(args.host.clone()).default_port(args.port);
    if let Some(name) = args.name.clone() {
        config = config.name(name);
    }
    let (client, events) = match runtime.block_on(config.connect()) {
        Ok(connected) => connected,
        Err(Error::Servers(why)) => Args::command()
            .error(
                ErrorKind::ValueValidation,
                format!("invalid value '{}' for '--host <HOST>': {why}", args.host),
            )
            .exit(),
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let (interrupt_tx, interrupted) = tokio::sync::mpsc::unbounded_channel();
    let _ = ctrlc::set_handler(move || {
        let _ = interrupt_tx.send(());
    });
    let terminal = match Terminal::start() {
        Ok(terminal) => terminal,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let interactive = terminal.interactive;
    // Colour only for a person at a terminal who has not asked for none (no-color.org), never
    // in pipe mode.
    let colour = interactive && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    let name = args.name.map(|name| name.to_string());
    let style = Style { colour, timestamps: args.timestamps, name };
    let options = Options { style };
    match runtime.block_on(app::run(client, events, options, terminal, interrupted)) {
        // A script learns from the exit code whether every command worked.
        Ok(outcome) if outcome.failed && !interactive => ExitCode::FAILURE,
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
