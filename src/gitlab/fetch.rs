//! The API side of reconciliation, import and hook checks: reads what the pure functions in
//! `reconcile`, `import` and `hooks` need (bounded concurrency, one request budget), then calls
//! them. Writes nothing: the caller applies the returned changes and persists the watermark.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};

use super::api::{MergeRequest, PipelineDetail};
use super::client::{BranchLookup, GitLabClient, ProjectApi};
use super::error::GitLabError;
use super::finding::Source;
use super::hooks::{bulk_pushes, hook_health, BulkPush, HookHealth};
use super::import::{import, import_branches_to_confirm, Import, ImportInput};
use super::reconcile::{
    advance, branches_to_confirm, list_from, open_merge_requests_to_recheck, pipelines_to_fetch,
    reconcile, unknown_merge_requests, BranchList, Confirmation, Images, Observed, ReconcileError,
    Reconciliation, Recorded, ShrinkLimits, Stamp, Watermark,
};
use super::settings::ProjectSettings;
use super::transport::Budget;
use crate::config::ProjectConfig;

/// The project's effective settings and its endpoints.
fn project_api(
    client: &GitLabClient,
    budget: &Budget,
    id: i64,
    path: Option<&str>,
) -> (ProjectSettings, ProjectApi) {
    let settings = client.settings().for_project(id, path);
    let api = client
        .project(id, budget)
        .with_max_pages(settings.max_pages);
    (settings, api)
}

fn limits(settings: &ProjectSettings) -> ShrinkLimits {
    ShrinkLimits {
        ratio: settings.shrink_ratio,
        min_missing: settings.shrink_min_missing,
    }
}

/// Asks the single-branch endpoint about each name, a few at a time.
async fn confirm(
    api: &ProjectApi,
    names: &[String],
    concurrency: usize,
) -> Result<BTreeMap<String, Confirmation>, GitLabError> {
    // Owned names: a stream of borrowed items is not provably `Send` for every lifetime.
    stream::iter(names.to_vec())
        .map(|name| async move {
            let answer = match api.branch(&name).await? {
                BranchLookup::NotFound => Confirmation::Gone,
                BranchLookup::Exists(branch) => Confirmation::Exists(branch),
            };
            Ok::<_, GitLabError>((name, answer))
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await
}

/// Reads pipelines in full, a few at a time, in id order.
async fn details(
    api: &ProjectApi,
    ids: &[i64],
    concurrency: usize,
) -> Result<Vec<PipelineDetail>, GitLabError> {
    let mut read: Vec<PipelineDetail> = stream::iter(ids.to_vec())
        .map(|id| api.pipeline(id))
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    read.sort_by_key(|d| d.pipeline.id);
    Ok(read)
}

/// Pipelines worth reading in full and the merge requests they name that are not known yet.
async fn pipelines_and_their_merge_requests(
    api: &ProjectApi,
    recorded: &Recorded<'_>,
    listed: &[super::api::Pipeline],
    merge_requests: &mut Vec<MergeRequest>,
    concurrency: usize,
) -> Result<Vec<PipelineDetail>, GitLabError> {
    let ids = pipelines_to_fetch(recorded.pipelines, listed);
    let read = details(api, &ids, concurrency).await?;
    let mut known = recorded.merge_request_branches();
    known.extend(
        merge_requests
            .iter()
            .map(|m| (m.iid, m.source_branch.clone())),
    );
    let unknown = unknown_merge_requests(&read, &known);
    merge_requests.extend(api.merge_requests_by_iid(&unknown).await?);
    Ok(read)
}

/// The complete branch list.
async fn branch_list(api: &ProjectApi) -> Result<BranchList, GitLabError> {
    let listing = api.branches().await?;
    Ok(BranchList {
        branches: listing.items,
        total: listing.total,
    })
}

/// Merge requests updated since the watermark (minus the overlap), plus the recorded open ones the
/// listing did not show; and the merge request watermark after the listing.
async fn merge_requests_since(
    api: &ProjectApi,
    recorded: &Recorded<'_>,
    mark: Option<DateTime<Utc>>,
    from: DateTime<Utc>,
) -> Result<(Vec<MergeRequest>, Option<DateTime<Utc>>), GitLabError> {
    let listing = api.merge_requests(Some(from)).await?;
    let next = advance(mark, listing.items.iter().map(|m| (m.iid, m.updated_at)));
    let recheck = open_merge_requests_to_recheck(recorded.merge_requests, &listing.items);
    let mut merge_requests = listing.items;
    merge_requests.extend(api.merge_requests_by_iid(&recheck).await?);
    Ok((merge_requests, next))
}

/// Reconciles one project against GitLab as of `now` (the time stamped on every finding). Fails
/// as a whole on any error; nothing is returned to apply then.
pub async fn reconcile_project(
    client: &GitLabClient,
    budget: &Budget,
    recorded: &Recorded<'_>,
    watermark: Watermark,
    images: Option<Images<'_>>,
    now: DateTime<Utc>,
) -> Result<Reconciliation, ReconcileError> {
    let path = recorded.project.map(|p| p.path.as_str());
    let (settings, api) = project_api(client, budget, recorded.project_id, path);
    let concurrency = client.settings().concurrency;
    let branches = branch_list(&api).await?;
    let to_confirm = branches_to_confirm(recorded.refs, &branches, limits(&settings))?;
    let confirmations = confirm(&api, &to_confirm, concurrency).await?;

    let s = client.settings();
    let first_seen = recorded.project.map(|p| p.first_seen);
    let from = |mark| list_from(mark, first_seen, s.watermark_overlap, s.first_window, now);
    let (mut merge_requests, mr_mark) = merge_requests_since(
        &api,
        recorded,
        watermark.merge_requests,
        from(watermark.merge_requests),
    )
    .await?;
    let listed = api.pipelines(Some(from(watermark.pipelines))).await?;
    let pipeline_mark = advance(
        watermark.pipelines,
        listed.items.iter().map(|p| (p.id, p.updated_at)),
    );
    let pipelines = pipelines_and_their_merge_requests(
        &api,
        recorded,
        &listed.items,
        &mut merge_requests,
        concurrency,
    )
    .await?;
    let observed = Observed {
        branches,
        confirmations,
        merge_requests,
        pipelines,
        watermark: Watermark {
            merge_requests: mr_mark,
            pipelines: pipeline_mark,
        },
    };
    let stamp = Stamp {
        source: Source::Reconciliation,
        at: now,
    };
    reconcile(recorded, &observed, images, limits(&settings), stamp)
}

/// What an import needs besides the client.
#[derive(Debug, Clone, Copy)]
pub struct ImportRequest<'a> {
    pub recorded: Recorded<'a>,
    pub config: &'a ProjectConfig,
    /// Pipelines updated within this long before `now` are imported.
    pub since: TimeDelta,
    pub now: DateTime<Utc>,
}

/// Imports one project's pipelines of the window. Fails as a whole on any error, and when the
/// window holds more pipelines than the page limit allows to read.
pub async fn import_project(
    client: &GitLabClient,
    budget: &Budget,
    request: ImportRequest<'_>,
) -> Result<Import, ReconcileError> {
    let recorded = &request.recorded;
    let path = recorded.project.map(|p| p.path.as_str());
    let (settings, api) = project_api(client, budget, recorded.project_id, path);
    let concurrency = client.settings().concurrency;
    let project = api.project().await?;
    let branches = branch_list(&api).await?;
    let from = request.now - request.since;
    let listed = api.pipelines(Some(from)).await?;
    let mr_listing = api.merge_requests(Some(from)).await?;
    if !listed.complete || !mr_listing.complete {
        return Err(ReconcileError::Api(GitLabError::TooManyPages {
            path: format!(
                "/projects/{}/pipelines (import window)",
                recorded.project_id
            ),
            max_pages: settings.max_pages,
        }));
    }
    let mut merge_requests = mr_listing.items;
    let pipelines = pipelines_and_their_merge_requests(
        &api,
        recorded,
        &listed.items,
        &mut merge_requests,
        concurrency,
    )
    .await?;
    let images = Images {
        config: request.config,
        registry: request.config.registry_host(),
        project_path: &project.path_with_namespace,
        default_branch: project.default_branch.as_deref(),
    };
    let input = ImportInput {
        recorded: *recorded,
        project: &project,
        images,
        branches: &branches,
        merge_requests: &merge_requests,
        pipelines: &pipelines,
    };
    let to_confirm = import_branches_to_confirm(&input, limits(&settings))?;
    let confirmations = confirm(&api, &to_confirm, concurrency).await?;
    let stamp = Stamp {
        source: Source::Import,
        at: request.now,
    };
    import(&input, &confirmations, stamp)
}

/// Reads the project's hooks and running pipelines and judges the hook that feeds registry-gc.
/// Needs `gitlab.hook_url` and a token allowed to read hooks (Maintainer).
pub async fn check_hook(
    client: &GitLabClient,
    budget: &Budget,
    project_id: i64,
    path: Option<&str>,
    last_delivery: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<HookHealth, GitLabError> {
    let daemon = client
        .settings()
        .hook_url
        .clone()
        .ok_or_else(|| GitLabError::Settings("gitlab.hook_url: not set".into()))?;
    let (settings, api) = project_api(client, budget, project_id, path);
    let hooks = api.hooks().await?;
    let running = api.clone().with_max_pages(1).running_pipelines().await?;
    Ok(hook_health(
        &hooks,
        &daemon,
        last_delivery,
        &running.items,
        settings.silence_warning,
        now,
    ))
}

/// Bulk pushes (no push hooks sent) of the project after `since`: reconcile it now if any.
pub async fn bulk_pushes_since(
    client: &GitLabClient,
    budget: &Budget,
    project_id: i64,
    since: DateTime<Utc>,
) -> Result<Vec<BulkPush>, GitLabError> {
    let api = client.project(project_id, budget);
    // `after` is a date and exclusive: start the day before, then filter by time.
    let after = (since - TimeDelta::days(1)).date_naive();
    let events = api.push_events(after).await?;
    Ok(bulk_pushes(&events.items, Some(since)))
}
