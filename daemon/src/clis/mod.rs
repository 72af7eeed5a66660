//! Managing coding-agent CLIs (not driving them: that is `provider`): finding them (`lookup`,
//! the one executable look-up) and their versions, whether their credentials are present, installing them with npm.

pub mod credentials;
pub mod lookup;
pub mod npm;
pub mod registry;
