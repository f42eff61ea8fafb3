//! A desktop for the real window, as a screen reader's user has it (Linux): an X display of
//! its own (Debian's `Xvfb`), the accessibility bus on a [`SessionBus`] (at-spi2-core's
//! `at-spi-bus-launcher`, switched on as an assistive technology does), and a screen reader's
//! questions asked through Debian's `python3-pyatspi` ([`ScreenReader`]).
//!
//! What it needs comes from Debian's packages: [`ensure_packages`] installs those missing
//! where the tests run as root (as CI and a fresh machine do), and otherwise says which.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::SessionBus;

/// The Debian packages behind this module.
pub const PACKAGES: &[&str] = &["xvfb", "at-spi2-core", "python3-pyatspi"];

/// Installs those of `packages` that are missing (as root, with apt); panics saying which are
/// missing otherwise. One install at a time in this process.
pub fn ensure_packages(packages: &[&str]) {
    static INSTALLING: Mutex<()> = Mutex::new(());
    let _one = INSTALLING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let installed = |package: &&str| {
        Command::new("dpkg-query")
            .args(["-W", "-f=${Status}", package])
            .output()
            .is_ok_and(|out| String::from_utf8_lossy(&out.stdout) == "install ok installed")
    };
    let missing: Vec<&str> = packages.iter().filter(|p| !installed(p)).copied().collect();
    if missing.is_empty() {
        return;
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0");
    assert!(root, "these tests need Debian's packages: apt-get install {}", missing.join(" "));
    let install = || {
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-qq"])
            .args(&missing)
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    if !install() {
        let updated = Command::new("apt-get").args(["update", "-qq"]).status();
        assert!(updated.is_ok_and(|s| s.success()), "apt-get update failed");
        assert!(install(), "apt-get install {} failed", missing.join(" "));
    }
}

/// An X display of its own; it ends when this is dropped.
pub struct Display {
    server: Child,
    name: String,
}

impl Display {
    /// Starts `Xvfb` on the first free display number from 90, 1280×800.
    pub fn start() -> Display {
        ensure_packages(PACKAGES);
        for number in 90..190 {
            let socket = format!("/tmp/.X11-unix/X{number}");
            let lock = format!("/tmp/.X{number}-lock");
            if Path::new(&socket).exists() || Path::new(&lock).exists() {
                continue;
            }
            let name = format!(":{number}");
            let mut server = Command::new("Xvfb")
                .args([name.as_str(), "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("Xvfb (Debian's xvfb package) starts");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if Path::new(&socket).exists() {
                    return Display { server, name };
                }
                if server.try_wait().ok().flatten().is_some() {
                    break; // another test took the number first: try the next
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = server.kill();
            let _ = server.wait();
        }
        panic!("no X display could be started on :90 to :189");
    }

    /// Its name, for `DISPLAY` (`:90`).
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// The accessibility bus, launched on a session bus and switched on; it ends when dropped.
pub struct Accessibility {
    launcher: Child,
}

impl Accessibility {
    /// Starts at-spi2-core's bus launcher on `bus` and says an assistive technology is on
    /// (`org.a11y.Status.IsEnabled`), which is when toolkits build their trees.
    pub fn start(bus: &SessionBus) -> Accessibility {
        ensure_packages(PACKAGES);
        let launcher = Command::new("/usr/libexec/at-spi-bus-launcher")
            .arg("--launch-immediately")
            .env("DBUS_SESSION_BUS_ADDRESS", bus.address())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("at-spi-bus-launcher (Debian's at-spi2-core package) starts");
        let accessibility = Accessibility { launcher };
        let connection = zbus::blocking::connection::Builder::address(bus.address())
            .and_then(|builder| builder.build())
            .expect("a connection to the session bus");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let status = zbus::blocking::Proxy::new(
                &connection,
                "org.a11y.Bus",
                "/org/a11y/bus",
                "org.a11y.Status",
            );
            let enabled = status.and_then(|status| {
                status.set_property("IsEnabled", true).map_err(zbus::Error::from)
            });
            match enabled {
                Ok(()) => return accessibility,
                Err(error) if Instant::now() > deadline => {
                    panic!("the accessibility bus did not come up: {error}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

impl Drop for Accessibility {
    fn drop(&mut self) {
        let _ = self.launcher.kill();
        let _ = self.launcher.wait();
    }
}

/// Asks what a screen reader asks, through Debian's pyatspi (its script: `screen_reader.py`).
pub struct ScreenReader<'a> {
    bus: &'a SessionBus,
    display: &'a Display,
}

impl<'a> ScreenReader<'a> {
    pub fn new(bus: &'a SessionBus, display: &'a Display) -> ScreenReader<'a> {
        ScreenReader { bus, display }
    }

    /// Runs one question (`tree APP`, `click APP NAME`, `type APP NAME TEXT`, see the script)
    /// and returns what it printed; panics with its error output if it failed.
    pub fn ask(&self, args: &[&str]) -> String {
        let output = Command::new("/usr/bin/python3")
            .arg("-c")
            .arg(include_str!("screen_reader.py"))
            .args(args)
            .env("DBUS_SESSION_BUS_ADDRESS", self.bus.address())
            .env("DISPLAY", self.display.name())
            .env_remove("PYTHONPATH")
            .output()
            .expect("Debian's /usr/bin/python3 runs");
        let said = String::from_utf8_lossy(&output.stdout).to_string();
        let why = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "the screen reader failed at {args:?}: {said}{why}");
        said
    }
}
