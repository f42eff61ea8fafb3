//! `udprelay-gui`: the desktop window.

// A window program on Windows: no console window opens beside it when it is clicked.
#![cfg_attr(windows, windows_subsystem = "windows")]

use clap::{CommandFactory, Parser};
use udprelay_client::GroupId;
use udprelay_client::e2e::Invite;
use udprelay_gui::app::App;
use udprelay_gui::instance::{self, Handed, Listener, Served};
use udprelay_gui::notifier::Notifier;
use udprelay_gui::store::{HISTORY_LIMIT, Store};
use udprelay_gui::view;

/// udprelay desktop client: many groups at once, each with its own socket.
#[derive(Debug, Parser)]
#[command(name = "udprelay-gui", version)]
struct Args {
    /// Server host to start with, or several comma-separated (`HOST` or `HOST:PORT` each), the
    /// nodes of a cluster to move between (default: the last used, or 127.0.0.1)
    #[arg(long)]
    host: Option<String>,

    /// Server port to start with, for hosts given without one (default: the last used, or 5000)
    #[arg(long)]
    port: Option<u16>,

    /// Join this group at start (repeat for several): an id (any case), or an invite link
    /// (udprelay://HOST:PORT/ID#SECRET: its server, and for a private group its secret)
    #[arg(long = "join", value_name = "ID", value_parser = parse_join)]
    join: Vec<Join>,

    /// Invite links (or ids) to join, as --join: what a clicked udprelay:// link passes. With
    /// the window already open (on the same history store), they go to it, and this exits.
    /// Those with a secret are moved out of the command line at once (into UDPRELAY_INVITE,
    /// where invites can also be given, one per line)
    #[arg(value_name = "INVITE", value_parser = parse_join)]
    links: Vec<Join>,

    /// The history store: groups and messages kept across runs (default: history.sqlite3 in
    /// the platform's data directory, on Linux ~/.local/share/udprelay)
    #[arg(long, value_name = "FILE")]
    history: Option<std::path::PathBuf>,

    /// Messages kept per group in the history store; the oldest go first
    #[arg(long, value_name = "N", default_value_t = HISTORY_LIMIT,
          value_parser = clap::value_parser!(u64).range(1..))]
    history_limit: u64,

    /// Make udprelay:// links open this copy of the window, and exit (for a copy unpacked from
    /// an archive: the Debian package registers itself)
    #[arg(long)]
    register_links: bool,

    /// Print a man page or a shell completion script, and exit
    #[arg(long, hide = true, value_name = "WHAT")]
    generate: Option<udprelay_generate::Output>,
}

/// The server field at start: `--host` (one, or a list) takes `--port`, or the last port used,
/// where an entry has none; `--port` alone changes the last servers' port.
fn server_field(hosts: Option<&str>, port: Option<u16>, last: &str) -> String {
    let last_port = last.split(',').next().and_then(|first| first.rsplit_once(':'));
    let last_port = last_port.and_then(|(_, port)| port.parse().ok()).unwrap_or(5000);
    match (hosts, port) {
        (Some(hosts), port) => udprelay_client::with_port(hosts, port.unwrap_or(last_port), false),
        (None, Some(port)) => udprelay_client::with_port(last, port, true),
        (None, None) => last.to_string(),
    }
}

/// A group to join at start: by id (on the server field's server), or an invite link.
#[derive(Debug, Clone)]
enum Join {
    Id(GroupId),
    Invite(Invite),
}

impl Join {
    /// How it is handed to the open window: an id given with `--host` (one server) goes as
    /// that server's invite, so the window joins it there, not on its own server field.
    fn handed(&self, host: Option<&str>, port: Option<u16>) -> String {
        match (self, host) {
            (Join::Id(id), Some(host)) => {
                let server = server_field(Some(host), port, "127.0.0.1:5000");
                if server.contains(',') {
                    return id.to_string(); // a cluster's list is no invite's server
                }
                Invite { server, group: *id, secret: None }.to_string()
            }
            (Join::Id(id), None) => id.to_string(),
            (Join::Invite(invite), _) => invite.to_string(),
        }
    }

    fn apply(&self, app: &mut App) {
        match self {
            Join::Id(id) => app.join_group(*id),
            Join::Invite(invite) => app.join_invite(invite.clone()),
        }
    }
}

fn parse_join(text: &str) -> Result<Join, String> {
    if Invite::is_meant(text) {
        return text.parse().map(Join::Invite).map_err(|why| format!("not an invite: {why}"));
    }
    GroupId::parse_lenient(text).map(Join::Id).map_err(|why| format!("not a group id: {why}"))
}

struct Window {
    app: App,
    /// What later launches handed over (`None`: another window has the store, or no file
    /// could be written for them to find this one).
    handed: Option<Handed>,
    _served: Option<Served>,
    /// Desktop notifications (shown off the UI thread).
    notifier: Notifier,
}

impl eframe::App for Window {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        while let Some(groups) = self.handed.as_ref().and_then(|handed| handed.try_recv().ok()) {
            // Checked by the launch that sent them, as its own flags are.
            groups
                .iter()
                .filter_map(|text| parse_join(text).ok())
                .for_each(|j| j.apply(&mut self.app));
            ui.ctx().send_viewport_cmd(egui::ViewportCommand::Minimized(false));
            ui.ctx().send_viewport_cmd(egui::ViewportCommand::Focus);
        }
        view::show(ui, &mut self.app);
        self.notifier.pump(&mut self.app, ui.ctx());
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        storage.set_string("server", self.app.server.clone());
        storage.set_string("name", self.app.name.clone());
        self.app.keep_drafts();
    }
}

fn main() -> std::process::ExitCode {
    // Before anything else (one thread yet): an invite's secret leaves the command line, which
    // other users can read for as long as the window is open (docs/security.md).
    udprelay_client::argv::hide_secret_invites("--join");
    let given = udprelay_client::argv::invites_in_env();
    // SAFETY: no other thread is running yet, none reads the environment meanwhile.
    unsafe { std::env::remove_var(udprelay_client::argv::INVITE_VAR) };
    attach_console();
    let mut args = Args::parse();
    for text in given {
        match parse_join(&text) {
            Ok(join) => args.links.push(join),
            Err(why) => {
                let why = format!("invalid value in {}: {why}", udprelay_client::argv::INVITE_VAR);
                Args::command().error(clap::error::ErrorKind::ValueValidation, why).exit()
            }
        }
    }
    if let Some(output) = args.generate {
        return udprelay_generate::print(output, Args::command());
    }
    if args.register_links {
        let registered = std::env::current_exe()
            .map_err(|error| format!("cannot tell where this program is: {error}"))
            .and_then(|binary| udprelay_gui::links::register(&binary));
        return match registered {
            Ok(said) => {
                println!("{said}");
                std::process::ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: {error}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    if cfg!(target_os = "linux")
        && ["DISPLAY", "WAYLAND_DISPLAY", "WAYLAND_SOCKET"]
            .iter()
            .all(|v| std::env::var_os(v).is_none())
    {
        eprintln!(
            "error: udprelay-gui needs a graphical desktop, and neither DISPLAY nor WAYLAND_DISPLAY is set (in a terminal, use `udprelay`)"
        );
        return std::process::ExitCode::FAILURE;
    }
    match run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// On Windows, a window program started from a console (`udprelay-gui --help` typed in one)
/// writes to that console; output sent to a file or a pipe goes there as before.
#[cfg(windows)]
fn attach_console() {
    use windows_sys::Win32::System::Console::{ATTACH_PARENT_PROCESS, AttachConsole};
    // SAFETY: no arguments but a constant; it fails harmlessly when there is no such console.
    unsafe { AttachConsole(ATTACH_PARENT_PROCESS) };
}

#[cfg(not(windows))]
fn attach_console() {}

fn run(mut args: Args) -> eframe::Result {
    args.join.append(&mut args.links);
    let store_path = args.history.clone().or_else(Store::default_path);
    let window_file = store_path.as_deref().map(instance::file_for);
    if let Some(file) = &window_file {
        let (host, port) = (args.host.as_deref(), args.port);
        let groups: Vec<String> = args.join.iter().map(|join| join.handed(host, port)).collect();
        match instance::hand_off(file, &groups) {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(error) => {
                eprintln!("warning: the open window did not answer ({error}); opening another")
            }
        }
    }
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("udprelay")
            // The desktop entry's name, so that the desktop shows its icon for the window
            // (gui-client/packaging/invalid.example.udprelay.desktop).
            .with_app_id("invalid.example.udprelay")
            .with_inner_size([960.0, 640.0])
            .with_min_inner_size([560.0, 360.0]),
        renderer: eframe::Renderer::Glow,
        // Where the last server and name have always been kept: eframe would otherwise name
        // the folder after the app id above, and a window updated to it would forget them.
        persistence_path: eframe::storage_dir("udprelay").map(|dir| dir.join("app.ron")),
        // fonts::install gives the window its fallback for scripts it does not bundle.
        system_font_fallback: false,
        ..Default::default()
    };
    eframe::run_native(
        "udprelay",
        options,
        Box::new(move |cc| {
            udprelay_gui::fonts::install(&cc.egui_ctx);
            let stored = |key| cc.storage.and_then(|s| s.get_string(key));
            let last = stored("server").unwrap_or_else(|| "127.0.0.1:5000".into());
            let server = server_field(args.host.as_deref(), args.port, &last);
            let store = match &store_path {
                Some(path) => Store::open(path, args.history_limit),
                None => Err("this system has no data directory for it".to_string()),
            };
            // The first window on a store takes later launches' groups (instance.rs).
            let listener = match (&store, &window_file) {
                (Ok(_), Some(file)) => Listener::bind(file).ok(),
                _ => None,
            };
            let name = stored("name").unwrap_or_default();
            let mut app = App::with_history(server, name, store);
            args.join.iter().for_each(|join| join.apply(&mut app));
            let ctx = cc.egui_ctx.clone();
            let (handed, served) = listener.map(|l| l.serve(move || ctx.request_repaint())).unzip();
            let ctx = cc.egui_ctx.clone();
            let notifier = Notifier::start(move || ctx.request_repaint());
            Ok(Box::new(Window { app, handed, _served: served, notifier }))
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::{Join, parse_join, server_field};

    #[test]
    fn an_id_is_handed_over_with_the_server_it_was_given_with() {
        let id = parse_join("abcd1234").unwrap();
        assert_eq!(id.handed(None, None), "ABCD1234");
        assert_eq!(
            id.handed(Some("relay.example.org"), None),
            "udprelay://relay.example.org:5000/ABCD1234"
        );
        assert_eq!(id.handed(Some("::1"), Some(6000)), "udprelay://[::1]:6000/ABCD1234");
        assert_eq!(id.handed(Some("a,b"), None), "ABCD1234");
        let invite = "udprelay://relay.example.org:5000/ABCD1234";
        assert!(matches!(parse_join(invite).unwrap(), Join::Invite(_)));
        assert_eq!(parse_join(invite).unwrap().handed(Some("other"), None), invite);
    }

    #[test]
    fn the_server_field_from_the_flags_and_the_last_one_used() {
        let last = "relay.example.org:6000";
        assert_eq!(server_field(None, None, last), last);
        assert_eq!(server_field(Some("a.example.org"), None, last), "a.example.org:6000");
        assert_eq!(
            server_field(Some("a,b:7000,::1"), Some(5001), last),
            "a:5001,b:7000,[::1]:5001"
        );
        assert_eq!(server_field(None, Some(5002), "a:1,b:2"), "a:5002,b:5002");
    }
}
