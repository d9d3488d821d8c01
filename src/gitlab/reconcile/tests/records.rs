//! Merge requests, pipelines, watermarks and the order of changes.

use std::collections::HashMap;

use super::*;

/// Name, records, API answers, expected changes.
type MrCase = (
    &'static str,
    Vec<MergeRequestRecord>,
    Vec<MergeRequest>,
    Vec<&'static str>,
);
type PipelineCase = (
    &'static str,
    Vec<PipelineRecord>,
    Vec<PipelineDetail>,
    Vec<String>,
);

fn observed(merge_requests: Vec<MergeRequest>, pipelines: Vec<PipelineDetail>) -> Observed {
    Observed {
        branches: list(&["main", "feature/a"]),
        confirmations: Default::default(),
        merge_requests,
        pipelines,
        watermark: Watermark::default(),
    }
}

fn run(state: &ProjectState, observed: &Observed) -> Result<Reconciliation, ReconcileError> {
    let config = project_config();
    let recorded = Recorded::of(PROJECT, state);
    reconcile(&recorded, observed, Some(images(&config)), LIMITS, stamp())
}

fn with_refs(mut state: ProjectState) -> ProjectState {
    state.refs = vec![
        ref_record("main", RefState::Live, 1),
        ref_record("feature/a", RefState::Live, 1),
    ];
    state
}

fn check_merge_requests(cases: Vec<MrCase>) {
    for (name, records, listed, expect) in cases {
        let state = with_refs(ProjectState {
            merge_requests: records,
            ..Default::default()
        });
        let r = run(&state, &observed(listed, vec![])).unwrap();
        assert_eq!(shown(&r.found), expect, "{name}");
        let authoritative = |f: &Found| {
            matches!(
                f.change,
                Change::MergeRequest {
                    authoritative: true,
                    ..
                }
            )
        };
        assert!(r.found.iter().all(authoritative), "{name}");
    }
}

#[test]
fn merge_request_table() {
    let mut fork = mr(9, "feature/a", "merged", 20);
    fork.source_project_id = 7;
    let cases: Vec<MrCase> = vec![
        (
            "merge the webhook missed",
            vec![mr_record(1, "feature/a", MrState::Opened, 10)],
            vec![mr(1, "feature/a", "merged", 20)],
            vec!["mr !1 merged"],
        ),
        (
            "older than the record",
            vec![mr_record(1, "feature/a", MrState::Merged, 30)],
            vec![mr(1, "feature/a", "opened", 20)],
            vec![],
        ),
        (
            "same version",
            vec![mr_record(1, "feature/a", MrState::Opened, 20)],
            vec![mr(1, "feature/a", "opened", 20)],
            vec![],
        ),
        (
            "newer but nothing changed",
            vec![mr_record(1, "feature/a", MrState::Opened, 10)],
            vec![mr(1, "feature/a", "opened", 20)],
            vec![],
        ),
        (
            "never recorded",
            vec![],
            vec![mr(2, "feature/b", "closed", 20)],
            vec!["mr !2 closed"],
        ),
        ("from a fork", vec![], vec![fork], vec![]),
        (
            "the newest copy of an iid counts",
            vec![mr_record(1, "feature/a", MrState::Opened, 10)],
            vec![
                mr(1, "feature/a", "merged", 25),
                mr(1, "feature/a", "closed", 20),
            ],
            vec!["mr !1 merged"],
        ),
    ];
    check_merge_requests(cases);
}

#[test]
fn unknown_merge_request_state_fails_the_project() {
    let state = with_refs(ProjectState::default());
    let err = run(
        &state,
        &observed(vec![mr(1, "feature/a", "reviewed", 20)], vec![]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("merge request !1"), "{err}");
}

#[test]
fn open_merge_requests_are_rechecked_by_iid() {
    let records = vec![
        mr_record(1, "a", MrState::Opened, 1),
        mr_record(2, "b", MrState::Merged, 1),
        mr_record(3, "c", MrState::Locked, 1),
        mr_record(4, "d", MrState::Opened, 1),
    ];
    let listed = vec![mr(4, "d", "opened", 2)];
    assert_eq!(open_merge_requests_to_recheck(&records, &listed), [1, 3]);
}

fn tag(id: u32) -> String {
    format!("tag group/app/app-ci:{}", sha(id))
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|i| i.to_string()).collect()
}

fn check_pipelines(cases: Vec<PipelineCase>) {
    for (name, records, details, expect) in cases {
        let state = with_refs(ProjectState {
            pipelines: records.clone(),
            merge_requests: vec![mr_record(3, "feature/c", MrState::Opened, 1)],
            ..Default::default()
        });
        let listed: Vec<Pipeline> = details.iter().map(|d| d.pipeline.clone()).collect();
        let wanted = pipelines_to_fetch(&records, &listed);
        assert_eq!(
            wanted.is_empty(),
            expect.is_empty() && !name.contains("skipped"),
            "{name}: fetch {wanted:?}"
        );
        let r = run(&state, &observed(vec![], details)).unwrap();
        assert_eq!(shown(&r.found), expect, "{name}");
        if name.contains("skipped") {
            assert!(
                r.notes.iter().any(|n| n.contains("!99 unknown")),
                "{:?}",
                r.notes
            );
        }
    }
}

#[test]
fn pipeline_news_table() {
    let s = strings;
    check_pipelines(vec![
        (
            "never recorded: pipeline and its tags",
            vec![],
            vec![detail(510, "feature/a", "success", 20, false)],
            s(&[
                "pipeline 510 feature/a success",
                &tag(510),
                "tag group/app/app-ci:feature-a",
            ]),
        ),
        (
            "finish the webhook missed",
            vec![pipeline_record(
                510,
                "feature/a",
                PipelineStatus::Running,
                10,
            )],
            vec![detail(510, "feature/a", "success", 20, false)],
            s(&[
                "pipeline 510 feature/a success",
                &tag(510),
                "tag group/app/app-ci:feature-a",
            ]),
        ),
        (
            "older than the record: no change",
            vec![pipeline_record(
                510,
                "feature/a",
                PipelineStatus::Success,
                30,
            )],
            vec![detail(510, "feature/a", "running", 20, false)],
            vec![],
        ),
        (
            "same status: no change",
            vec![pipeline_record(
                510,
                "feature/a",
                PipelineStatus::Success,
                10,
            )],
            vec![detail(510, "feature/a", "success", 20, false)],
            vec![],
        ),
    ]);
}

#[test]
fn pipeline_ref_table() {
    let s = strings;
    let mut mr_pipeline = detail(530, "refs/merge-requests/3/head", "success", 20, false);
    mr_pipeline.pipeline.source = Some("merge_request_event".into());
    check_pipelines(vec![
        (
            "merge request pipeline: the source branch",
            vec![],
            vec![mr_pipeline],
            s(&[
                "pipeline 530 feature/c success",
                &tag(530),
                "tag group/app/app-ci:feature-c",
            ]),
        ),
        (
            "merge request unknown: skipped",
            vec![],
            vec![detail(
                531,
                "refs/merge-requests/99/head",
                "success",
                20,
                false,
            )],
            vec![],
        ),
        (
            "tag pipeline",
            vec![],
            vec![detail(540, "v1.2.0", "success", 20, true)],
            s(&[
                "pipeline 540 v1.2.0 success",
                &tag(540),
                "tag group/app/app-ci:v1-2-0",
            ]),
        ),
        (
            "main deploys prod",
            vec![],
            vec![detail(601, "main", "running", 20, false)],
            s(&[
                "pipeline 601 main running",
                &tag(601),
                "tag group/app/app-ci:main",
                "tag group/app/app:prod",
            ]),
        ),
        (
            "unknown status counts as unfinished",
            vec![],
            vec![detail(602, "main", "paused", 20, false)],
            s(&[
                "pipeline 602 main created",
                &tag(602),
                "tag group/app/app-ci:main",
                "tag group/app/app:prod",
            ]),
        ),
    ]);
}

#[test]
fn recorded_tags_are_not_recorded_again() {
    let config = project_config();
    let d = detail(510, "feature/a", "success", 20, false);
    let first = run(
        &with_refs(ProjectState::default()),
        &observed(vec![], vec![d.clone()]),
    )
    .unwrap();
    let tags: Vec<ImageTagRecord> = first
        .found
        .iter()
        .filter_map(|f| match &f.change {
            Change::ImageTag(t) => Some(t.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(tags.len(), 2);
    let state = with_refs(ProjectState {
        pipelines: vec![pipeline_record(
            510,
            "feature/a",
            PipelineStatus::Running,
            10,
        )],
        image_tags: tags,
        ..Default::default()
    });
    let recorded = Recorded::of(PROJECT, &state);
    let again = reconcile(
        &recorded,
        &observed(vec![], vec![d]),
        Some(images(&config)),
        LIMITS,
        stamp(),
    )
    .unwrap();
    assert_eq!(shown(&again.found), ["pipeline 510 feature/a success"]);
}

#[test]
fn order_is_merge_requests_live_pipelines_deletions() {
    let state = ProjectState {
        refs: vec![
            ref_record("main", RefState::Live, 1),
            ref_record("feature/a", RefState::Live, 1),
            ref_record("feature/b", RefState::Deleted, 1),
        ],
        merge_requests: vec![mr_record(1, "feature/a", MrState::Opened, 1)],
        ..Default::default()
    };
    let observed = Observed {
        branches: list(&["main", "feature/b"]),
        confirmations: [("feature/a".to_owned(), Confirmation::Gone)].into(),
        merge_requests: vec![mr(1, "feature/a", "merged", 20)],
        pipelines: vec![detail(520, "feature/b", "running", 20, false)],
        watermark: Watermark::default(),
    };
    let config = project_config();
    let r = reconcile(
        &Recorded::of(PROJECT, &state),
        &observed,
        Some(images(&config)),
        LIMITS,
        stamp(),
    )
    .unwrap();
    let kinds: Vec<String> = shown(&r.found)
        .iter()
        .map(|s| s.split(' ').next().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["mr", "live", "pipeline", "tag", "tag", "deleted"]);
}

#[test]
fn watermarks() {
    let ids = |pairs: &[(i64, i64)]| pairs.iter().map(|(id, h)| (*id, t(*h))).collect::<Vec<_>>();
    assert_eq!(advance(None, ids(&[(1, 5), (2, 7)])), Some(t(7)));
    assert_eq!(
        advance(Some(t(9)), ids(&[(1, 5)])),
        Some(t(9)),
        "never moves back"
    );
    assert_eq!(
        advance(Some(t(3)), ids(&[(1, 5), (2, 7), (1, 8)])),
        Some(t(3)),
        "list moved under the reader"
    );
    assert_eq!(advance(Some(t(3)), ids(&[])), Some(t(3)));
    let (overlap, window) = (TimeDelta::minutes(10), TimeDelta::days(7));
    assert_eq!(
        list_from(Some(t(50)), Some(t(0)), overlap, window, t(100)),
        t(50) - overlap
    );
    assert_eq!(
        list_from(None, Some(t(24)), overlap, window, t(100)),
        t(24) - window
    );
    assert_eq!(
        list_from(None, None, overlap, window, t(100)),
        t(100) - window
    );
    let mut known = HashMap::new();
    known.insert(3, "feature/c".to_owned());
    let details = [
        detail(1, "refs/merge-requests/3/head", "success", 1, false),
        detail(2, "refs/merge-requests/4/merge", "success", 1, false),
        detail(3, "main", "success", 1, false),
    ];
    assert_eq!(unknown_merge_requests(&details, &known), [4]);
    assert_eq!(merge_request_iid("refs/merge-requests/12/train"), Some(12));
    assert_eq!(merge_request_iid("feature/x"), None);
}
