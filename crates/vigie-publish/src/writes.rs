//! Writes over the API, each needing `Authorization: Bearer <token>` (the
//! token given to the server; without one, writes are refused): annotations
//! and alert subscriptions.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Extension;
use axum::Json;
use serde_json::{json, Value};
use vigie_store::StoredAnnotation;

use crate::annotations::{self, AnnotationError, NewAnnotation};
use crate::error::ApiError;
use crate::limits::ClientAddr;
use crate::params::Params;
use crate::state::AppState;

/// Compares two secrets in constant time, without leaking their lengths:
/// the SHA-256 digests of both are compared, byte for byte, all of them.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    let (a, b) = (Sha256::digest(a), Sha256::digest(b));
    bool::from(a.as_slice().ct_eq(b.as_slice()))
}

/// Checks the bearer token: 403 when writes are disabled, 401 when the
/// token is missing or wrong, 429 (with `Retry-After`) for a client
/// address that gave too many wrong tokens in the last minute
/// ([`crate::limits::ServerLimits::token_failures_per_minute`]).
pub fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    client: Option<&ClientAddr>,
) -> Result<(), ApiError> {
    let Some(expected) = state.write_token() else {
        return Err(ApiError {
            status: StatusCode::FORBIDDEN,
            message: "writes are disabled on this server (start it with VIGIE_API_TOKEN set)"
                .into(),
            retry_after: None,
        });
    };
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    // Requests that did not come through `serve` (no address) share one
    // count; X-Forwarded-For only counts from a trusted proxy.
    let ip = client
        .map(|c| crate::limits::client_ip(c.0.ip(), headers, &state.limits().trusted_proxies))
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let now = Instant::now();
    let throttle = &state.guards().throttle;
    if given.is_some() {
        if let Some(wait) = throttle.blocked(ip, now) {
            state.metrics().count_token_throttled();
            return Err(ApiError::too_many_requests(
                "too many wrong tokens from this address: wait before trying again",
                wait,
            ));
        }
    }
    match given {
        Some(token) if same_secret(token.as_bytes(), expected.as_bytes()) => Ok(()),
        Some(_) => {
            throttle.failed(ip, now);
            Err(ApiError::unauthorized("wrong token"))
        }
        None => Err(ApiError::unauthorized(
            "writing needs the header 'Authorization: Bearer <token>'",
        )),
    }
}

impl From<AnnotationError> for ApiError {
    fn from(error: AnnotationError) -> Self {
        match error {
            AnnotationError::Invalid(message) => ApiError::bad_request(message),
            other => ApiError::internal(other.to_string()),
        }
    }
}

/// The JSON of an annotation.
pub fn annotation_json(a: &StoredAnnotation) -> Value {
    json!({
        "id": a.id,
        "entity": a.entity.to_string(),
        "time": vigie_model::format_utc(a.time),
        "until": a.end.map(vigie_model::format_utc),
        "text": a.text,
        "url": a.url,
        "author": a.author,
        "createdAt": vigie_model::format_utc(a.created_at),
    })
}

/// `POST /api/v1/annotations` with a JSON body `{entity, time, until?,
/// text, url?}`: 201 with the stored annotation.
#[utoipa::path(
    post,
    path = crate::paths::ANNOTATIONS,
    summary = "Add an annotation",
    description = "Needs `Authorization: Bearer <token>` (the server's VIGIE_API_TOKEN). Body at most 64 KiB.",
    security(("bearer" = [])),
    request_body = NewAnnotation,
    responses(
        (status = 201, description = "Stored; the body is the annotation."),
        (status = 400, description = "Invalid body.", body = crate::schemas::ErrorBody),
        (status = 401, description = "Missing or wrong token."),
        (status = 403, description = "Writes are disabled on this server."),
        (status = 413, description = "Body too large (refused from its Content-Length, unread)."),
        (status = 415, description = "The body is not sent as Content-Type: application/json."),
        (status = 429, description = "Too many wrong tokens from this address in the last minute; see Retry-After."),
    ),
)]
pub async fn add_annotation(
    State(state): State<AppState>,
    client: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    body: Result<Json<NewAnnotation>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    authorize(&state, &headers, client.as_deref())?;
    let Json(new) = body.map_err(|e| ApiError {
        // 413 for a body over the limit, 415 without a JSON content type, 400 otherwise.
        status: if e.status() == StatusCode::UNPROCESSABLE_ENTITY {
            StatusCode::BAD_REQUEST
        } else {
            e.status()
        },
        message: format!(
            "the body must be JSON {{entity, time, until?, text, url?}} of at most {} bytes: {}",
            crate::params::MAX_BODY_BYTES,
            e.body_text()
        ),
        retry_after: None,
    })?;
    let valid = new.validate()?;
    let stored = state
        .with_store_mut(move |store| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let id = annotations::add(store, &valid, "api", now)?;
            annotations::get(store, id)?
                .ok_or_else(|| ApiError::internal("the annotation was not found after writing it"))
        })
        .await?;
    Ok((StatusCode::CREATED, Json(annotation_json(&stored))))
}

/// `GET /api/v1/annotations`: annotations of `entity` over `from`..`until`.
#[utoipa::path(
    get,
    path = crate::paths::ANNOTATIONS,
    summary = "List annotations",
    description = "External events (such as a televised address) of an entity overlapping the range.",
    params(crate::schemas::AnnotationsQuery, crate::schemas::Paging),
    responses((status = 200, description = "Success.", body = Object), crate::schemas::ReadErrors),
)]
pub async fn list_annotations(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let params = Params(q);
    let entity = params.entity("entity")?;
    let from = params.time("from")?;
    let until = params.time("until")?;
    let page = params.page()?;
    let (total, found) = state
        .with_store(move |store| {
            let all = annotations::list(store, entity.as_ref(), from, until)?;
            Ok((all.len(), page.slice(all)))
        })
        .await?;
    Ok(Json(json!({
        "total": total,
        "offset": page.offset,
        "limit": page.limit,
        "annotations": found.iter().map(annotation_json).collect::<Vec<_>>(),
    })))
}

impl From<crate::alerts::AlertError> for ApiError {
    fn from(error: crate::alerts::AlertError) -> Self {
        match error {
            crate::alerts::AlertError::Invalid(message) => ApiError::bad_request(message),
            other => ApiError::internal(other.to_string()),
        }
    }
}

/// A new subscription: `{entity, notices: ["start", "restoration", "end", "feed-health"],
/// target: "https://…", secret: "16 to 256 bytes", format: "json" | "slack"}`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubscription {
    /// Entity: IQ, AS9198, KZ/Almaty.
    pub entity: String,
    /// Notices wanted.
    #[schema(value_type = Vec<crate::schemas::Notice>)]
    pub notices: Vec<String>,
    /// Webhook URL (http or https, public address).
    pub target: String,
    /// HMAC-SHA256 key for the `X-Vigie-Signature` header.
    #[schema(min_length = 16, max_length = 256)]
    pub secret: String,
    /// How notices are written: `json` (the default, vigie's notice) or
    /// `slack` (a chat message for Slack or Mattermost incoming webhooks).
    #[serde(default)]
    #[schema(value_type = Option<crate::schemas::NoticeFormat>, default = "json")]
    pub format: Option<String>,
}

/// `POST /api/v1/subscriptions`: 201 with the subscription (without its secret).
#[utoipa::path(
    post,
    path = crate::paths::SUBSCRIPTIONS,
    summary = "Subscribe to an entity's incidents",
    description = "Needs the bearer token. Webhook deliveries are JSON POSTs signed with X-Vigie-Signature: sha256=<hex HMAC-SHA256 of the body>, identified by X-Vigie-Delivery, retried with backoff. Targets resolving to loopback, private, link-local, reserved or documentation addresses, or to an IPv6 form embedding an IPv4 address, are refused.",
    security(("bearer" = [])),
    request_body = NewSubscription,
    responses(
        (status = 201, description = "Stored."),
        (status = 400, description = "Invalid body or refused target."),
        (status = 401, description = "Missing or wrong token."),
        (status = 403, description = "Writes are disabled."),
        (status = 413, description = "Body too large (refused from its Content-Length, unread)."),
        (status = 415, description = "The body is not sent as Content-Type: application/json."),
        (status = 429, description = "Too many wrong tokens from this address in the last minute; see Retry-After."),
    ),
)]
pub async fn add_subscription(
    State(state): State<AppState>,
    client: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    body: Result<Json<NewSubscription>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    authorize(&state, &headers, client.as_deref())?;
    let Json(new) = body.map_err(|e| ApiError {
        status: if e.status() == StatusCode::UNPROCESSABLE_ENTITY {
            StatusCode::BAD_REQUEST
        } else {
            e.status()
        },
        message: format!(
            "the body must be JSON {{entity, notices, target, secret, format?}}: {}",
            e.body_text()
        ),
        retry_after: None,
    })?;
    let entity = crate::params::parse_entity(&new.entity, "entity")?;
    let allow_private = state.allow_private_targets();
    let format = new.format.clone().unwrap_or_else(|| "json".into());
    let reply = json!({
        "entity": entity.to_string(),
        "notices": new.notices,
        "target": new.target,
        "format": format,
    });
    let id = state
        .with_store_mut(move |store| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            Ok(crate::alerts::subscribe_with_format(
                store,
                &entity,
                &new.notices,
                &new.target,
                &new.secret,
                &format,
                allow_private,
                now,
            )?)
        })
        .await?;
    let mut reply = reply;
    if let Value::Object(map) = &mut reply {
        map.insert("id".into(), json!(id));
    }
    Ok((StatusCode::CREATED, Json(reply)))
}

/// `GET /api/v1/subscriptions` (token needed): subscriptions and their
/// outbox counts, without secrets.
#[utoipa::path(
    get,
    path = crate::paths::SUBSCRIPTIONS,
    summary = "List alert subscriptions",
    description = "Needs the bearer token. Subscriptions (without secrets) and outbox counts.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Success."),
        (status = 401, description = "Missing or wrong token."),
        (status = 403, description = "Writes are disabled."),
        (status = 429, description = "Too many wrong tokens from this address in the last minute; see Retry-After."),
    ),
)]
pub async fn list_subscriptions(
    State(state): State<AppState>,
    client: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers, client.as_deref())?;
    let (subs, outbox) = state
        .with_store(move |store| {
            Ok((
                crate::alerts::subscriptions(store)?,
                crate::alerts::outbox(store)?,
            ))
        })
        .await?;
    let count = |state: &str| outbox.iter().filter(|d| d.state == state).count();
    Ok(Json(json!({
        "subscriptions": subs.iter().map(|s| json!({
            "id": s.id,
            "entity": s.entity.to_string(),
            "notices": s.notices,
            "target": s.target,
            "format": s.format,
        })).collect::<Vec<_>>(),
        "outbox": { "pending": count("pending"), "delivered": count("delivered"), "failed": count("failed") },
    })))
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn secrets_compare_whole_digests() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
        assert!(!same_secret(b"", b"a"));
        assert!(same_secret(b"", b""));
    }
}
