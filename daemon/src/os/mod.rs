//! The daemon's boundary with the OS: child processes, the descriptor budget and opening files
//! beneath a directory (PTYs are `terminal`'s).

pub mod beneath;
pub mod limits;
pub mod memory;
pub mod process;
