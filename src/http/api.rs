//! Read API over what webhooks recorded: `/api/v1/projects` and, per project (by id or full path,
//! slashes and `%2F` both work), `/tags`, `/refs`, `/pipelines`, `/merge_requests`. Read-only.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::error::ApiError;
use super::extract::{bounded, Path, Query};
use super::AppState;
use crate::gitlab::hooks::HookHealth;
use crate::model::{ProjectRecord, TagKind};
use crate::store::TagFilter;

#[derive(Serialize)]
struct ProjectView {
    #[serde(flatten)]
    record: ProjectRecord,
    configured: bool,
    /// The hook that feeds registry-gc, as the last reconciliation found it.
    #[serde(skip_serializing_if = "Option::is_none")]
    hook: Option<HookHealth>,
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/projects", get(projects))
        .route("/api/v1/projects/{*rest}", get(project_resource))
}

/// `GET /api/v1/projects`: projects heard from, and whether each is configured.
async fn projects(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let mut hooks = app
        .reconciler
        .as_ref()
        .map(|r| r.hooks())
        .unwrap_or_default();
    let projects: Vec<ProjectView> = app
        .store
        .projects()
        .await?
        .into_iter()
        .map(|record| {
            let configured = app
                .config
                .project(Some(record.id), Some(&record.path))
                .is_some();
            let hook = hooks.remove(&record.id);
            ProjectView {
                record,
                configured,
                hook,
            }
        })
        .collect();
    Ok(Json(json!({ "projects": projects })))
}

/// Filters of `/tags`.
#[derive(Debug, Deserialize)]
struct TagQuery {
    #[serde(rename = "ref")]
    ref_name: Option<String>,
    kind: Option<String>,
}

/// `GET /api/v1/projects/{project}/{resource}` where `{project}` may itself contain slashes.
async fn project_resource(
    State(app): State<AppState>,
    Path(rest): Path<String>,
    Query(query): Query<TagQuery>,
) -> Result<Json<Value>, ApiError> {
    let (project, resource) = rest.rsplit_once('/').ok_or_else(|| {
        ApiError::NotFound(
            "use /api/v1/projects/{project}/{tags|refs|pipelines|merge_requests}".into(),
        )
    })?;
    let record = find_project(&app, bounded("project", project)?).await?;
    let id = record.id;
    let body = match resource {
        "tags" => {
            let kind = query
                .kind
                .as_deref()
                .map(|k| {
                    k.parse::<TagKind>()
                        .map_err(|e| ApiError::BadRequest(format!("kind: {e}")))
                })
                .transpose()?;
            if let Some(ref_name) = &query.ref_name {
                bounded("ref", ref_name)?;
            }
            let filter = TagFilter {
                ref_name: query.ref_name,
                kind,
            };
            json!({ "project": record, "tags": app.store.image_tags(id, &filter).await? })
        }
        "refs" => json!({ "project": record, "refs": app.store.refs(id).await? }),
        "pipelines" => json!({ "project": record, "pipelines": app.store.pipelines(id).await? }),
        "merge_requests" => {
            json!({ "project": record, "merge_requests": app.store.merge_requests(id).await? })
        }
        other => return Err(ApiError::NotFound(format!("unknown resource {other:?}"))),
    };
    Ok(Json(body))
}

async fn find_project(app: &AppState, key: &str) -> Result<ProjectRecord, ApiError> {
    let found = match key.parse::<i64>() {
        Ok(id) => app.store.project_by_id(id).await?,
        Err(_) => app.store.project_by_path(key).await?,
    };
    found.ok_or_else(|| ApiError::NotFound(format!("no project {key:?} has been recorded")))
}
