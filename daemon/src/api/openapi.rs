//! The OpenAPI 3.1 document, generated from the route table and the types' JSON schemas, so it
//! cannot drift from what is served.

use schemars::Schema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

pub enum Body {
    Json(fn(&mut SchemaGenerator) -> Schema),
    /// Free-form JSON (this document itself).
    AnyJson,
    /// Server-sent events whose `data:` lines follow this schema.
    EventStream(fn(&mut SchemaGenerator) -> Schema),
    /// Raw bytes, in one of these media types (`image/*` allowed): a file's content.
    Binary(&'static [&'static str]),
    /// `multipart/form-data`: one or more parts named `file`, each with a filename.
    Multipart,
    /// A WebSocket: the JSON text frames each side sends (OpenAPI has no words for frames, so
    /// they go under `x-websocket`).
    WebSocket {
        server: fn(&mut SchemaGenerator) -> Schema,
        client: fn(&mut SchemaGenerator) -> Schema,
        binary: &'static str,
    },
}

pub struct RouteDoc {
    pub method: &'static str,
    pub path: &'static str,
    pub operation_id: &'static str,
    pub summary: &'static str,
    pub request: Option<Body>,
    pub status: u16,
    pub response: Option<Body>,
    /// `(name, type)`: a JSON schema type, `u32` / `u64` for a non-negative integer, or a
    /// regex (`^…`) for a string that must match it.
    pub query: &'static [(&'static str, &'static str)],
    pub unix_only: bool,
    /// A second success status with the same body (e.g. 200 when asked to wait).
    pub also_ok: Option<u16>,
}

fn content(body: &Body, g: &mut SchemaGenerator) -> Value {
    match body {
        Body::Json(f) => json!({"application/json": {"schema": f(g)}}),
        Body::AnyJson => json!({"application/json": {"schema": {"type": "object"}}}),
        Body::EventStream(f) => json!({"text/event-stream": {"schema": f(g)}}),
        Body::Binary(types) => Value::Object(
            types
                .iter()
                .map(|t| {
                    let schema = json!({"schema": {"type": "string", "format": "binary"}});
                    (t.to_string(), schema)
                })
                .collect(),
        ),
        Body::Multipart => json!({"multipart/form-data": {"schema": {
            "type": "object",
            "required": ["file"],
            "additionalProperties": false,
            "properties": {"file": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "string", "format": "binary"}
            }}
        }}}),
        Body::WebSocket { .. } => json!({}),
    }
}

fn needs_body(content: &Value, g: &SchemaGenerator) -> bool {
    let Some(schema) = content["application/json"].get("schema") else {
        return false;
    };
    let schema = match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap_or_default();
            g.definitions().get(name).cloned().unwrap_or(Value::Null)
        }
        None => schema.clone(),
    };
    // Required fields, or alternatives each of which requires some.
    schema["required"].as_array().is_some_and(|r| !r.is_empty())
        || schema["anyOf"].as_array().is_some_and(|alts| {
            alts.iter()
                .all(|a| a["required"].as_array().is_some_and(|r| !r.is_empty()))
        })
}

pub fn document<'a>(routes: impl IntoIterator<Item = &'a RouteDoc>) -> Value {
    let mut g = SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "/components/schemas".into())
        .into_generator();
    let mut paths: Map<String, Value> = Map::new();
    for r in routes {
        let mut params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        params.extend(r.query.iter().map(|(name, ty)| {
            let schema = match *ty {
                // Counts, sizes and cursors: never negative, within their type.
                "u32" => json!({"type": "integer", "minimum": 0, "maximum": u32::MAX}),
                "u64" => json!({"type": "integer", "minimum": 0, "maximum": u64::MAX}),
                // A regex: a string that must match it.
                ty if ty.starts_with('^') => {
                    json!({"type": "string", "maxLength": 4096, "pattern": ty})
                }
                ty => json!({"type": ty}),
            };
            json!({"name": name, "in": "query", "required": false, "schema": schema})
        }));
        let mut op = json!({
            "operationId": r.operation_id,
            "summary": r.summary,
            "parameters": params,
            "responses": {
                r.status.to_string(): {"description": "success"},
                "default": {
                    "description": "error",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
                }
            }
        });
        match &r.response {
            Some(Body::WebSocket {
                server,
                client,
                binary,
            }) => {
                op["x-websocket"] = json!({
                    "server_text_frames": server(&mut g),
                    "client_text_frames": client(&mut g),
                    "binary_frames": binary,
                });
            }
            Some(resp) => {
                let c = content(resp, &mut g);
                if let Some(also) = r.also_ok {
                    op["responses"][also.to_string()] =
                        json!({"description": "success", "content": c.clone()});
                }
                op["responses"][r.status.to_string()]["content"] = c;
            }
            None => {}
        }
        if let Some(req) = &r.request {
            let content = content(req, &mut g);
            // A body whose schema requires fields cannot be left out.
            let required = needs_body(&content, &g) || matches!(req, Body::Multipart);
            op["requestBody"] = json!({"required": required, "content": content});
        }
        if r.unix_only {
            op["description"] = json!("Served on the Unix socket only.");
        }
        paths
            .entry(r.path.to_string())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .map(|o| o.insert(r.method.to_string(), op));
    }
    let mut schemas = g.take_definitions(true);
    schemas.insert(
        "ErrorEnvelope".into(),
        json!({
            "type": "object",
            "required": ["error"],
            "properties": {"error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}}
            }}
        }),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "agentmux",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "REST gateway of agentmuxd; mirrors the agentmux.v1 gRPC API."
        },
        "security": [{"bearer": []}, {"apiKey": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}
            }
        }
    })
}
