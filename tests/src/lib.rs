//! Test support for agentmux end-to-end tests: the daemon harness, clients and a fake model server.
// Test support: a panic is how a test reports a failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod client;
pub mod daemon;
pub mod fake;
pub mod term;
pub mod tmpfs;
/// The fake model server under the name the first tests used.
pub use fake as fake_openai;

use std::future::Future;
use std::time::Duration;

/// A reqwest client builder. The workspace build unifies reqwest's features with the daemon's
/// (rustls without a built-in provider), so a crypto provider must be installed first.
pub fn http_client() -> reqwest::ClientBuilder {
    // Err only means one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // A pooled connection idle longer than this is dropped, not reused: the daemon closes
    // keep-alive connections that send nothing for a while, and reusing one just as it does
    // fails the request (seen when a test waited on a slow build between two requests).
    reqwest::Client::builder()
        .no_proxy()
        .pool_idle_timeout(Duration::from_secs(5))
}

/// The longest any single await in a test may take.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// Awaits `fut` for at most [`TIMEOUT`], panicking with `what` when it takes longer.
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(TIMEOUT, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {TIMEOUT:?} waiting for {what}"),
    }
}

/// Polls `check` every 20 ms until it returns `Some`, for at most `timeout`.
pub async fn poll_until<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
