//! The udprelay server: a socket-free [`relay::Relay`] core, its flags, and the tokio shell
//! around it.

pub mod args;
pub mod config;
pub mod logging;
pub mod relay;
pub mod shell;
