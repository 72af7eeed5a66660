//! agentmux domain: types, ids, the error type, config and paths. Depends on no
//! transport, storage or UI crate.

pub mod config;
pub mod error;
pub mod ids;
pub mod types;

pub use error::{Error, ErrorKind, Result};
