//! Import: the window's pipelines become what their hooks would have recorded; branches they name
//! that GitLab no longer has are confirmed and recorded deleted.

use std::collections::BTreeMap;

use super::*;
use crate::gitlab::api::Project;
use crate::gitlab::import::{import, import_branches_to_confirm, tracking_report, ImportInput};

fn project() -> Project {
    Project {
        id: PROJECT,
        path_with_namespace: "group/app".into(),
        default_branch: Some("main".into()),
        web_url: None,
    }
}

#[test]
fn import_records_pipelines_and_confirms_their_branches() {
    let config = project_config();
    let state = ProjectState::default();
    let project = project();
    let branches = list(&["main", "feature/y"]);
    let merge_requests = vec![
        mr(2, "feature/x", "merged", 20),
        mr(3, "feature/y", "opened", 21),
    ];
    let pipelines = vec![
        detail(501, "feature/x", "success", 10, false),
        detail(530, "refs/merge-requests/3/head", "running", 22, false),
        detail(540, "v1.0.0", "success", 23, true),
        detail(601, "main", "success", 24, false),
    ];
    let input = ImportInput {
        recorded: Recorded::of(PROJECT, &state),
        project: &project,
        images: images(&config),
        branches: &branches,
        merge_requests: &merge_requests,
        pipelines: &pipelines,
    };
    let to_confirm = import_branches_to_confirm(&input, LIMITS).unwrap();
    assert_eq!(
        to_confirm,
        ["feature/x"],
        "tags and listed branches are not confirmed"
    );
    let confirmations = BTreeMap::from([("feature/x".to_owned(), Confirmation::Gone)]);
    let stamp = Stamp {
        source: Source::Import,
        at: t(100),
    };
    let imported = import(&input, &confirmations, stamp).unwrap();
    assert_eq!(shown(&imported.found), expected_changes());
    assert_eq!(imported.project.path, "group/app");
    assert!(imported
        .found
        .iter()
        .all(|f| f.reason.source == Source::Import));
    let tag_540 = imported.found.iter().find_map(|f| match &f.change {
        Change::ImageTag(t) if t.pipeline_id == 540 => Some(t.ref_kind),
        _ => None,
    });
    assert_eq!(tag_540, Some(RefKind::Tag));

    check_report(&imported.found);
}

/// Merge requests, branches live, pipelines with their tags, the confirmed deletion last.
fn expected_changes() -> Vec<String> {
    vec![
        "mr !2 merged".to_owned(),
        "mr !3 opened".into(),
        "live main".into(),
        "live feature/y".into(),
        "pipeline 501 feature/x success".into(),
        format!("tag group/app/app-ci:{}", sha(501)),
        "tag group/app/app-ci:feature-x".into(),
        "pipeline 530 feature/y running".into(),
        format!("tag group/app/app-ci:{}", sha(530)),
        "tag group/app/app-ci:feature-y".into(),
        "pipeline 540 v1.0.0 success".into(),
        format!("tag group/app/app-ci:{}", sha(540)),
        "tag group/app/app-ci:v1-0-0".into(),
        "pipeline 601 main success".into(),
        format!("tag group/app/app-ci:{}", sha(601)),
        "tag group/app/app-ci:main".into(),
        "tag group/app/app:prod".into(),
        "deleted feature/x".into(),
    ]
}

fn check_report(found: &[Found]) {
    let registry = BTreeMap::from([
        (
            "group/app/app-ci".to_owned(),
            vec![
                "main".to_owned(),
                sha(601),
                "feature-x".into(),
                "hand-made".into(),
            ],
        ),
        ("group/app/other".to_owned(), vec!["x".to_owned()]),
    ]);
    let report = tracking_report(&[], found, &registry);
    assert_eq!(
        (
            report[0].tags,
            report[0].tracked,
            report[0].newly_tracked,
            report[0].untracked
        ),
        (4, 3, 3, 1)
    );
    assert_eq!((report[1].tracked, report[1].untracked), (0, 1));
}
