//! `udprelay-gui`: the desktop client. [`app::App`] is the state, [`view::show`] draws it,
//! [`net`] runs one socket per group off the UI thread.

pub mod app;
mod events;
pub mod net;
pub mod notice;
mod unread;
pub mod view;
