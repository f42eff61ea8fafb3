//! `udprelay-gui --register-links`: makes `udprelay://` links open this copy of the window, for
//! a copy that no package installed (the archives; docs/install.md). The Debian package needs
//! none of this: its desktop entry says `MimeType=x-scheme-handler/udprelay;`.
//!
//! - Linux: a desktop entry for this binary in `$XDG_DATA_HOME/applications` (the package's,
//!   with this binary's path) and its icon, made the default for the scheme with `xdg-mime`.
//! - Windows: the scheme under `HKEY_CURRENT_USER\Software\Classes\udprelay`, as Windows
//!   documents for URL protocols ("Registering an Application to a URI Scheme"), with `reg`.

use std::path::Path;
use std::process::Command;

/// The desktop entry's name (gui-client/packaging/).
pub const DESKTOP_ID: &str = "invalid.example.udprelay.desktop";

/// The package's desktop entry, made to start `binary`.
pub fn desktop_entry(binary: &Path) -> String {
    let packaged = include_str!("../packaging/invalid.example.udprelay.desktop");
    // Quoted as the Desktop Entry Specification says ("The Exec key"): \ " ` $ escaped.
    let mut quoted = String::new();
    for c in binary.display().to_string().chars() {
        if matches!(c, '"' | '`' | '$' | '\\') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    let exec = format!("Exec=\"{quoted}\" %u");
    packaged
        .lines()
        .map(|line| if line.starts_with("Exec=") { exec.as_str() } else { line })
        .map(|line| format!("{line}\n"))
        .collect()
}

/// Registers `binary` for `udprelay://` links; says what it did.
pub fn register(binary: &Path) -> Result<String, String> {
    if cfg!(windows) { register_windows(binary) } else { register_xdg(binary) }
}

fn register_xdg(binary: &Path) -> Result<String, String> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".local/share")))
        .ok_or("neither XDG_DATA_HOME nor HOME is set")?;
    let applications = data.join("applications");
    std::fs::create_dir_all(&applications)
        .map_err(|error| format!("cannot create {}: {error}", applications.display()))?;
    let entry = applications.join(DESKTOP_ID);
    std::fs::write(&entry, desktop_entry(binary))
        .map_err(|error| format!("cannot write {}: {error}", entry.display()))?;
    let icons = data.join("icons/hicolor/scalable/apps");
    let icon = include_str!("../packaging/icons/invalid.example.udprelay.svg");
    // Without it the menu shows a generic icon; not worth failing for.
    let _ = std::fs::create_dir_all(&icons)
        .and_then(|()| std::fs::write(icons.join("invalid.example.udprelay.svg"), icon));
    run(Command::new("xdg-mime").args(["default", DESKTOP_ID, "x-scheme-handler/udprelay"]))?;
    // Desktops that read the cache rather than mimeapps.list; not every system has the tool.
    let _ = Command::new("update-desktop-database").arg(&applications).status();
    Ok(format!("udprelay:// links now open {} ({})", binary.display(), entry.display()))
}

fn register_windows(binary: &Path) -> Result<String, String> {
    let key = r"HKCU\Software\Classes\udprelay";
    let exe = binary.display();
    let values: [(String, Option<&str>, String); 4] = [
        (key.into(), None, "URL:udprelay invite".into()),
        (key.into(), Some("URL Protocol"), String::new()),
        (format!(r"{key}\DefaultIcon"), None, format!("\"{exe}\",0")),
        (format!(r"{key}\shell\open\command"), None, format!("\"{exe}\" \"%1\"")),
    ];
    for (key, name, data) in &values {
        let mut reg = Command::new("reg");
        reg.args(["add", key]);
        match name {
            Some(name) => reg.args(["/v", name]),
            None => reg.arg("/ve"),
        };
        run(reg.args(["/t", "REG_SZ", "/d", data, "/f"]))?;
    }
    Ok(format!("udprelay:// links now open {exe} (HKEY_CURRENT_USER\\Software\\Classes\\udprelay)"))
}

fn run(command: &mut Command) -> Result<(), String> {
    let program = command.get_program().to_string_lossy().into_owned();
    match command.output() {
        Ok(output) if output.status.success() => Ok(()),
        Ok(output) => {
            Err(format!("{program} failed: {}", String::from_utf8_lossy(&output.stderr).trim()))
        }
        Err(error) => Err(format!("cannot run {program}: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_starts_this_binary_with_the_link() {
        let entry = desktop_entry(Path::new("/opt/udprelay 0.1/udprelay-gui"));
        assert!(entry.contains("\nExec=\"/opt/udprelay 0.1/udprelay-gui\" %u\n"), "{entry}");
        assert!(entry.contains("\nMimeType=x-scheme-handler/udprelay;\n"));
        assert_eq!(entry.matches("Exec=").count(), 1);
        assert!(entry.starts_with("[Desktop Entry]\n"));
        let odd = desktop_entry(Path::new("/home/a$b/x\"y"));
        assert!(odd.contains("\nExec=\"/home/a\\$b/x\\\"y\" %u\n"), "{odd}");
    }
}
