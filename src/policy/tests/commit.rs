//! Table: `ci-commit` tags, the always-kept checks and grouping by digest.

use chrono::TimeDelta;

use super::world::{run, Case, World, CI};
use crate::model::{PipelineStatus::*, TagKind};
use crate::policy::{KeepPatterns, Protections, RetentionOverrides};

fn mr_pipeline_also_pushed(w: &mut World, status: crate::model::PipelineStatus, finished: i64) {
    w.pipeline(2, "feat", status, finished - 1, finished);
    w.record(CI, "c1", TagKind::CiCommit, 2, "feat", finished - 1);
}

const CASES: &[Case] = &[
    Case {
        name: "finished, grace passed: one digest delete",
        build: |w| w.commit("c1", 1, Success, 990, "d1"),
        actions: &["delete g/app-ci@d1 c1"],
        kept: &[],
    },
    Case {
        name: "grace and min age exactly passed count as passed",
        build: |w| w.commit("c1", 1, Success, 999, "d1"),
        actions: &["delete g/app-ci@d1 c1"],
        kept: &[],
    },
    Case {
        name: "grace not passed",
        build: |w| {
            w.policy.default.ci_commit_grace = TimeDelta::hours(2);
            w.commit("c1", 1, Success, 999, "d1");
        },
        actions: &[],
        kept: &[("g/app-ci:c1", "grace-not-passed")],
    },
    Case {
        name: "failed and canceled pipelines are finished",
        build: |w| {
            w.commit("c1", 1, Failed, 990, "d1");
            w.commit("c2", 2, Canceled, 990, "d2");
        },
        actions: &["delete g/app-ci@d1 c1", "delete g/app-ci@d2 c2"],
        kept: &[],
    },
    Case {
        name: "running and manual pipelines are not finished",
        build: |w| {
            w.commit("c1", 1, Running, 990, "d1");
            w.commit("c2", 2, Manual, 990, "d2");
        },
        actions: &[],
        kept: &[
            ("g/app-ci:c1", "pipeline-unfinished"),
            ("g/app-ci:c2", "pipeline-unfinished"),
        ],
    },
    Case {
        name: "pipeline not recorded: state unknown",
        build: |w| {
            w.record(CI, "c1", TagKind::CiCommit, 77, "feat", 900)
                .listed_on("d1")
        },
        actions: &[],
        kept: &[("g/app-ci:c1", "pipeline-unknown")],
    },
    Case {
        name: "branch and MR pipeline pushed it, MR pipeline still running",
        build: |w| {
            w.commit("c1", 1, Success, 900, "d1");
            mr_pipeline_also_pushed(w, Running, 990);
        },
        actions: &[],
        kept: &[("g/app-ci:c1", "pipeline-unfinished")],
    },
    Case {
        name: "two producers: grace counts from the latest finish",
        build: |w| {
            w.policy.default.ci_commit_grace = TimeDelta::hours(2);
            w.commit("c1", 1, Success, 900, "d1");
            mr_pipeline_also_pushed(w, Success, 999);
        },
        actions: &[],
        kept: &[("g/app-ci:c1", "grace-not-passed")],
    },
    Case {
        name: "two producers, both long finished",
        build: |w| {
            w.commit("c1", 1, Success, 900, "d1");
            mr_pipeline_also_pushed(w, Success, 950);
        },
        actions: &["delete g/app-ci@d1 c1"],
        kept: &[],
    },
    Case {
        name: "younger than min age (from first_seen)",
        build: |w| {
            w.pipeline(1, "feat", Success, 999, 999);
            w.record(CI, "c1", TagKind::CiCommit, 1, "feat", 999)
                .listed_on("d1");
        },
        actions: &[],
        kept: &[("g/app-ci:c1", "too-young")],
    },
    Case {
        name: "default keep patterns: latest and semver",
        build: |w| {
            w.commit("latest", 1, Success, 900, "d1");
            w.commit("v1.2.3", 2, Success, 900, "d2");
            w.commit("v1.2", 3, Success, 900, "d3");
        },
        actions: &["delete g/app-ci@d3 v1.2"],
        kept: &[
            ("g/app-ci:latest", "keep-pattern"),
            ("g/app-ci:v1.2.3", "keep-pattern"),
        ],
    },
    Case {
        name: "keep pattern added for one image rule",
        build: |w| {
            let extra = KeepPatterns::new(&["^release-"]).unwrap();
            let overrides = RetentionOverrides {
                extra_keep_patterns: Some(extra),
                ..Default::default()
            };
            w.policy
                .per_rule
                .insert("ci".into(), overrides.apply(&w.policy.default));
            w.commit("release-7", 1, Success, 900, "d1");
            w.commit("latest", 2, Success, 900, "d2");
        },
        actions: &[],
        kept: &[
            ("g/app-ci:latest", "keep-pattern"),
            ("g/app-ci:release-7", "keep-pattern"),
        ],
    },
    Case {
        name: "tag in use by the cluster",
        build: |w| {
            w.protections = Protections::in_use([(CI, "c1")], []);
            w.commit("c1", 1, Success, 900, "d1");
        },
        actions: &[],
        kept: &[("g/app-ci:c1", "in-use-tag")],
    },
    Case {
        name: "digest in use by the cluster",
        build: |w| {
            w.protections = Protections::in_use([], ["d2"]);
            w.commit("c1", 1, Success, 900, "d1");
            w.commit("c2", 2, Success, 900, "d2");
        },
        actions: &["delete g/app-ci@d1 c1"],
        kept: &[("g/app-ci:c2", "in-use-digest")],
    },
    Case {
        name: "protection configured but unavailable: nothing deleted",
        build: |w| {
            w.protections = Protections::unavailable("kube API timed out");
            w.commit("c1", 1, Success, 900, "d1");
            w.commit("c2", 2, Success, 900, "d1");
        },
        actions: &[],
        kept: &[
            ("g/app-ci:c1", "protection-unavailable"),
            ("g/app-ci:c2", "protection-unavailable"),
        ],
    },
    Case {
        name: "repository could not be listed: its recorded tags kept",
        build: |w| {
            w.commit("c1", 1, Success, 900, "d1");
            w.snapshot.mark_unlisted(CI, "HTTP 500");
            w.prod_deploy(10, 900, "p1");
        },
        actions: &[],
        kept: &[
            ("g/app:prod-10", "prod-recent"),
            ("g/app-ci:c1", "repository-unlisted"),
        ],
    },
    Case {
        name: "shared digest with a kept tag: untag only",
        build: |w| {
            w.commit("c1", 1, Success, 900, "d1");
            w.commit("c2", 2, Running, 900, "d1");
        },
        actions: &["untag g/app-ci:c1"],
        kept: &[("g/app-ci:c2", "pipeline-unfinished")],
    },
    Case {
        name: "every tag of the digest deletable: one digest delete",
        build: |w| {
            w.commit("c1", 1, Success, 900, "d1");
            w.commit("c2", 2, Success, 900, "d1");
        },
        actions: &["delete g/app-ci@d1 c1,c2"],
        kept: &[],
    },
    Case {
        name: "recorded but absent from the registry: nothing to do",
        build: |w| {
            w.pipeline(1, "feat", Success, 900, 900);
            w.record(CI, "c1", TagKind::CiCommit, 1, "feat", 900);
        },
        actions: &[],
        kept: &[],
    },
    Case {
        name: "records disagree on the kind",
        build: |w| {
            w.commit("c1", 1, Success, 900, "d1");
            w.record(CI, "c1", TagKind::CiBranch, 1, "feat", 900);
        },
        actions: &[],
        kept: &[("g/app-ci:c1", "conflicting-kinds")],
    },
];

#[test]
fn ci_commit_and_always_kept_table() {
    run(CASES);
}
