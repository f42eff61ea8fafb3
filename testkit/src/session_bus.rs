//! A private D-Bus session bus for tests: a `dbus-daemon` of the test's own, on a Unix socket
//! in a scratch folder, that starts nothing on demand (so a stopped service stays stopped).
//! Point the program under test at [`SessionBus::address`] with `DBUS_SESSION_BUS_ADDRESS`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::ScratchDir;

/// A session bus on a socket in the scratch folder, open to this user, starting nothing.
const CONFIG: &str = r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=DIR</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#;

/// The bus; it ends when this is dropped.
pub struct SessionBus {
    daemon: Child,
    address: String,
    _dir: ScratchDir,
}

impl SessionBus {
    /// Starts Debian's `dbus-daemon` on a socket of its own.
    pub fn start() -> SessionBus {
        let dir = ScratchDir::new("session-bus");
        let config = dir.join("session.conf");
        std::fs::write(&config, CONFIG.replace("DIR", &dir.path().display().to_string()))
            .expect("the bus's configuration is written");
        let mut daemon = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (Debian's dbus-daemon package) starts");
        let mut line = String::new();
        let stdout = daemon.stdout.take().expect("its output");
        BufReader::new(stdout).read_line(&mut line).expect("dbus-daemon prints its address");
        let address = line.trim().to_string();
        assert!(address.starts_with("unix:"), "a bus on a Unix socket: {address:?}");
        SessionBus { daemon, address, _dir: dir }
    }

    /// The bus's address, for `DBUS_SESSION_BUS_ADDRESS`.
    pub fn address(&self) -> &str {
        &self.address
    }
}

impl Drop for SessionBus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}
