//! Request bodies: JSON read with every failure in the error envelope.

use super::error::ApiError;
use agentmux_shared::{Error, ErrorKind};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// JSON body reader that answers every failure with the error envelope: 413 over the size
/// limit, 400 for malformed JSON or invalid UTF-8. An empty body reads as `T::default()`, and
/// no content type is required.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned + schemars::JsonSchema + 'static,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Error::new(
                    ErrorKind::PayloadTooLarge,
                    "request body is over the size limit",
                )
            } else {
                Error::invalid(format!("cannot read the request body: {r}"))
            }
        })?;
        // An empty body is an empty object: optional fields default, required ones are missing.
        let body: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        let malformed =
            |e: serde_json::Error| ApiError(Error::invalid(format!("malformed JSON body: {e}")));
        let mut value: serde_json::Value = serde_json::from_slice(body).map_err(malformed)?;
        // serde would also fill a struct from an array, in field order.
        if !value.is_object() {
            return Err(ApiError(Error::invalid("the body must be a JSON object")));
        }
        // Fields the body type does not have are ignored, whatever they hold.
        let known = fields_of::<T>();
        if let serde_json::Value::Object(o) = &mut value {
            for (k, x) in o.iter_mut() {
                if known.contains(k) {
                    whole_numbers(x)?;
                }
            }
        }
        serde_json::from_value(value)
            .map(ApiJson)
            .map_err(malformed)
    }
}

/// The top-level field names of a body type, from its schema: worked out once per type, not
/// per request.
fn fields_of<T: schemars::JsonSchema + 'static>() -> std::sync::Arc<Vec<String>> {
    use std::any::TypeId;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    static KNOWN: OnceLock<Mutex<HashMap<TypeId, Arc<Vec<String>>>>> = OnceLock::new();
    let map = KNOWN.get_or_init(Mutex::default);
    if let Ok(m) = map.lock()
        && let Some(f) = m.get(&TypeId::of::<T>())
    {
        return f.clone();
    }
    let schema = schemars::schema_for!(T);
    let fields: Arc<Vec<String>> = Arc::new(
        schema
            .get("properties")
            .and_then(|p| p.as_object())
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default(),
    );
    if let Ok(mut m) = map.lock() {
        m.insert(TypeId::of::<T>(), fields.clone());
    }
    fields
}

/// The largest integer every JSON reader (JavaScript's included) holds exactly; the schemas
/// of integer fields that could exceed it say so.
const MAX_EXACT: u64 = 9_007_199_254_740_991;

/// `3.0` is an integer to JSON Schema (and to JavaScript): read it as one. An integer past
/// `MAX_EXACT` is refused rather than read as something its sender did not mean.
fn whole_numbers(v: &mut serde_json::Value) -> Result<(), ApiError> {
    match v {
        serde_json::Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() <= MAX_EXACT as f64
            {
                // In range and whole: exact as an i64.
                *v = serde_json::Value::from(f as i64);
            }
        }
        serde_json::Value::Number(n) if n.as_u64().is_some_and(|u| u > MAX_EXACT) => {
            return Err(ApiError(Error::invalid(format!(
                "{n} is past the largest exact JSON integer ({MAX_EXACT})"
            ))));
        }
        serde_json::Value::Array(a) => {
            for x in a {
                whole_numbers(x)?;
            }
        }
        serde_json::Value::Object(o) => {
            for x in o.values_mut() {
                whole_numbers(x)?;
            }
        }
        _ => {}
    }
    Ok(())
}
