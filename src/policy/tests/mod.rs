//! Policy tests: tables of cases per rule family, the plan's JSON and totals, and a property test
//! over random histories. Everything runs in memory; the whole suite takes well under 10 s.

mod branch;
mod commit;
mod in_use;
mod prod;
mod props;
mod world;

use chrono::TimeDelta;
use figment::providers::{Format, Toml};
use figment::Figment;
use serde::Deserialize;

use world::{World, CI};

use super::{Action, RetentionOverrides, RetentionSettings};
use crate::model::{PipelineStatus, TagKind};

#[test]
fn plan_serializes_codes_messages_and_totals() {
    let mut w = World::new();
    w.commit("c1", 1234, PipelineStatus::Success, 900, "d1");
    w.commit("c2", 1235, PipelineStatus::Running, 990, "d2");
    w.snapshot
        .repositories
        .get_mut(CI)
        .unwrap()
        .sizes
        .insert("d1".into(), 1000);
    let plan = w.plan();
    let json = serde_json::to_value(&plan).unwrap();

    let action = &json["actions"][0];
    assert_eq!(action["action"], "delete-image");
    assert_eq!(action["tags"][0]["reason"]["code"], "ci-commit-finished");
    assert_eq!(
        action["tags"][0]["reason"]["message"],
        "pipeline 1234 finished at 2026-12-08T12:00:00Z, grace 1h passed"
    );
    let kept = &json["kept"][0]["reason"];
    assert_eq!(kept["code"], "pipeline-unfinished");
    assert_eq!(kept["message"], "kept: pipeline 1235 still running");
    assert_eq!(json["totals"]["bytes_unreferenced"], 1000);
    assert_eq!(json["totals"]["tags_kept"], 1);
    assert_eq!(json["totals"]["tags_removed"], 1);
}

#[test]
fn reason_codes_match_their_json() {
    let mut w = World::new();
    w.deleted_branch("Feature/X", 0, 900);
    w.branch_tag("Feature/X", 1, 10, "d1");
    w.branch("feature_x", 950);
    w.commit("c1", 2, PipelineStatus::Success, 900, "d2");
    w.commit("c2", 3, PipelineStatus::Success, 999, "d3");
    w.policy.default.ci_commit_grace = TimeDelta::hours(2);
    let plan = w.plan();
    let messages: Vec<String> = plan.kept.iter().map(|k| k.reason.to_string()).collect();
    assert_eq!(
        messages,
        [
            "kept: pipeline 3 finished at 2026-12-12T15:00:00Z, grace 2h not yet passed",
            "kept: another live branch feature_x maps to slug feature-x",
        ]
    );
    for kept in &plan.kept {
        assert_eq!(
            serde_json::to_value(kept).unwrap()["reason"]["code"],
            kept.reason.code()
        );
    }
    for action in &plan.actions {
        for (_, reason) in action.tags() {
            assert_eq!(serde_json::to_value(reason).unwrap()["code"], reason.code());
        }
    }
    assert!(matches!(plan.actions[0], Action::DeleteImage { .. }));
}

#[test]
fn toml_config_layers_resolve() {
    #[derive(Deserialize)]
    struct Config {
        retention: RetentionOverrides,
        project: RetentionOverrides,
        image: RetentionOverrides,
    }
    let config: Config = Figment::from(Toml::string(
        r#"
        [retention]
        branch_grace = "48h"
        keep_patterns = ["^latest$"]
        [project]
        untracked_max_age = "90d"
        [image]
        keep_prod = 10
        extra_keep_patterns = ["^stable-"]
        "#,
    ))
    .extract()
    .unwrap();
    let global = config.retention.apply(&RetentionSettings::default());
    let image = config.image.apply(&config.project.apply(&global));
    assert_eq!(image.branch_grace, TimeDelta::hours(48));
    assert_eq!(image.untracked_max_age, Some(TimeDelta::days(90)));
    assert_eq!(image.keep_prod, 10);
    assert_eq!(
        image.keep_patterns.as_strs().collect::<Vec<_>>(),
        ["^latest$", "^stable-"]
    );
}

#[test]
fn prod_current_digest_is_never_untagged() {
    let mut w = World::new();
    w.prod_deploy(1, 900, "p1");
    w.record(world::APP, "prod", TagKind::ProdCurrent, 1, "main", 900)
        .listed_on("p1");
    w.listed(world::APP, "old-alias", "p1", Some(0));
    w.policy.default.untracked_max_age = Some(TimeDelta::hours(1));
    let plan = w.plan();
    assert!(plan.actions.is_empty(), "{:?}", plan.actions);
    assert_eq!(
        world::kept(&plan)[0],
        ("g/app:old-alias".to_owned(), "prod-current-digest")
    );
}
