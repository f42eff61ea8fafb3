//! `udprelay-gui`: the desktop client. [`app::App`] is the state, [`view::show`] draws it,
//! [`net`] runs one socket per group off the UI thread.

pub mod app;
mod asking;
mod events;
pub mod fonts;
mod history;
pub mod instance;
pub mod links;
pub mod log;
mod log_view;
pub mod net;
pub mod notice;
pub mod notifier;
pub mod notify;
mod region;
pub mod search;
mod search_view;
pub mod settings;
mod settings_view;
pub mod store;
pub mod theme;
pub mod unread;
pub mod view;
pub mod wake;
