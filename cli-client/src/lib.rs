//! The `udprelay` terminal client: typed lines in, `udprelay-client` in the middle, lines
//! out.

pub mod app;
pub mod display;
pub mod input;
pub mod style;
pub mod terminal;
