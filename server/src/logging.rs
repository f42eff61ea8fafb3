//! The server's log: text or one JSON object per line, to stderr, at a level that SIGHUP can
//! change while running.

use std::io::IsTerminal;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, fmt, reload};

use crate::args::LogFormat;

/// The running log, for changing its level.
pub struct Logging {
    filter: reload::Handle<EnvFilter, Registry>,
    /// RUST_LOG was set: it wins over `--log-level`, now and on reload.
    from_environment: bool,
}

/// Starts logging at `level` (a filter; RUST_LOG wins when set) in `format`.
pub fn init(level: &str, format: LogFormat) -> Logging {
    let from_environment = std::env::var_os("RUST_LOG").is_some();
    let filter = match EnvFilter::try_from_default_env() {
        Ok(filter) => filter,
        Err(_) => EnvFilter::new(level),
    };
    let (filter, handle) = reload::Layer::new(filter);
    let text = (format == LogFormat::Text).then(|| {
        fmt::layer().with_writer(std::io::stderr).with_ansi(std::io::stderr().is_terminal())
    });
    let json =
        (format == LogFormat::Json).then(|| fmt::layer().json().with_writer(std::io::stderr));
    tracing_subscriber::registry().with(filter).with(text).with(json).init();
    Logging { filter: handle, from_environment }
}

impl Logging {
    /// Applies a new `--log-level` (unless RUST_LOG is set).
    pub fn set_level(&self, level: &str) {
        if !self.from_environment {
            let _ = self.filter.reload(EnvFilter::new(level));
        }
    }
}
