//! Harnesses shared by the client's integration tests. Each test file uses some of them.
#![allow(dead_code)]

pub mod cli;
pub mod screen;
