//! Payload values no database can take, or that used to panic: 400 naming the field, nothing
//! written, and the server keeps answering. The same answer on SQLite and on Postgres.

use serde_json::{json, Value};

use super::{hostile_toml, post_webhook, project_count};
use crate::support::app::{TestApp, ADMIN, TOKEN};
use crate::support::db::both_backends;
use crate::support::gitlab::{self, sha};

/// Posts a pipeline hook whose attributes were changed by `edit`; the answer.
async fn pipeline_with(app: &TestApp, edit: impl FnOnce(&mut Value)) -> (u16, Value) {
    let mut body = gitlab::pipeline(700, "main", &sha(7), "running", false, None);
    edit(&mut body["object_attributes"]);
    post_webhook(app, Some(TOKEN), "Pipeline Hook", body.to_string()).await
}

fn assert_names(answer: &(u16, Value), field: &str) {
    let (status, body) = answer;
    let message = body["message"].as_str().unwrap_or_default();
    assert_eq!(*status, 400, "{body}");
    assert!(
        message.starts_with(field),
        "expected {field:?} first in {message:?}"
    );
    assert!(
        message.len() < 300,
        "the value is not echoed back: {} bytes",
        message.len()
    );
}

both_backends! {
    async fn a_multibyte_sha_is_a_400_not_a_panic(backend: Backend) {
        let app = TestApp::spawn_with(backend, &hostile_toml("", "")).await;
        let multibyte = format!("{}é", "a".repeat(7));
        let answer = pipeline_with(&app, |a| a["sha"] = json!(multibyte)).await;
        assert_names(&answer, "object_attributes.sha: not a commit SHA");
        for bad in ["", "abc", &"a".repeat(41), &"g".repeat(40), &"😀".repeat(10)] {
            let answer = pipeline_with(&app, |a| a["sha"] = json!(bad)).await;
            assert_names(&answer, "object_attributes.sha");
        }
        let mut push = gitlab::push("main", &gitlab::zeros(), &sha(1), &[sha(1)]);
        push["checkout_sha"] = json!("ééééé");
        let answer = post_webhook(&app, Some(TOKEN), "Push Hook", push.to_string()).await;
        assert_names(&answer, "checkout_sha");
        assert_eq!(project_count(&app).await, 0);
        // Still serving, and SHA-256 commits work.
        let answer = pipeline_with(&app, |a| a["sha"] = json!("ab".repeat(32))).await;
        assert_eq!((answer.0, answer.1["status"].as_str()), (200, Some("recorded")), "{}", answer.1);
        let tags = app.api("/api/v1/projects/42/tags").await;
        assert!(tags["tags"].as_array().unwrap().iter().any(|t| t["tag"] == "abababab"), "{tags}");
    }

    async fn values_no_database_takes_are_400_naming_the_field(backend: Backend) {
        let app = TestApp::spawn_with(backend, &hostile_toml("", "")).await;
        let cases = [
            ("object_attributes.ref: longer than 1024", "ref", json!("r".repeat(9000))),
            ("object_attributes.ref: contains a NUL", "ref", json!("ma\0in")),
            ("object_attributes.status: contains a NUL", "status", json!("ok\0")),
            ("object_attributes.source: longer than 255", "source", json!("s".repeat(300))),
            ("object_attributes.created_at: timestamp out of range", "created_at", json!("-5000-01-01 00:00:00 +0000")),
            ("object_attributes.finished_at: timestamp out of range", "finished_at", json!("+12000-01-01 00:00:00 +0000")),
        ];
        for (field, key, value) in cases {
            let answer = pipeline_with(&app, |a| a[key] = value).await;
            assert_names(&answer, field);
        }
        let mut body = gitlab::pipeline(701, "main", &sha(7), "running", false, None);
        body["project"]["default_branch"] = json!("m".repeat(2000));
        let answer = post_webhook(&app, Some(TOKEN), "Pipeline Hook", body.to_string()).await;
        assert_names(&answer, "project.default_branch");
        body["project"]["default_branch"] = json!("main");
        body["project"]["path_with_namespace"] = json!("group/app\0");
        let answer = post_webhook(&app, Some(TOKEN), "Pipeline Hook", body.to_string()).await;
        assert_names(&answer, "project.path_with_namespace: contains a NUL");
        let mut mr = gitlab::merge_request(5, "topic", "opened", "open", "2026-11-20 10:00:00 UTC");
        mr["object_attributes"]["source_branch"] = json!("x".repeat(5000));
        let answer = post_webhook(&app, Some(TOKEN), "Merge Request Hook", mr.to_string()).await;
        assert_names(&answer, "object_attributes.source_branch");
        assert_eq!(project_count(&app).await, 0, "a rejected delivery wrote something");
    }

    async fn over_long_delivery_keys_are_kept_as_a_hash(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let body = gitlab::pipeline(702, "main", &sha(7), "running", false, None);
        // Random, so it does not compress below Postgres's index row limit.
        let key: String = (0..200).map(|_| uuid::Uuid::new_v4().simple().to_string()).collect();
        let (status, answer) = app.deliver("Pipeline Hook", &body, Some(&key)).await;
        assert_eq!((status, answer["status"].as_str()), (200, Some("recorded")), "{answer}");
        let (status, answer) = app.deliver("Pipeline Hook", &body, Some(&key)).await;
        assert_eq!((status, answer["status"].as_str()), (200, Some("duplicate")), "{answer}");
    }

    async fn api_text_no_database_takes_is_a_400(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (status, _) = app.deliver("Pipeline Hook", &gitlab::pipeline(703, "main", &sha(7), "running", false, None), None).await;
        assert_eq!(status, 200);
        for path in [
            "/api/v1/projects/group%00app/tags",
            "/api/v1/projects/42/tags?ref=ma%00in",
            "/api/v1/plan?project=gr%00oup",
        ] {
            let response = app.http.get(app.url(path)).bearer_auth(ADMIN).send().await.unwrap();
            assert_eq!(response.status(), 400, "{path}");
        }
        let long = format!("/api/v1/projects/{}/refs", "g".repeat(5000));
        let response = app.http.get(app.url(&long)).bearer_auth(ADMIN).send().await.unwrap();
        assert_eq!(response.status(), 400);
    }
}
