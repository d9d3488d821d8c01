//! Table: `ci-branch` tags — deleted branches, merge requests, staleness, slug collisions.

use super::world::{run, Case, CI};
use crate::model::{MrState::*, PipelineStatus, RefKind};

const CASES: &[Case] = &[
    Case {
        name: "branch deleted, grace passed",
        build: |w| {
            w.deleted_branch("feat", 800, 970);
            w.branch_tag("feat", 1, 900, "d1");
        },
        actions: &["delete g/app-ci@d1 feat"],
        kept: &[],
    },
    Case {
        name: "branch deleted exactly grace ago",
        build: |w| {
            w.deleted_branch("feat", 800, 976);
            w.branch_tag("feat", 1, 900, "d1");
        },
        actions: &["delete g/app-ci@d1 feat"],
        kept: &[],
    },
    Case {
        name: "branch deleted, grace not passed",
        build: |w| {
            w.deleted_branch("feat", 800, 977);
            w.branch_tag("feat", 1, 900, "d1");
        },
        actions: &[],
        kept: &[("g/app-ci:feat", "grace-not-passed")],
    },
    Case {
        name: "merge request merged, no pipeline since",
        build: |w| {
            w.branch("feat", 800);
            w.branch_tag("feat", 1, 890, "d1");
            w.merge_request(42, "feat", Merged, 900);
        },
        actions: &["delete g/app-ci@d1 feat"],
        kept: &[],
    },
    Case {
        name: "merge request merged recently",
        build: |w| {
            w.branch("feat", 800);
            w.branch_tag("feat", 1, 890, "d1");
            w.merge_request(42, "feat", Merged, 990);
        },
        actions: &[],
        kept: &[("g/app-ci:feat", "grace-not-passed")],
    },
    Case {
        name: "merge request closed, branch used again afterwards",
        build: |w| {
            w.branch("feat", 800);
            w.branch_tag("feat", 1, 890, "d1");
            w.merge_request(42, "feat", Closed, 900);
            w.branch_tag("feat", 2, 950, "d1");
        },
        actions: &[],
        kept: &[("g/app-ci:feat", "pipeline-after-merge-request")],
    },
    Case {
        name: "merge request reopened",
        build: |w| {
            w.branch("feat", 800);
            w.branch_tag("feat", 1, 890, "d1");
            w.merge_request(42, "feat", Opened, 900);
        },
        actions: &[],
        kept: &[("g/app-ci:feat", "merge-request-open")],
    },
    Case {
        name: "one merge request merged, another open or locked",
        build: |w| {
            w.deleted_branch("feat", 800, 900);
            w.branch_tag("feat", 1, 890, "d1");
            w.merge_request(41, "feat", Merged, 900);
            w.merge_request(43, "feat", Locked, 900);
        },
        actions: &[],
        kept: &[("g/app-ci:feat", "merge-request-open")],
    },
    Case {
        name: "deleted branch, another live branch maps to the same slug",
        build: |w| {
            w.deleted_branch("Feature/X", 800, 900);
            w.branch_tag("Feature/X", 1, 850, "d1");
            w.branch("feature_x", 950);
        },
        actions: &[],
        kept: &[("g/app-ci:feature-x", "slug-shared")],
    },
    Case {
        name: "deleted branch, a live git tag maps to the same slug",
        build: |w| {
            w.deleted_branch("rel/1", 800, 900);
            w.branch_tag("rel/1", 1, 850, "d1");
            w.git_ref(RefKind::Tag, "rel-1", 950);
        },
        actions: &[],
        kept: &[("g/app-ci:rel-1", "slug-shared")],
    },
    Case {
        name: "colliding branch was deleted too: tag goes",
        build: |w| {
            w.deleted_branch("Feature/X", 800, 900);
            w.branch_tag("Feature/X", 1, 850, "d1");
            w.deleted_branch("feature_x", 800, 900);
        },
        actions: &["delete g/app-ci@d1 feature-x"],
        kept: &[],
    },
    Case {
        name: "branch re-created after deletion and used",
        build: |w| {
            w.branch("feat", 980).deleted_at = Some(super::world::h(950));
            w.branch_tag("feat", 1, 985, "d1");
        },
        actions: &[],
        kept: &[("g/app-ci:feat", "branch-active")],
    },
    Case {
        name: "default branch is never cleaned, even stale",
        build: |w| {
            w.branch("main", 0);
            w.branch_tag("main", 1, 10, "d1");
        },
        actions: &[],
        kept: &[("g/app-ci:main", "default-branch")],
    },
    Case {
        name: "stale branch: no pipeline for more than 30 days",
        build: |w| {
            w.branch("old", 100);
            w.branch_tag("old", 1, 200, "d1");
        },
        actions: &["delete g/app-ci@d1 old"],
        kept: &[],
    },
    Case {
        name: "stale boundary: exactly 30 days goes, a hour less stays",
        build: |w| {
            w.branch("a", 100);
            w.branch_tag("a", 1, 280, "d1");
            w.branch("b", 100);
            w.branch_tag("b", 2, 281, "d2");
        },
        actions: &["delete g/app-ci@d1 a"],
        kept: &[("g/app-ci:b", "branch-active")],
    },
    Case {
        name: "branch not recorded",
        build: |w| w.branch_tag("ghost", 1, 200, "d1"),
        actions: &[],
        kept: &[("g/app-ci:ghost", "branch-unknown")],
    },
    Case {
        name: "cache tag pushed for a git tag",
        build: |w| {
            w.branch_tag("v9", 1, 200, "d1");
            w.state.image_tags[0].ref_kind = RefKind::Tag;
        },
        actions: &[],
        kept: &[("g/app-ci:v9", "not-a-branch")],
    },
    Case {
        name: "merge request done without any time",
        build: |w| {
            w.branch("feat", 800);
            w.branch_tag("feat", 1, 890, "d1");
            w.merge_request(42, "feat", Merged, 900);
            let mr = &mut w.state.merge_requests[0];
            (mr.merged_at, mr.updated_at) = (None, None);
        },
        actions: &[],
        kept: &[("g/app-ci:feat", "merge-request-time-unknown")],
    },
    Case {
        name: "a pipeline on the branch still running",
        build: |w| {
            w.deleted_branch("feat", 800, 900);
            w.branch_tag("feat", 1, 850, "d1");
            w.pipeline(2, "feat", PipelineStatus::Pending, 899, 0);
            w.record(CI, "feat", crate::model::TagKind::CiBranch, 2, "feat", 899);
        },
        actions: &[],
        kept: &[("g/app-ci:feat", "pipeline-unfinished")],
    },
    Case {
        name: "deleted without a time, recently active: kept",
        build: |w| {
            w.deleted_branch("feat", 800, 900).deleted_at = None;
            w.branch_tag("feat", 1, 950, "d1");
        },
        actions: &[],
        kept: &[("g/app-ci:feat", "branch-active")],
    },
    Case {
        name: "two branches pushed one slug: deleted only when both allow it",
        build: |w| {
            w.deleted_branch("Feature/X", 800, 900);
            w.branch_tag("Feature/X", 1, 850, "d1");
            w.branch("feature_x", 800);
            w.branch_tag("feature_x", 2, 990, "d1");
        },
        actions: &[],
        kept: &[("g/app-ci:feature-x", "slug-shared")],
    },
];

#[test]
fn ci_branch_table() {
    run(CASES);
}
