//! The one end-to-end test binary: every suite module runs against the real `agentmuxd`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
