//! The webhook scenario of a feature branch's life, posted to the real server and checked through
//! the read API and the database rows, on SQLite and on Postgres.

use serde_json::Value;

use crate::support::app::TestApp;
use crate::support::db::both_backends;
use crate::support::gitlab::{self, sha, zeros};

fn strings(values: &Value, field: &str) -> Vec<String> {
    let mut out: Vec<String> = values
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v[field].as_str().expect("string field").to_owned())
        .collect();
    out.sort();
    out.dedup();
    out
}

async fn ok(app: &TestApp, header: &str, body: Value) -> Value {
    let (status, answer) = app.deliver(header, &body, None).await;
    assert_eq!(status, 200, "{header}: {answer}");
    answer
}

/// Branch created, three pipelines (one failed), an MR opened and merged, the branch deleted, a
/// late pipeline event, a tag push with its pipeline.
async fn feature_branch_life(app: &TestApp) {
    let branch = "Feature/Login_Page";
    ok(
        app,
        "Push Hook",
        gitlab::push(branch, &zeros(), &sha(1), &[sha(1)]),
    )
    .await;
    for (id, commit, statuses) in [
        (201, sha(1), &["created", "running", "success"][..]),
        (202, sha(2), &["running", "failed"][..]),
        (203, sha(3), &["running", "success"][..]),
    ] {
        if id > 201 {
            ok(
                app,
                "Push Hook",
                gitlab::push(
                    branch,
                    &sha(id as u32 - 202 + 1),
                    &commit,
                    std::slice::from_ref(&commit),
                ),
            )
            .await;
        }
        for status in statuses {
            ok(
                app,
                "Pipeline Hook",
                gitlab::pipeline(id, branch, &commit, status, false, None),
            )
            .await;
        }
    }
    ok(
        app,
        "Merge Request Hook",
        gitlab::merge_request(7, branch, "opened", "open", "2026-11-20T10:10:00Z"),
    )
    .await;
    ok(
        app,
        "Pipeline Hook",
        gitlab::pipeline(204, branch, &sha(3), "success", false, Some(7)),
    )
    .await;
    ok(
        app,
        "Merge Request Hook",
        gitlab::merge_request(7, branch, "merged", "merge", "2026-11-20T11:00:00Z"),
    )
    .await;
    ok(
        app,
        "Push Hook",
        gitlab::push(branch, &sha(3), &"0".repeat(64), &[]),
    )
    .await;
    // A pipeline that finishes after the branch is gone must not bring the branch back.
    ok(
        app,
        "Pipeline Hook",
        gitlab::pipeline(205, branch, &sha(3), "success", false, None),
    )
    .await;
    ok(
        app,
        "Push Hook",
        gitlab::push("main", &sha(8), &sha(9), &[sha(9)]),
    )
    .await;
    ok(
        app,
        "Pipeline Hook",
        gitlab::pipeline(206, "main", &sha(9), "success", false, None),
    )
    .await;
    ok(app, "Tag Push Hook", gitlab::tag_push("v1.2.0", &sha(9))).await;
    ok(
        app,
        "Pipeline Hook",
        gitlab::pipeline(207, "v1.2.0", &sha(9), "running", true, None),
    )
    .await;
}

both_backends! {
    async fn scenario_is_recorded(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        feature_branch_life(&app).await;

        let projects = app.api("/api/v1/projects").await;
        assert_eq!(projects["projects"][0]["path"], "group/app");
        assert_eq!(projects["projects"][0]["configured"], true);

        let tags = app.api("/api/v1/projects/group/app/tags?ref=Feature/Login_Page").await["tags"].clone();
        let mut expected = vec![sha(1), sha(2), sha(3), "feature-login-page".to_owned()];
        expected.sort();
        assert_eq!(strings(&tags, "tag"), expected);
        assert_eq!(strings(&tags, "repository"), vec!["group/app/app-ci"]);
        assert!(tags.as_array().unwrap().iter().all(|t| t["digest"].is_null()), "digests unknown until the registry is read");
        let commit_tags = app.api("/api/v1/projects/42/tags?ref=Feature/Login_Page&kind=ci-commit").await["tags"].clone();
        assert_eq!(strings(&commit_tags, "tag"), vec![sha(1), sha(2), sha(3)]);
        // sha(3) was built by a branch pipeline, its MR pipeline and the late one: one row each.
        let pipelines_of_sha3: Vec<i64> = commit_tags.as_array().unwrap().iter()
            .filter(|t| t["tag"] == sha(3)).map(|t| t["pipeline_id"].as_i64().unwrap()).collect();
        assert_eq!(pipelines_of_sha3, vec![203, 204, 205]);

        let prod = app.api("/api/v1/projects/group%2Fapp/tags?kind=prod-commit").await["tags"].clone();
        assert_eq!(strings(&prod, "repository"), vec!["group/app/app"]);
        assert_eq!(strings(&prod, "tag"), vec![format!("prod-{}", sha(9))]);
        let release = app.api("/api/v1/projects/group/app/tags?ref=v1.2.0").await["tags"].clone();
        assert_eq!(strings(&release, "ref_kind"), vec!["tag"]);

        let refs = app.api("/api/v1/projects/group/app/refs").await["refs"].clone();
        let find = |name: &str| refs.as_array().unwrap().iter().find(|r| r["name"] == name).cloned().unwrap();
        let feature = find("Feature/Login_Page");
        assert_eq!(feature["state"], "deleted");
        assert_eq!(feature["slug"], "feature-login-page");
        assert!(feature["deleted_at"].is_string());
        assert_eq!(find("main")["protected"], true);
        assert_eq!(find("v1.2.0")["kind"], "tag");
        assert_eq!(find("v1.2.0")["state"], "live");

        let pipelines = app.api("/api/v1/projects/group/app/pipelines").await["pipelines"].clone();
        let status = |id: i64| pipelines.as_array().unwrap().iter().find(|p| p["id"] == id).unwrap()["status"].clone();
        assert_eq!(status(201), "success");
        assert_eq!(status(202), "failed");
        assert_eq!(status(207), "running");

        let mrs = app.api("/api/v1/projects/group/app/merge_requests").await["merge_requests"].clone();
        assert_eq!(mrs[0]["iid"], 7);
        assert_eq!(mrs[0]["state"], "merged");
        assert_eq!(mrs[0]["merged_at"].as_str().unwrap()[..19], *"2026-11-20T11:00:00");

        let refs = app.store.refs(42).await.unwrap();
        let login = refs.iter().find(|r| r.name == "Feature/Login_Page").unwrap();
        assert_eq!(login.last_sha.as_deref(), Some(sha(3).as_str()), "the ref points at the last commit pushed");
    }

    async fn duplicates_change_nothing(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let body = gitlab::pipeline(301, "main", &sha(1), "running", false, None);
        let (status, first) = app.deliver("Pipeline Hook", &body, Some("key-301")).await;
        assert_eq!((status, first["status"].as_str()), (200, Some("recorded")));
        // GitLab's "Resend Request" carries the same Idempotency-Key.
        let (status, again) = app.deliver("Pipeline Hook", &body, Some("key-301")).await;
        assert_eq!((status, again["status"].as_str()), (200, Some("duplicate")));
        // Same key even if the body differs: it is the same event by GitLab's word.
        let later = gitlab::pipeline(301, "main", &sha(1), "success", false, None);
        let (_, answer) = app.deliver("Pipeline Hook", &later, Some("key-301")).await;
        assert_eq!(answer["status"], "duplicate");
        let pipelines = app.store.pipelines(42).await.unwrap();
        assert_eq!(pipelines[0].status.as_str(), "running", "the duplicate changed nothing");
        // Without an idempotency key, a new event UUID with the same body is a distinct delivery
        // (older GitLab): it is applied, and applying it twice changes nothing more.
        let (_, answer) = app.deliver("Pipeline Hook", &later, None).await;
        assert_eq!(answer["status"], "recorded");
        assert_eq!(app.store.pipelines(42).await.unwrap()[0].status.as_str(), "success");
    }
}

both_backends! {
    async fn system_hooks_use_the_system_token(backend: Backend) {
        let toml = crate::support::app::project_toml("registry.example.com", "")
            .replace("[server]\n", "[server]\nsystem_hook_tokens = [\"system-hook-secret\"]\n");
        let app = TestApp::spawn_with(backend, &toml).await;
        let body = gitlab::push("topic", &zeros(), &sha(4), &[sha(4)]);
        let response = app
            .http
            .post(app.url("/webhooks/gitlab"))
            .header("X-Gitlab-Event", "System Hook")
            .header("X-Gitlab-Token", "system-hook-secret")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let refs = app.api("/api/v1/projects/group/app/refs").await["refs"].clone();
        assert_eq!(refs[0]["name"], "topic");
    }
}
