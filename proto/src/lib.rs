//! Generated `agentmux.v1` messages, services and the descriptor set for reflection, and the
//! conversions between them and the domain types of `agentmux-shared`.

#[allow(
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::expect_used
)]
pub mod v1 {
    tonic::include_proto!("agentmux.v1");
}

/// Encoded `FileDescriptorSet`, served by gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/agentmux_descriptor.bin"));

pub use v1::*;

mod convert;

#[cfg(test)]
mod wire_lock;
