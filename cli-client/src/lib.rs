//! The `udprelay` terminal client: typed lines in, the shared protocol session in the middle,
//! a UDP socket out.

pub mod app;
pub mod display;
pub mod input;
pub mod style;
pub mod terminal;
