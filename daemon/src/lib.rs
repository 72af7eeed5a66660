//! agentmuxd: the store and durable event log, the service layer, providers, and the gRPC and
//! REST transports.

pub mod api;
pub mod clis;
pub mod git;
pub mod journal;
pub mod log;
pub mod model;
pub mod os;
pub mod provider;
pub mod server;
pub mod service;
pub mod store;
pub mod terminal;
pub mod workflow;
