//! The udprelay server: a socket-free [`relay::Relay`] core and the tokio shell around it.

pub mod relay;
