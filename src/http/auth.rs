//! Who may call what: the admin API's bearer token (closed when none is configured, unless
//! `server.insecure_open_api` says otherwise) and the webhook's `X-Gitlab-Token`. Tokens are
//! compared in constant time, every configured one, with no early exit; an answer never depends
//! on anything but whether the token was accepted, so it reveals nothing about projects.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::AppState;
use crate::config::{Config, ProjectConfig};
use crate::secret::Secret;

/// `Authorization: Bearer <admin_token>`; with no admin token configured the API is closed (403)
/// unless `server.insecure_open_api = true`.
pub(super) async fn require_admin(
    State(app): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    match &app.config.server.admin_token {
        Some(token) => {
            let presented = request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or_default();
            if !token.matches(presented.as_bytes()) {
                return ApiError::Unauthorized.into_response();
            }
        }
        None if app.config.server.insecure_open_api => {}
        None => {
            return ApiError::Forbidden(
                "the admin API is closed: no server.admin_token is configured".into(),
            )
            .into_response()
        }
    }
    next.run(request).await
}

/// The `X-Gitlab-Token` a webhook delivery presented.
pub(super) struct Presented<'a>(&'a [u8]);

impl<'a> Presented<'a> {
    /// The token header, if there is one.
    pub fn from_headers(headers: &'a HeaderMap) -> Option<Presented<'a>> {
        headers
            .get("x-gitlab-token")
            .map(|v| Presented(v.as_bytes()))
    }

    /// Whether it is any token the configuration knows (a project's or a system hook's): the
    /// check made before the body is even parsed.
    pub fn is_known(&self, config: &Config) -> bool {
        let project_tokens = config.projects.iter().flat_map(|p| &p.webhook_tokens);
        self.matches_any(project_tokens.chain(&config.server.system_hook_tokens))
    }

    /// Whether it is accepted for `project` (its own tokens, or a system hook's); with no
    /// configured project only a system hook's token is.
    pub fn accepted_for(&self, project: Option<&ProjectConfig>, system: &[Secret]) -> bool {
        let own = project.into_iter().flat_map(|p| &p.webhook_tokens);
        self.matches_any(own.chain(system))
    }

    /// Compares with every token, in constant time each, without stopping at a match.
    fn matches_any<'s>(&self, tokens: impl Iterator<Item = &'s Secret>) -> bool {
        tokens.fold(false, |ok, token| token.matches(self.0) | ok)
    }
}
