//! Table: prod tags (keep the last K, digest equality with the current one) and untracked tags.

use chrono::TimeDelta;

use super::world::{run, Case, World, APP, CI};
use crate::model::{PipelineStatus, TagKind};
use crate::policy::RetentionSettings;

/// Deploys by pipelines 1..=5 on digests p1..p5; `prod` points at p5.
fn five_deploys(w: &mut World) {
    for pipeline in 1..=5 {
        w.prod_deploy(pipeline, 800 + pipeline, &format!("p{pipeline}"));
    }
    w.record(APP, "prod", TagKind::ProdCurrent, 5, "main", 805)
        .listed_on("p5");
}

/// What [`five_deploys`] keeps with the default K = 3.
const FIVE_DEPLOYS_KEPT: &[(&str, &str)] = &[
    ("g/app:prod", "prod-current"),
    ("g/app:prod-2", "prod-recent"),
    ("g/app:prod-3", "prod-recent"),
    ("g/app:prod-4", "prod-recent"),
    ("g/app:prod-5", "prod-current-digest"),
];

fn untracked_max_age(days: i64) -> RetentionSettings {
    RetentionSettings {
        untracked_max_age: Some(TimeDelta::days(days)),
        ..RetentionSettings::default()
    }
}

const CASES: &[Case] = &[
    Case {
        name: "keep the current prod and the last 3 deploys besides it",
        build: five_deploys,
        actions: &["delete g/app@p1 prod-1"],
        kept: FIVE_DEPLOYS_KEPT,
    },
    Case {
        name: "keep_prod = 0 for the prod rule: only the current image stays",
        build: |w| {
            let settings = RetentionSettings {
                keep_prod: 0,
                ..RetentionSettings::default()
            };
            w.policy.per_rule.insert("prod".into(), settings);
            five_deploys(w);
        },
        actions: &[
            "delete g/app@p1 prod-1",
            "delete g/app@p2 prod-2",
            "delete g/app@p3 prod-3",
            "delete g/app@p4 prod-4",
        ],
        kept: &[
            ("g/app:prod", "prod-current"),
            ("g/app:prod-5", "prod-current-digest"),
        ],
    },
    Case {
        name: "deploys missing from the registry do not count towards K",
        build: |w| {
            five_deploys(w);
            w.pipeline(6, "main", PipelineStatus::Success, 806, 806);
            w.record(APP, "prod-6", TagKind::ProdCommit, 6, "main", 806);
        },
        actions: &["delete g/app@p1 prod-1"],
        kept: FIVE_DEPLOYS_KEPT,
    },
    Case {
        name: "a rollback: prod points at an old deploy, which stays",
        build: |w| {
            for pipeline in 1..=5 {
                w.prod_deploy(pipeline, 800 + pipeline, &format!("p{pipeline}"));
            }
            w.record(APP, "prod", TagKind::ProdCurrent, 7, "main", 900)
                .listed_on("p1");
            w.pipeline(7, "main", PipelineStatus::Success, 900, 900);
        },
        actions: &["delete g/app@p2 prod-2"],
        kept: &[
            ("g/app:prod", "prod-current"),
            ("g/app:prod-1", "prod-current-digest"),
            ("g/app:prod-3", "prod-recent"),
            ("g/app:prod-4", "prod-recent"),
            ("g/app:prod-5", "prod-recent"),
        ],
    },
    Case {
        name: "untracked tags are left alone by default",
        build: |w| w.listed(CI, "manual-push", "d1", Some(100)),
        actions: &[],
        kept: &[("g/app-ci:manual-push", "untracked")],
    },
    Case {
        name: "untracked max age per repository",
        build: |w| {
            w.policy
                .per_repository
                .insert(CI.into(), untracked_max_age(30));
            w.listed(CI, "old", "d1", Some(200));
            w.listed(CI, "edge", "d2", Some(280));
            w.listed(CI, "recent", "d3", Some(900));
            w.listed(CI, "unknown", "d4", None);
            w.listed(APP, "elsewhere", "d5", Some(100));
        },
        actions: &["delete g/app-ci@d2 edge", "delete g/app-ci@d1 old"],
        kept: &[
            ("g/app:elsewhere", "untracked"),
            ("g/app-ci:recent", "untracked-young"),
            ("g/app-ci:unknown", "age-unknown"),
        ],
    },
    Case {
        name: "untracked settings follow the one image rule of the repository",
        build: |w| {
            w.policy.per_rule.insert("ci".into(), untracked_max_age(1));
            w.commit("c1", 1, PipelineStatus::Running, 990, "d1");
            w.listed(CI, "stray", "d2", Some(900));
            w.listed(CI, "fresh", "d3", Some(999));
        },
        actions: &["delete g/app-ci@d2 stray"],
        kept: &[
            ("g/app-ci:c1", "pipeline-unfinished"),
            ("g/app-ci:fresh", "too-young"),
        ],
    },
    Case {
        name: "untracked tag sharing a digest with a deletable one is untagged",
        build: |w| {
            w.policy.default.untracked_max_age = Some(TimeDelta::days(1));
            w.commit("c1", 1, PipelineStatus::Success, 900, "d1");
            w.listed(CI, "alias", "d1", Some(100));
            w.commit("c2", 2, PipelineStatus::Success, 900, "d2");
            w.listed(CI, "latest", "d2", Some(100));
        },
        actions: &["delete g/app-ci@d1 alias,c1", "untag g/app-ci:c2"],
        kept: &[("g/app-ci:latest", "keep-pattern")],
    },
];

#[test]
fn prod_and_untracked_table() {
    run(CASES);
}
