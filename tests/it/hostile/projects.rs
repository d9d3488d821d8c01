//! One path, one project: a delivery with the configured path and token but another `project.id`
//! does not create a second record (409), a pinned id in the configuration wins, and a path that
//! names several recorded projects is an error wherever it is looked up, never a silent pick.

use serde_json::json;

use super::{hostile_toml, post_webhook, project_count};
use crate::support::app::{TestApp, ADMIN, TOKEN};
use crate::support::db::both_backends;
use crate::support::gitlab::{self, sha};

/// The test configuration with the project matched by path only (no pinned id).
fn path_only() -> String {
    hostile_toml("", "[gc]\nschedule = \"\"\n").replacen("id = 42\n", "", 1)
}

fn pipeline_of(project_id: i64, pipeline: i64) -> serde_json::Value {
    let mut body = gitlab::pipeline(
        pipeline,
        "main",
        &sha(pipeline as u32),
        "success",
        false,
        None,
    );
    body["project"]["id"] = json!(project_id);
    body
}

both_backends! {
    async fn another_id_for_a_known_path_is_refused(backend: Backend) {
        let app = TestApp::spawn_with(backend, &path_only()).await;
        let (status, _) = post_webhook(&app, Some(TOKEN), "Pipeline Hook", pipeline_of(42, 901).to_string()).await;
        assert_eq!(status, 200);
        let (status, answer) = post_webhook(&app, Some(TOKEN), "Pipeline Hook", pipeline_of(4242, 902).to_string()).await;
        assert_eq!((status, answer["error"].as_str()), (409, Some("conflict")), "{answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains("group/app") && message.contains("42") && message.contains("pin"), "{message}");
        assert_eq!(project_count(&app).await, 1, "no second project with the same path");
        // Case does not make it another path.
        let mut shouting = pipeline_of(4242, 903);
        shouting["project"]["path_with_namespace"] = json!("GROUP/App");
        let (status, _) = post_webhook(&app, Some(TOKEN), "Pipeline Hook", shouting.to_string()).await;
        assert_eq!(status, 409);
        // The plan still finds the one project by path.
        let plan = app.http.get(app.url("/api/v1/plan")).bearer_auth(ADMIN).send().await.unwrap();
        assert_eq!(plan.status(), 200);
        let response = app.http.get(app.url("/api/v1/projects/group/app/pipelines")).bearer_auth(ADMIN).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }

    async fn a_pinned_id_wins_and_ambiguity_is_an_error(backend: Backend) {
        // Project 42 was recorded at group/app; then GitLab re-created it as 43 and the
        // configuration pins 43.
        let app = TestApp::spawn_with(backend, &path_only()).await;
        let (status, _) = post_webhook(&app, Some(TOKEN), "Pipeline Hook", pipeline_of(42, 911).to_string()).await;
        assert_eq!(status, 200);
        let pinned = hostile_toml("", "[gc]\nschedule = \"\"\n").replacen("id = 42\n", "id = 43\n", 1);
        let first = app;
        let app = first.spawn_sharing(&pinned).await;
        let (status, answer) = post_webhook(&app, Some(TOKEN), "Pipeline Hook", pipeline_of(43, 912).to_string()).await;
        assert_eq!((status, answer["status"].as_str()), (200, Some("recorded")), "{answer}");
        let (status, _) = post_webhook(&app, Some(TOKEN), "Pipeline Hook", pipeline_of(42, 913).to_string()).await;
        assert_eq!(status, 401, "the pinned id decides which project the path is: 42 is not configured");
        assert_eq!(project_count(&app).await, 2);
        let by_id = app.api("/api/v1/projects/43/pipelines").await;
        assert_eq!(by_id["pipelines"].as_array().unwrap().len(), 1);
        let by_path = app.http.get(app.url("/api/v1/projects/group/app/pipelines")).bearer_auth(ADMIN).send().await.unwrap();
        assert_eq!(by_path.status(), 409, "two records have the path: an error, not a pick");
        let message = by_path.text().await.unwrap();
        assert!(message.contains("42") && message.contains("43"), "{message}");
        assert!(app.store.project_by_path("group/app").await.is_err());
        // The pinned project plans by id.
        let plan = app.http.get(app.url("/api/v1/plan")).bearer_auth(ADMIN).send().await.unwrap();
        assert_eq!(plan.status(), 200);

        // A configuration naming the project by path only cannot plan it: an error for that
        // project (nothing deleted there), not a pick; a run refuses it and says why.
        let app = first.spawn_sharing(&path_only()).await;
        let plan: serde_json::Value = app.http.get(app.url("/api/v1/plan")).bearer_auth(ADMIN).send().await.unwrap().json().await.unwrap();
        assert!(plan["plans"].as_array().unwrap().is_empty(), "{plan}");
        assert!(plan["errors"][0].as_str().unwrap().contains("several recorded projects"), "{plan}");
        let run = app.gc.run(registry_gc::gc::Trigger::Cli, Some(true)).await.unwrap();
        assert_eq!(run.status, registry_gc::model::RunStatus::Refused, "{:?}", run.summary);
        assert!(run.error.unwrap_or_default().contains("pin the project's id"));
    }
}

// Deliveries arriving together are committed in groups: the answers and the records must be what
// one-by-one application gives. A burst of 80 new pipelines, each posted twice with one key, plus
// deliveries that claim the project's path under another id, all at once.
both_backends! {
    async fn a_burst_is_recorded_as_one_by_one(backend: Backend) {
        let app = TestApp::spawn_with(backend, &path_only()).await;
        let (status, _) = app.deliver("Pipeline Hook", &pipeline_of(42, 1), Some("first")).await;
        assert_eq!(status, 200);
        let mut posts = Vec::new();
        for id in 1000..1080 {
            for _ in 0..2 {
                posts.push((format!("key-{id}"), pipeline_of(42, id)));
            }
        }
        for id in 2000..2010 {
            posts.push((format!("intruder-{id}"), pipeline_of(4242, id)));
        }
        let answers = futures::future::join_all(
            posts.iter().map(|(key, body)| app.deliver("Pipeline Hook", body, Some(key))),
        )
        .await;
        let mut by_key: std::collections::BTreeMap<&str, Vec<(u16, String)>> = Default::default();
        for ((key, _), (status, answer)) in posts.iter().zip(answers) {
            let said = answer["status"].as_str().or(answer["error"].as_str()).unwrap_or("-").to_owned();
            by_key.entry(key.as_str()).or_default().push((status, said));
        }
        for (key, mut got) in by_key {
            got.sort();
            let expected: Vec<(u16, String)> = if key.starts_with("intruder") {
                vec![(409, "conflict".into())]
            } else {
                vec![(200, "duplicate".into()), (200, "recorded".into())]
            };
            assert_eq!(got, expected, "{key}");
        }
        let pipelines = app.store.pipelines(42).await.unwrap();
        assert_eq!(pipelines.len(), 81, "every pipeline once");
        assert_eq!(project_count(&app).await, 1, "no second project with the same path");
        // Sent again after the burst, every key is a duplicate and changes nothing.
        let (status, answer) = app.deliver("Pipeline Hook", &pipeline_of(42, 1001), Some("key-1001")).await;
        assert_eq!((status, answer["status"].as_str()), (200, Some("duplicate")));
        assert_eq!(app.store.pipelines(42).await.unwrap().len(), 81);
    }
}
