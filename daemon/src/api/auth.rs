//! TCP protection: every request needs a valid API key, is rate limited per key, and CORS is
//! answered as configured. The Unix socket skips all of it (its 0600 mode is the check).

use super::error::{ApiError, to_status};
use crate::service::Service;
use agentmux_shared::{Error, ErrorKind};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tower_http::cors::{AllowOrigin, CorsLayer};

#[derive(Clone)]
struct Guard {
    svc: Service,
    limiter: Arc<RateLimiter>,
}

pub fn protect(app: axum::Router, svc: Service) -> axum::Router {
    let d = &svc.config().daemon;
    let limiter = Arc::new(RateLimiter::new(d.rate_limit_per_sec, d.rate_limit_burst));
    let cors = cors_layer(&d.cors_origins);
    let guard = Guard { svc, limiter };
    let app = app.layer(axum::middleware::from_fn_with_state(guard, check));
    match cors {
        Some(c) => app.layer(c),
        None => app,
    }
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let list: Vec<HeaderValue> = origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        AllowOrigin::list(list)
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::HeaderName::from_static("x-api-key"),
                header::HeaderName::from_static("last-event-id"),
            ]),
    )
}

fn presented_key(req: &Request) -> Option<&str> {
    let h = req.headers();
    if let Some(v) = h.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(v.trim());
    }
    h.get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

async fn check(State(g): State<Guard>, mut req: Request, next: Next) -> Response {
    let grpc = super::is_grpc(&req);
    let grant =
        match presented_key(&req) {
            None => Err(Error::new(
                ErrorKind::Unauthenticated,
                "an API key is required: Authorization: Bearer <key> or X-API-Key: <key>",
            )),
            Some(k) => g.svc.keys().verify(k).ok_or_else(|| {
                Error::new(ErrorKind::Unauthenticated, "invalid or revoked API key")
            }),
        };
    let result = grant.and_then(|grant| {
        if g.limiter.allow(&grant.key_id) {
            Ok(grant)
        } else {
            Err(Error::new(
                ErrorKind::ResourceExhausted,
                "rate limit exceeded for this API key: slow down",
            ))
        }
    });
    match result {
        Ok(grant) => {
            if let Some(conn) = req.extensions().get::<super::conns::ConnRef>() {
                conn.authenticated(&grant);
            }
            req.extensions_mut().insert(grant);
            next.run(req).await
        }
        Err(e) if grpc => to_status(e).into_http::<axum::body::Body>(),
        Err(e) => ApiError(e).into_response(),
    }
}

/// What a stream says when the key that opened it is revoked.
pub const REVOKED: &str = "the API key was revoked";

/// Cancelled when the key that authorised this request is revoked; never, over the Unix
/// socket (no key there). Streams and attachments end on it.
pub fn revocation(ext: &axum::http::Extensions) -> tokio_util::sync::CancellationToken {
    ext.get::<crate::service::Grant>()
        .map(|g| g.revoked.clone())
        .unwrap_or_default()
}

/// The extractor for `revocation`.
pub struct Revocation(pub tokio_util::sync::CancellationToken);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Revocation {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Revocation(revocation(&parts.extensions)))
    }
}

/// The id of the key that authorised this request (none over the Unix socket).
pub struct KeyOf(pub Option<String>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for KeyOf {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(KeyOf(
            parts
                .extensions
                .get::<crate::service::Grant>()
                .map(|g| g.key_id.clone()),
        ))
    }
}

/// A token bucket per key.
struct RateLimiter {
    per_sec: f64,
    burst: f64,
    // std Mutex: a few arithmetic operations, never across an await.
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    fn new(per_sec: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            per_sec: f64::from(per_sec.max(1)),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn allow(&self, key: &str) -> bool {
        let Ok(mut b) = self.buckets.lock() else {
            return true;
        };
        let now = Instant::now();
        let (tokens, last) = b.entry(key.to_string()).or_insert((self.burst, now));
        *tokens =
            (*tokens + now.duration_since(*last).as_secs_f64() * self.per_sec).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_refuses() {
        let r = RateLimiter::new(1, 3);
        assert!(r.allow("a") && r.allow("a") && r.allow("a"));
        assert!(!r.allow("a"));
        assert!(r.allow("b"), "keys have separate buckets");
    }
}
