//! GitLab webhook bodies for tests: the recorded fixtures in `tests/fixtures/gitlab`, with only the
//! values a scenario needs changed (project, refs, SHAs, ids, statuses, times).

use serde_json::{json, Value};

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/gitlab/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("fixture is JSON")
}

/// The project object of `group/app` (id 42).
fn set_project(body: &mut Value) {
    body["project"]["id"] = json!(42);
    body["project"]["path_with_namespace"] = json!("group/app");
    body["project"]["default_branch"] = json!("main");
    if body.get("project_id").is_some() {
        body["project_id"] = json!(42);
    }
}

/// A 40-hex SHA made from a small number, readable in failures.
pub fn sha(n: u32) -> String {
    format!("{n:08x}{}", "c0ffee".repeat(6))
        .chars()
        .take(40)
        .collect()
}

/// Push Hook for `branch`; `before`/`after` may be all zeros (create/delete).
pub fn push(branch: &str, before: &str, after: &str, commits: &[String]) -> Value {
    let mut body = fixture("push");
    set_project(&mut body);
    body["ref"] = json!(format!("refs/heads/{branch}"));
    body["before"] = json!(before);
    body["after"] = json!(after);
    body["ref_protected"] = json!(branch == "main");
    let deleted = after.bytes().all(|b| b == b'0');
    body["checkout_sha"] = if deleted { Value::Null } else { json!(after) };
    let template = body["commits"][0].clone();
    body["commits"] = Value::Array(
        commits
            .iter()
            .map(|id| {
                let mut c = template.clone();
                c["id"] = json!(id);
                c
            })
            .collect(),
    );
    body["total_commits_count"] = json!(commits.len());
    body
}

/// Tag Push Hook creating `tag` on commit `sha`.
pub fn tag_push(tag: &str, commit: &str) -> Value {
    let mut body = fixture("tag_push");
    set_project(&mut body);
    body["ref"] = json!(format!("refs/tags/{tag}"));
    body["after"] = json!(commit);
    body["checkout_sha"] = json!(commit);
    body
}

/// Merge Request Hook.
pub fn merge_request(iid: i64, source: &str, state: &str, action: &str, updated_at: &str) -> Value {
    let mut body = fixture("merge_request");
    set_project(&mut body);
    let attrs = &mut body["object_attributes"];
    attrs["iid"] = json!(iid);
    attrs["id"] = json!(1000 + iid);
    attrs["source_branch"] = json!(source);
    attrs["target_branch"] = json!("main");
    attrs["source_project_id"] = json!(42);
    attrs["target_project_id"] = json!(42);
    attrs["state"] = json!(state);
    attrs["action"] = json!(action);
    attrs["updated_at"] = json!(updated_at);
    body
}

/// Pipeline Hook; `mr` = Some(iid) for a merge request pipeline (ref = its source branch).
pub fn pipeline(
    id: i64,
    git_ref: &str,
    commit: &str,
    status: &str,
    tag: bool,
    mr: Option<i64>,
) -> Value {
    let mut body = fixture("pipeline");
    set_project(&mut body);
    let attrs = &mut body["object_attributes"];
    attrs["id"] = json!(id);
    attrs["iid"] = json!(id - 100);
    attrs["ref"] = json!(git_ref);
    attrs["tag"] = json!(tag);
    attrs["sha"] = json!(commit);
    attrs["before_sha"] = json!("0".repeat(40));
    attrs["status"] = json!(status);
    attrs["source"] = json!(if mr.is_some() {
        "merge_request_event"
    } else {
        "push"
    });
    attrs["created_at"] = json!("2026-11-20 10:00:00 UTC");
    let finished = ["success", "failed", "canceled", "skipped"].contains(&status);
    attrs["finished_at"] = if finished {
        json!("2026-11-20 10:05:00 UTC")
    } else {
        Value::Null
    };
    body["commit"]["id"] = json!(commit);
    match mr {
        Some(iid) => {
            body["merge_request"]["iid"] = json!(iid);
            body["merge_request"]["source_branch"] = json!(git_ref);
            body["merge_request"]["target_branch"] = json!("main");
            body["merge_request"]["source_project_id"] = json!(42);
            body["merge_request"]["target_project_id"] = json!(42);
        }
        None => body["merge_request"] = Value::Null,
    }
    body
}

pub fn zeros() -> String {
    "0".repeat(40)
}
