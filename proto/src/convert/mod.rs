//! The one place where agentmux.v1 messages and domain types are converted, per resource.
//! The daemon's store and journal encode domain values through these too, so they are also
//! the on-disk format (see `wire.lock`).

mod approval;
mod event;
mod provider;
mod session;
mod system;
mod terminal;

#[cfg(test)]
mod tests;
