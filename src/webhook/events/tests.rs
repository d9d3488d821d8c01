use super::*;
use crate::config::Config;
use serde_json::json;

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/gitlab/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn project() -> ProjectConfig {
    let config = Config::from_toml(
        r#"
        [[projects]]
        id = 1
        webhook_tokens = ["t"]
        registry = "registry.example.com"
        [[projects.images]]
        name = "ci"
        kind = "ci-commit"
        image = "registry.example.com/gitlab-org/gitlab-test/app-ci:$CI_COMMIT_SHA"
        [[projects.images]]
        name = "cache"
        kind = "ci-branch"
        image = "$CI_REGISTRY_IMAGE/app-ci:$CI_COMMIT_REF_SLUG"
        [[projects.images]]
        name = "prod"
        kind = "prod-commit"
        image = "registry.example.com/gitlab-org/gitlab-test/app:prod-$CI_COMMIT_SHA"
        refs = ["^$CI_DEFAULT_BRANCH$"]
        [[projects.images]]
        name = "release"
        kind = "prod-commit"
        image = "registry.example.com/gitlab-org/gitlab-test/app:$CI_COMMIT_TAG"
        "#,
    )
    .unwrap();
    config.projects[0].clone()
}

fn env(kind: &str) -> Envelope<'_> {
    Envelope {
        object_kind: kind,
        delivery_key: "key".into(),
        received_at: "2026-11-22T10:00:00Z".parse().unwrap(),
    }
}

fn batch(outcome: Translation) -> Batch {
    match outcome {
        Translation::Record(b) => b,
        Translation::Ignore(why) => panic!("ignored: {why}"),
    }
}

fn tags(b: &Batch) -> Vec<(String, String, TagKind)> {
    b.changes
        .iter()
        .filter_map(|c| match c {
            Change::ImageTag(t) => Some((t.repository.to_string(), t.tag.clone(), t.kind)),
            _ => None,
        })
        .collect()
}

#[test]
fn pipeline_on_a_branch_expects_commit_and_branch_tags() {
    let mut body = fixture("pipeline");
    body["object_attributes"]["ref"] = json!("Feature/Login_Page");
    let b = batch(translate(env("pipeline"), body, &project()).unwrap());
    let sha = "bcbb5ec396a2c0f828686f14fac9b80b780504f2";
    assert_eq!(
        tags(&b),
        vec![
            (
                "gitlab-org/gitlab-test/app-ci".into(),
                sha.into(),
                TagKind::CiCommit
            ),
            (
                "gitlab-org/gitlab-test/app-ci".into(),
                "feature-login-page".into(),
                TagKind::CiBranch
            ),
        ]
    );
    let pipeline = b.changes.iter().find_map(|c| match c {
        Change::Pipeline(p) => Some(p.clone()),
        _ => None,
    });
    let pipeline = pipeline.unwrap();
    assert_eq!(pipeline.status, PipelineStatus::Success);
    assert_eq!(pipeline.merge_request_iid, Some(1));
    assert_eq!(
        pipeline.finished_at.unwrap().to_rfc3339(),
        "2016-08-12T15:26:29+00:00"
    );
    assert!(matches!(
        &b.changes[0],
        Change::MergeRequest {
            authoritative: false,
            ..
        }
    ));
}

#[test]
fn prod_rule_only_on_default_branch_and_tag_rule_only_on_tags() {
    let body = fixture("pipeline"); // ref master = default branch
    let kinds: Vec<_> = tags(&batch(
        translate(env("pipeline"), body, &project()).unwrap(),
    ));
    assert!(kinds
        .iter()
        .any(|(_, t, k)| *k == TagKind::ProdCommit && t.starts_with("prod-")));

    let mut body = fixture("pipeline");
    body["object_attributes"]["ref"] = json!("v1.2.0");
    body["object_attributes"]["tag"] = json!(true);
    let found = tags(&batch(
        translate(env("pipeline"), body, &project()).unwrap(),
    ));
    assert!(found.contains(&(
        "gitlab-org/gitlab-test/app".into(),
        "v1.2.0".into(),
        TagKind::ProdCommit
    )));
    assert!(!found.iter().any(|(_, t, _)| t.starts_with("prod-")));
}

#[test]
fn empty_slug_records_no_branch_tag() {
    let mut body = fixture("pipeline");
    body["object_attributes"]["ref"] = json!("日本語");
    let found = tags(&batch(
        translate(env("pipeline"), body, &project()).unwrap(),
    ));
    assert_eq!(found.len(), 1, "only the commit tag: {found:?}");
}

#[test]
fn branch_created_and_deleted_with_sha256_zeros() {
    let mut body = fixture("push");
    body["before"] = json!("0".repeat(64));
    body["ref"] = json!("refs/heads/feature/x");
    let b = batch(translate(env("push"), body, &project()).unwrap());
    let pushed = b
        .changes
        .iter()
        .find(|c| matches!(c, Change::RefPushed { created: true, .. }));
    assert!(pushed.is_some(), "{:?}", b.changes);
    assert_eq!(
        b.changes.len(),
        1,
        "only the ref is recorded: {:?}",
        b.changes
    );

    let mut body = fixture("push");
    body["after"] = json!("0".repeat(64));
    body["checkout_sha"] = Value::Null;
    body["commits"] = json!([]);
    body["ref"] = json!("refs/heads/feature/x");
    let b = batch(translate(env("push"), body, &project()).unwrap());
    assert_eq!(
        b.changes,
        vec![Change::RefDeleted {
            kind: RefKind::Branch,
            name: "feature/x".into(),
            at: b.received_at
        }]
    );
}

#[test]
fn tag_push_records_the_commit_not_the_tag_object() {
    let mut body = fixture("tag_push");
    body["after"] = json!("1111111111111111111111111111111111111111");
    let b = batch(translate(env("tag_push"), body, &project()).unwrap());
    assert!(b.changes.iter().any(
        |c| matches!(c, Change::RefPushed { kind: RefKind::Tag, sha, .. }
        if sha == "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7")
    ));
}

#[test]
fn merge_request_merged_and_fork_ignored() {
    let mut body = fixture("merge_request");
    body["object_attributes"]["state"] = json!("merged");
    body["object_attributes"]["action"] = json!("merge");
    body["object_attributes"]["updated_at"] = json!("2026-11-20 09:00:00 UTC");
    let b = batch(translate(env("merge_request"), body, &project()).unwrap());
    match &b.changes[..] {
        [Change::MergeRequest {
            record,
            authoritative: true,
        }] => {
            assert_eq!(record.state, MrState::Merged);
            assert_eq!(
                record.merged_at.unwrap().to_rfc3339(),
                "2026-11-20T09:00:00+00:00"
            );
            assert_eq!(record.closed_at, None);
        }
        other => panic!("{other:?}"),
    }

    let mut body = fixture("merge_request");
    body["object_attributes"]["source_project_id"] = json!(77);
    assert!(matches!(
        translate(env("merge_request"), body, &project()),
        Ok(Translation::Ignore(_))
    ));
}

#[test]
fn bad_bodies_name_the_field_and_other_events_are_ignored() {
    let mut body = fixture("pipeline");
    body["object_attributes"]
        .as_object_mut()
        .unwrap()
        .remove("sha");
    let err = translate(env("pipeline"), body, &project()).unwrap_err();
    assert!(err.contains("object_attributes.sha"), "{err}");

    let mut body = fixture("push");
    body["project"]["id"] = json!("fifteen");
    let err = translate(env("push"), body, &project()).unwrap_err();
    assert!(err.contains("project.id"), "{err}");

    assert!(matches!(
        translate(env("build"), json!({}), &project()),
        Ok(Translation::Ignore(_))
    ));
}
