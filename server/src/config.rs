//! `--config PATH`: a TOML file whose keys are the flags' own names (`heartbeat = 60`,
//! `max-members-per-ip = 64`, `require-validation = true`). The file's settings are read as if
//! they had been given first on the command line, so the flags' own checks apply to them, and
//! any flag given on the command line wins.

use std::fmt;
use std::path::{Path, PathBuf};

use clap::{ArgAction, CommandFactory, Parser};

use crate::args::Args;

/// Keys a file may not set: they are about the command line itself.
const NOT_IN_A_FILE: &[&str] = &["config", "check-config", "generate", "help", "version"];

/// Why a configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: PathBuf,
    /// The line of the file the problem is on (1-based), when it is about one line.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

/// What the server runs with: the command line (`argv`, program name first) over the file it
/// names with `--config`, if any. A bad flag exits through clap as always (code 2); a bad file
/// is a [`ConfigError`].
pub fn load(argv: &[String]) -> Result<Args, ConfigError> {
    let command_line = Args::parse_from(argv);
    let Some(path) = command_line.config.clone() else {
        return Ok(command_line);
    };
    let from_file = file_arguments(&path)?;
    let mut combined = vec![argv[0].clone()];
    combined.extend(from_file);
    combined.extend(argv[1..].iter().cloned());
    Args::try_parse_from(&combined).map_err(|error| ConfigError {
        path: path.clone(),
        line: None,
        message: first_line(&error.to_string()),
    })
}

/// The file's settings as command-line arguments, each checked on its own so that an error
/// names its line.
pub fn file_arguments(path: &Path) -> Result<Vec<String>, ConfigError> {
    let error = |line: Option<usize>, message: String| ConfigError {
        path: path.to_path_buf(),
        line,
        message,
    };
    let text =
        std::fs::read_to_string(path).map_err(|e| error(None, format!("cannot read: {e}")))?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|span| text[..span.start].lines().count().max(1));
        error(line, first_line(e.message()))
    })?;
    let command = Args::command();
    let mut arguments = Vec::new();
    for (key, value) in &table {
        let line = line_of(&text, key);
        let Some(arg) = command.get_arguments().find(|arg| arg.get_long() == Some(key.as_str()))
        else {
            return Err(error(line, format!("unknown setting '{key}'")));
        };
        if NOT_IN_A_FILE.contains(&key.as_str()) {
            return Err(error(line, format!("'{key}' belongs on the command line")));
        }
        let is_switch = matches!(arg.get_action(), ArgAction::SetTrue);
        let words: Vec<String> = match (value, is_switch) {
            (toml::Value::Boolean(true), true) => vec![format!("--{key}")],
            (toml::Value::Boolean(false), true) => Vec::new(),
            (_, true) => return Err(error(line, format!("'{key}' is true or false"))),
            (toml::Value::String(text), false) => vec![format!("--{key}"), text.clone()],
            (toml::Value::Integer(n), false) => vec![format!("--{key}"), n.to_string()],
            (toml::Value::Float(x), false) => vec![format!("--{key}"), x.to_string()],
            (other, false) => {
                return Err(error(
                    line,
                    format!("'{key}' takes a number or a string, not {}", other.type_str()),
                ));
            }
        };
        // Checked alone, with the flag's own parser, so that the reason comes with its line.
        let alone = std::iter::once("udprelay-server".to_string()).chain(words.iter().cloned());
        if let Err(e) = Args::try_parse_from(alone) {
            return Err(error(line, first_line(&e.to_string()).replace("error: ", "")));
        }
        arguments.extend(words);
    }
    Ok(arguments)
}

/// The line where `key` is set, if it can be found.
fn line_of(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|line| {
            let line = line.trim_start();
            let rest = line.strip_prefix(key).or_else(|| line.strip_prefix(&format!("\"{key}\"")));
            rest.is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|index| index + 1)
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().trim().to_string()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn write(text: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!(
            "udprelay-config-{}-{}.toml",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::write(&path, text).unwrap();
        path
    }

    fn argv(extra: &[&str]) -> Vec<String> {
        std::iter::once("udprelay-server").chain(extra.iter().copied()).map(String::from).collect()
    }

    #[test]
    fn the_file_sets_and_the_command_line_overrides() {
        let path = write(
            "# a comment\nheartbeat = 30\nmax-members-per-ip = 64\nrequire-validation = true\ncap = \"none\"\nempty-ttl = 0.5\n",
        );
        let file = path.to_str().unwrap();
        let args = load(&argv(&["--config", file])).unwrap();
        assert_eq!(args.heartbeat, Duration::from_secs(30));
        assert_eq!(args.max_members_per_ip, 64);
        assert!(args.require_validation);
        assert_eq!(args.cap.0, None);
        assert_eq!(args.empty_ttl, Duration::from_millis(500));
        let args = load(&argv(&["--heartbeat", "5", "--config", file])).unwrap();
        assert_eq!(
            args.heartbeat,
            Duration::from_secs(5),
            "the command line wins, wherever it stands"
        );
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn errors_name_the_line_and_the_reason() {
        let cases = [
            ("heartbeat = 60\nhartbeat = 5\n", 2, "unknown setting 'hartbeat'"),
            ("heartbeat = -1\n", 1, "must be more than 0 seconds"),
            ("\n\nport = \"http\"\n", 3, "invalid value 'http'"),
            ("require-validation = 1\n", 1, "is true or false"),
            ("threads = [1, 2]\n", 1, "takes a number or a string"),
            ("heartbeat = \n", 1, ""),
            ("config = \"other.toml\"\n", 1, "belongs on the command line"),
        ];
        for (text, line, reason) in cases {
            let path = write(text);
            let error = load(&argv(&["--config", path.to_str().unwrap()])).unwrap_err();
            assert_eq!(error.line, Some(line), "{text:?}: {error}");
            assert!(error.message.contains(reason), "{text:?}: {error}");
            assert!(error.to_string().starts_with(&format!("{}:{line}: ", path.display())));
            let _ = std::fs::remove_file(path);
        }
        let missing = load(&argv(&["--config", "/nonexistent/udprelay.toml"])).unwrap_err();
        assert_eq!(missing.line, None);
        assert!(missing.message.starts_with("cannot read"));
    }
}
