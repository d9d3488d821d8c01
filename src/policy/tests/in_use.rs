//! Cluster protections that name their users: the kept tag's reason says who uses it, in its
//! sentence and in JSON; a multi-arch index whose child digest runs is kept too.

use super::world::{World, APP, CI};
use crate::model::PipelineStatus;
use crate::policy::{ImageUser, ImageUsers, Protections, Usage};

fn user(kind: &str, name: &str, usage: Usage) -> ImageUsers {
    ImageUsers::new([ImageUser {
        cluster: "prod".into(),
        kind: kind.into(),
        namespace: Some("shop".into()),
        name: name.into(),
        usage,
    }])
}

#[test]
fn kept_tags_name_the_object_that_uses_them() {
    let mut w = World::new();
    for pipeline in 1..=5 {
        w.prod_deploy(pipeline, 100 + pipeline, &format!("p{pipeline}"));
    }
    w.commit("c1", 10, PipelineStatus::Success, 900, "index1");
    w.policy.default.keep_prod = 2;
    let mut p = Protections::available();
    let rollback = Usage::RollbackTarget {
        revision: Some("12".into()),
    };
    p.protect_tag(APP, "prod-1", &user("ReplicaSet", "web-7d9c", rollback));
    let running = Usage::RunningDigest {
        container: "app".into(),
    };
    p.protect_digest("child-amd64", &user("Pod", "review-abc", running));
    assert!(p.protect_index("index1", ["child-arm64", "child-amd64"]));
    assert!(!p.protect_index("p2", ["child-arm64"]));
    w.protections = p;

    let plan = w.plan();
    let reason = |tag: &str| {
        let kept = plan.kept.iter().find(|k| k.tag == tag).expect("kept");
        (kept.reason.code(), kept.reason.to_string())
    };
    assert_eq!(
        reason("prod-1"),
        (
            "in-use-tag",
            "kept: rollback target: ReplicaSet shop/web-7d9c (revision 12)".into()
        )
    );
    assert_eq!(
        reason("c1"),
        (
            "in-use-digest",
            "kept: running digest in pod shop/review-abc (digest index1)".into()
        )
    );
    let deleted: Vec<&str> = plan
        .actions
        .iter()
        .flat_map(|a| a.tags())
        .map(|(tag, _)| tag)
        .collect();
    assert!(
        deleted.contains(&"prod-2") && !deleted.contains(&"prod-1"),
        "{deleted:?}"
    );
    let json = serde_json::to_value(&plan.kept).unwrap();
    let c1 = json
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["tag"] == "c1")
        .unwrap();
    assert_eq!(c1["repository"], CI);
    assert_eq!(c1["reason"]["users"]["shown"][0]["kind"], "Pod");
    assert_eq!(c1["reason"]["users"]["shown"][0]["use"], "running-digest");
    assert_eq!(c1["reason"]["users"]["total"], 1);
}
