//! The daemon's boundary with the OS for child processes (PTYs are `terminal`'s).

pub mod process;
