//! Table tests of the pure reconciliation and import: records and API answers in, changes (shown
//! as short strings) or the refusal out.

mod branches;
mod import;
mod records;

use chrono::{DateTime, TimeDelta, Utc};

use super::*;
use crate::config::{Config, ProjectConfig};
use crate::gitlab::api::{Branch, BranchCommit, MergeRequest, Pipeline, PipelineDetail};
use crate::gitlab::finding::Source;
use crate::model::{MrState, PipelineStatus, RefKind, RefState};

pub(super) const PROJECT: i64 = 42;

/// 2026-11-20 00:00 UTC plus `hours`.
pub(super) fn t(hours: i64) -> DateTime<Utc> {
    "2026-11-20T00:00:00Z".parse::<DateTime<Utc>>().unwrap() + TimeDelta::hours(hours)
}

/// Reconciliation at hour 100.
pub(super) fn stamp() -> Stamp {
    Stamp {
        source: Source::Reconciliation,
        at: t(100),
    }
}

pub(super) fn sha(n: u32) -> String {
    format!("{n:040x}")
}

pub(super) fn ref_record(name: &str, state: RefState, updated: i64) -> RefRecord {
    RefRecord {
        project_id: PROJECT,
        kind: RefKind::Branch,
        name: name.into(),
        slug: crate::model::slugify(name),
        state,
        protected: false,
        last_sha: Some(sha(1)),
        created_at: Some(t(0)),
        deleted_at: (state == RefState::Deleted).then(|| t(updated)),
        deleted_by: None,
        last_pipeline_at: None,
        updated_at: t(updated),
    }
}

pub(super) fn branch(name: &str) -> Branch {
    Branch {
        name: name.into(),
        commit: BranchCommit {
            id: sha(2),
            committed_date: None,
        },
        merged: false,
        protected: name == "main",
        default: name == "main",
        web_url: None,
    }
}

pub(super) fn list(names: &[&str]) -> BranchList {
    BranchList {
        branches: names.iter().map(|n| branch(n)).collect(),
        total: Some(names.len() as u64),
    }
}

pub(super) fn mr(iid: i64, branch: &str, state: &str, updated: i64) -> MergeRequest {
    MergeRequest {
        id: 1000 + iid,
        iid,
        project_id: PROJECT,
        state: state.into(),
        source_branch: branch.into(),
        target_branch: "main".into(),
        source_project_id: PROJECT,
        target_project_id: PROJECT,
        updated_at: t(updated),
        created_at: Some(t(0)),
        merged_at: (state == "merged").then(|| t(updated)),
        closed_at: (state == "closed").then(|| t(updated)),
        sha: None,
        web_url: None,
    }
}

pub(super) fn mr_record(
    iid: i64,
    branch: &str,
    state: MrState,
    updated: i64,
) -> MergeRequestRecord {
    MergeRequestRecord {
        project_id: PROJECT,
        iid,
        id: Some(1000 + iid),
        source_branch: branch.into(),
        target_branch: "main".into(),
        state,
        merged_at: (state == MrState::Merged).then(|| t(updated)),
        closed_at: (state == MrState::Closed).then(|| t(updated)),
        updated_at: Some(t(updated)),
    }
}

pub(super) fn pipeline(id: i64, git_ref: &str, status: &str, updated: i64) -> Pipeline {
    Pipeline {
        id,
        iid: Some(id - 100),
        project_id: PROJECT,
        sha: sha(id as u32),
        git_ref: git_ref.into(),
        status: status.into(),
        source: Some("push".into()),
        created_at: Some(t(updated - 1)),
        updated_at: t(updated),
        web_url: None,
    }
}

pub(super) fn detail(
    id: i64,
    git_ref: &str,
    status: &str,
    updated: i64,
    tag: bool,
) -> PipelineDetail {
    PipelineDetail {
        pipeline: pipeline(id, git_ref, status, updated),
        tag,
        before_sha: None,
        started_at: None,
        finished_at: PipelineStatus::is_finished(status.parse().unwrap_or(PipelineStatus::Created))
            .then(|| t(updated)),
        duration: None,
    }
}

pub(super) fn pipeline_record(
    id: i64,
    git_ref: &str,
    status: PipelineStatus,
    updated: i64,
) -> PipelineRecord {
    PipelineRecord {
        project_id: PROJECT,
        id,
        iid: Some(id - 100),
        ref_name: git_ref.into(),
        tag: false,
        sha: sha(id as u32).into(),
        source: Some("push".into()),
        status,
        merge_request_iid: None,
        created_at: Some(t(updated - 1)),
        finished_at: None,
        updated_at: t(updated),
    }
}

/// The test project's configuration: a commit tag, a branch tag, and prod tags on main.
pub(super) fn project_config() -> ProjectConfig {
    let toml = r#"
[[projects]]
path = "group/app"
id = 42
webhook_tokens = ["t"]
registry = "registry.example.com"
[[projects.images]]
name = "ci-commit"
kind = "ci-commit"
image = "$CI_REGISTRY_IMAGE/app-ci:$CI_COMMIT_SHA"
[[projects.images]]
name = "ci-branch"
kind = "ci-branch"
image = "$CI_REGISTRY_IMAGE/app-ci:$CI_COMMIT_REF_SLUG"
[[projects.images]]
name = "prod"
kind = "prod-current"
image = "$CI_REGISTRY_IMAGE/app:prod"
refs = ["^$CI_DEFAULT_BRANCH$"]
"#;
    Config::from_toml(toml).unwrap().projects.remove(0)
}

pub(super) fn images(config: &ProjectConfig) -> Images<'_> {
    Images {
        config,
        registry: "registry.example.com",
        project_path: "group/app",
        default_branch: Some("main"),
    }
}

pub(super) const LIMITS: ShrinkLimits = ShrinkLimits {
    ratio: 0.5,
    min_missing: 3,
};

/// A change as a short string, for tables.
pub(super) fn show(found: &Found) -> String {
    match &found.change {
        Change::RefPushed { name, .. } => format!("live {name}"),
        Change::RefDeleted { name, .. } => format!("deleted {name}"),
        Change::Pipeline(p) => format!("pipeline {} {} {}", p.id, p.ref_name, p.status),
        Change::MergeRequest { record, .. } => format!("mr !{} {}", record.iid, record.state),
        Change::ImageTag(t) => format!("tag {}:{}", t.repository, t.tag),
    }
}

pub(super) fn shown(found: &[Found]) -> Vec<String> {
    found.iter().map(show).collect()
}
