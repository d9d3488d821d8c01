//! Extractors that answer malformed input through the one `ApiError` (a JSON body with a code and
//! a message), instead of axum's plain-text rejections; and the reading of an optional JSON body,
//! where a body that cannot be read is an error, never "no options".

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::FromRequestParts;
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::webhook::field::{check_text, MAX_PATH};

/// `Query<T>` answering 400 through `ApiError`.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// `Path<T>` answering 400 through `ApiError`.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::BadRequest(r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::BadRequest(r.body_text())
    }
}

/// An optional JSON body: empty (or only whitespace) is `T::default()`; anything else must say
/// `Content-Type: application/json` (415 otherwise) and parse as `T` (400 otherwise, naming the
/// field).
pub fn optional_json<T: DeserializeOwned + Default>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let body = body.map_err(|r| match r.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::BadRequest("request body is too large".into()),
        _ => ApiError::BadRequest(r.body_text()),
    })?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    if !is_json(headers) {
        return Err(ApiError::UnsupportedMediaType(
            "a request body must be sent with Content-Type: application/json".into(),
        ));
    }
    let bad = |e: &dyn std::fmt::Display| ApiError::BadRequest(format!("body: {e}"));
    let mut de = serde_json::Deserializer::from_slice(&body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| bad(&e))?;
    de.end().map_err(|e| bad(&e))?;
    Ok(value)
}

/// `application/json` or `application/…+json`, with any parameters.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|s| s.ends_with("+json"))
}

/// A project key, ref name or other text from a URL: 400 naming `field` when it is longer than a
/// project path may be or holds a NUL byte (which Postgres cannot store or compare).
pub fn bounded<'a>(field: &str, value: &'a str) -> Result<&'a str, ApiError> {
    check_text(value, MAX_PATH)
        .map(|()| value)
        .map_err(|e| ApiError::BadRequest(format!("{field}: {e}")))
}
