//! HTTP model clients: providers that talk to a model API themselves rather than through a
//! coding-agent CLI.

pub mod openai;
