//! Managing coding-agent CLIs (not driving them: that is `provider`): finding them and their
//! versions, whether their credentials are present, installing them with npm.

pub mod credentials;
pub mod npm;
pub mod registry;
