//! `udprelay`: the interactive terminal client.

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use udprelay_cli::app::{self, Options};
use udprelay_cli::input::Input;
use udprelay_cli::style::Style;
use udprelay_cli::terminal::Terminal;
use udprelay_client::e2e::{Identity, Invite};
use udprelay_client::mention::Mentions;
use udprelay_client::{Config, Error, GroupId, Name};

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

    /// On a terminal, also highlight and ring the bell for messages with WORD (as a word, in
    /// any case, as your --name); may be given more than once
    #[arg(long = "mention", value_name = "WORD")]
    mentions: Vec<String>,

    /// Put the time (HH:MM) before each line from the network
    #[arg(long)]
    timestamps: bool,

    /// Join this group at start: an invite link (udprelay://HOST:PORT/ID#SECRET, whose server
    /// is then used) or a group id
    #[arg(long = "join", value_name = "INVITE")]
    join: Option<String>,

    /// The same as --join: `udprelay 'udprelay://HOST:PORT/ID#SECRET'` (what a clicked invite
    /// runs). An invite with a secret is moved out of the command line at once, where other
    /// users could read it; to keep it out of your shell's history too, use --invite-file, the
    /// UDPRELAY_INVITE variable, or type `join` with it once started
    #[arg(value_name = "INVITE", conflicts_with = "join")]
    invite: Option<String>,

    /// Join the invite (or group id) on the first line of FILE at start, as --join
    #[arg(long, value_name = "FILE", conflicts_with_all = ["join", "invite"])]
    invite_file: Option<std::path::PathBuf>,

    /// The file that keeps the key your messages in private groups are signed with, made
    /// the first time one is used (default: identity.key in the data folder, on Linux
    /// ~/.local/share/udprelay)
    #[arg(long, value_name = "FILE")]
    identity: Option<std::path::PathBuf>,

    /// Print a man page or a shell completion script, and exit
    #[arg(long, hide = true, value_name = "WHAT")]
    generate: Option<udprelay_generate::Output>,
}

/// What `--join` (or the link given alone) asks to join at start.
fn start_join(text: &str) -> Result<Input, String> {
    if Invite::is_meant(text) {
        let invite = text.parse::<Invite>().map_err(|why| format!("invalid invite: {why}"))?;
        return Ok(Input::JoinInvite(invite));
    }
    GroupId::parse_lenient(text).map(Input::Join).map_err(|why| {
        format!("invalid value '{text}' for '--join <INVITE>': not a group id: {why}")
    })
}

fn parse_name(text: &str) -> Result<Name, String> {
    text.parse::<Name>().map_err(|why| why.to_string())
}

/// The first line of `path` that is not blank: an invite or a group id.
fn invite_in(path: &std::path::Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path);
    let text = text.map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let line = text.lines().map(str::trim).find(|line| !line.is_empty());
    line.map(String::from).ok_or_else(|| format!("{} has no invite in it", path.display()))
}

fn main() -> ExitCode {
    // Before anything else (one thread yet): an invite's secret leaves the command line.
    udprelay_client::argv::hide_secret_invites("--join");
    let given = udprelay_client::argv::invites_in_env();
    // SAFETY: no other thread is running yet, none reads the environment meanwhile.
    unsafe { std::env::remove_var(udprelay_client::argv::INVITE_VAR) };
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
    let from_file = match args.invite_file.as_deref().map(invite_in).transpose() {
        Ok(from_file) => from_file,
        Err(why) => Args::command().error(ErrorKind::Io, why).exit(),
    };
    let asked = args.join.as_deref().or(args.invite.as_deref()).or(from_file.as_deref());
    let first = match asked.or(given.first().map(String::as_str)).map(start_join) {
        Some(Ok(first)) => Some(first),
        Some(Err(why)) => Args::command().error(ErrorKind::ValueValidation, why).exit(),
        None => None,
    };
    let host = match &first {
        Some(Input::JoinInvite(invite)) => invite.server.clone(),
        _ => args.host.clone(),
    };
    let mut config = Config::new(host).default_port(args.port);
    if let Some(name) = args.name.clone() {
        config = config.name(name);
    }
    if let Some(path) = args.identity.clone().or_else(Identity::default_path) {
        config = config.identity_file(path);
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
    let name = args.name.as_ref().map(|name| name.to_string());
    let mentions = Mentions::new(name.as_deref(), &args.mentions);
    let style = Style { colour, timestamps: args.timestamps, mentions };
    let options = Options { style };
    match runtime.block_on(app::run(client, events, options, terminal, interrupted, first)) {
        // A script learns from the exit code whether every command worked.
        Ok(outcome) if outcome.failed && !interactive => ExitCode::FAILURE,
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
