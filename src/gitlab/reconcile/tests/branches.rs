//! Branches: confirmation, plausibility, revival, and "older never overwrites newer".

use std::collections::BTreeMap;

use super::*;

struct Case {
    name: &'static str,
    recorded: Vec<RefRecord>,
    listed: BranchList,
    confirmations: Vec<(&'static str, Confirmation)>,
    expect: Result<Vec<&'static str>, &'static str>,
}

fn live(name: &str) -> RefRecord {
    ref_record(name, RefState::Live, 1)
}

/// A missing branch and the single-branch answer; revival; newer webhooks.
fn confirmation_cases() -> Vec<Case> {
    let gone = |n| (n, Confirmation::Gone);
    vec![
        Case {
            name: "missing and 404: deleted",
            recorded: vec![live("main"), live("feature/a")],
            listed: list(&["main"]),
            confirmations: vec![gone("feature/a")],
            expect: Ok(vec!["deleted feature/a"]),
        },
        Case {
            name: "missing but 200: kept live",
            recorded: vec![live("main"), live("feature/a")],
            listed: list(&["main"]),
            confirmations: vec![("feature/a", Confirmation::Exists(branch("feature/a")))],
            expect: Ok(vec![]),
        },
        Case {
            name: "missing, not confirmed: kept live",
            recorded: vec![live("main"), live("feature/a")],
            listed: list(&["main"]),
            confirmations: vec![],
            expect: Ok(vec![]),
        },
        Case {
            name: "recorded deleted, listed again: live again",
            recorded: vec![live("main"), ref_record("feature/a", RefState::Deleted, 5)],
            listed: list(&["main", "feature/a"]),
            confirmations: vec![],
            expect: Ok(vec!["live feature/a"]),
        },
        Case {
            name: "deleted by a webhook newer than the listing: stays deleted",
            recorded: vec![
                live("main"),
                ref_record("feature/a", RefState::Deleted, 101),
            ],
            listed: list(&["main", "feature/a"]),
            confirmations: vec![],
            expect: Ok(vec![]),
        },
        Case {
            name: "re-created by a webhook newer than the 404: stays live",
            recorded: vec![live("main"), ref_record("feature/a", RefState::Live, 101)],
            listed: list(&["main"]),
            confirmations: vec![gone("feature/a")],
            expect: Ok(vec![]),
        },
    ]
}

/// Lists GitLab may be wrong about, and the new branches it shows.
fn plausibility_cases() -> Vec<Case> {
    let gone = |n| (n, Confirmation::Gone);
    let many_live: Vec<RefRecord> = (0..10).map(|i| live(&format!("b{i}"))).collect();
    vec![
        Case {
            name: "listed, never recorded: recorded live",
            recorded: vec![live("main")],
            listed: list(&["main", "hotfix"]),
            confirmations: vec![],
            expect: Ok(vec!["live hotfix"]),
        },
        Case {
            name: "empty list with live records: refused",
            recorded: vec![live("main")],
            listed: list(&[]),
            confirmations: vec![],
            expect: Err("listed no branches"),
        },
        Case {
            name: "count disagrees with x-total: refused",
            recorded: vec![live("main")],
            listed: BranchList {
                total: Some(250),
                ..list(&["main"])
            },
            confirmations: vec![],
            expect: Err("x-total says 250"),
        },
        Case {
            name: "8 of 10 missing: refused",
            recorded: many_live.clone(),
            listed: list(&["b0", "b1"]),
            confirmations: vec![],
            expect: Err("only 2 of the 10"),
        },
        Case {
            name: "3 of 10 missing: under the floor, confirmed",
            recorded: many_live.clone(),
            listed: list(&["b0", "b1", "b2", "b3", "b4", "b5", "b6"]),
            confirmations: vec![gone("b7"), gone("b8"), gone("b9")],
            expect: Ok(vec!["deleted b7", "deleted b8", "deleted b9"]),
        },
        Case {
            name: "5 of 10 missing: ratio holds, confirmed",
            recorded: many_live,
            listed: list(&["b0", "b1", "b2", "b3", "b4"]),
            confirmations: vec![gone("b5"), gone("b9")],
            expect: Ok(vec!["deleted b5", "deleted b9"]),
        },
    ]
}

#[test]
fn branch_table() {
    let config = project_config();
    for case in confirmation_cases().into_iter().chain(plausibility_cases()) {
        let observed = Observed {
            branches: case.listed,
            confirmations: case
                .confirmations
                .into_iter()
                .map(|(n, c)| (n.to_owned(), c))
                .collect::<BTreeMap<_, _>>(),
            merge_requests: vec![],
            pipelines: vec![],
            watermark: Watermark::default(),
        };
        let state = ProjectState {
            refs: case.recorded,
            ..Default::default()
        };
        let recorded = Recorded::of(PROJECT, &state);
        let result = reconcile(&recorded, &observed, Some(images(&config)), LIMITS, stamp());
        match (result, case.expect) {
            (Ok(r), Ok(expect)) => assert_eq!(shown(&r.found), expect, "{}", case.name),
            (Err(e), Err(fragment)) => {
                assert!(e.to_string().contains(fragment), "{}: {e}", case.name)
            }
            (got, want) => panic!("{}: got {got:?}, want {want:?}", case.name),
        }
    }
}

#[test]
fn only_recorded_live_branches_are_confirmed() {
    let mut tag = live("v1.0.0");
    tag.kind = RefKind::Tag;
    let refs = vec![
        live("main"),
        live("gone"),
        ref_record("old", RefState::Deleted, 1),
        tag,
    ];
    let names = branches_to_confirm(&refs, &list(&["main"]), LIMITS).unwrap();
    assert_eq!(names, ["gone"]);
}

#[test]
fn findings_carry_their_reason() {
    let state = ProjectState {
        refs: vec![live("main"), live("feature/a")],
        ..Default::default()
    };
    let observed = Observed {
        branches: list(&["main"]),
        confirmations: [("feature/a".to_owned(), Confirmation::Gone)].into(),
        merge_requests: vec![],
        pipelines: vec![],
        watermark: Watermark::default(),
    };
    let r = reconcile(
        &Recorded::of(PROJECT, &state),
        &observed,
        None,
        LIMITS,
        stamp(),
    )
    .unwrap();
    assert_eq!(
        r.found[0].reason.to_string(),
        "branch feature/a deleted (found by reconciliation at 2026-11-24T04:00:00Z)"
    );
    assert!(matches!(r.found[0].change, Change::RefDeleted { at, .. } if at == t(100)));
}
