//! The client against the fake: offset pagination (`x-next-page`, `Link`, totals absent past the
//! count limit), the page limit, the empty-pages bug, 429 with and without hints, 5xx, timeouts,
//! garbage, the single-branch 404 that confirms and the 200 that refutes, the budget, the token.

use std::time::{Duration, Instant};

use chrono::Utc;
use registry_gc::gitlab::{BranchLookup, GitLabError};
use serde_json::Value;

use super::{budget, client_with};
use crate::support::gitlab_api::shapes::{self, PROJECT_ID};
use crate::support::gitlab_api::{FakeGitLab, Fault, World, TOKEN};

fn sha(n: usize) -> String {
    format!("{n:040x}")
}

fn branches(names: &[&str]) -> Vec<Value> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| shapes::branch(n, &sha(i + 1), *n == "main"))
        .collect()
}

async fn fake_with_branches(names: &[&str], tweak: impl FnOnce(&mut World)) -> FakeGitLab {
    let mut world = World {
        project: shapes::project("main"),
        branches: branches(names),
        ..Default::default()
    };
    tweak(&mut world);
    FakeGitLab::start(world).await
}

const FIVE: &[&str] = &["feature/a", "feature/b", "main", "release/1.0", "x"];

#[tokio::test]
async fn pagination_follows_either_header_and_checks_the_total() {
    for (link_only, count_limit) in [(false, 10_000), (true, 10_000), (false, 3)] {
        let fake = fake_with_branches(FIVE, |w| {
            w.link_only = link_only;
            w.count_limit = count_limit;
        })
        .await;
        let client = client_with(&fake, |s| s.per_page = 2);
        let listing = client
            .project(PROJECT_ID, &budget())
            .branches()
            .await
            .unwrap();
        let names: Vec<&str> = listing.items.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(
            names, FIVE,
            "link_only {link_only}, count_limit {count_limit}"
        );
        assert_eq!(listing.pages, 3);
        assert_eq!(listing.total, (count_limit > 5).then_some(5));
        assert_eq!(fake.requests_to("/repository/branches"), 3);
        assert!(fake
            .world
            .lock()
            .unwrap()
            .requests
            .iter()
            .all(|r| !r.contains(TOKEN)));
    }
}

#[tokio::test]
async fn page_limit_fails_whole_lists_and_cuts_sorted_ones() {
    let fake = fake_with_branches(FIVE, |w| {
        for id in 1..=5 {
            let at = Utc::now() - chrono::TimeDelta::hours(10 - id);
            w.pipelines.push(shapes::pipeline(
                600 + id,
                "main",
                &sha(id as usize),
                "success",
                false,
                at,
            ));
        }
    })
    .await;
    let client = client_with(&fake, |s| {
        s.per_page = 2;
        s.max_pages = 2;
    });
    let api = client.project(PROJECT_ID, &budget());
    let err = api.branches().await.unwrap_err();
    assert!(
        matches!(err, GitLabError::TooManyPages { max_pages: 2, .. }),
        "{err}"
    );
    let pipelines = api.pipelines(None).await.unwrap();
    assert!(!pipelines.complete);
    let ids: Vec<i64> = pipelines.items.iter().map(|p| p.id).collect();
    assert_eq!(
        ids,
        [601, 602, 603, 604],
        "oldest first, as far as the limit"
    );
}

#[tokio::test]
async fn empty_pages_past_the_first_are_refused() {
    let fake = fake_with_branches(FIVE, |w| w.empty_pages_bug = true).await;
    let client = client_with(&fake, |s| s.per_page = 2);
    let err = client
        .project(PROJECT_ID, &budget())
        .branches()
        .await
        .unwrap_err();
    assert!(matches!(err, GitLabError::Pagination { .. }), "{err}");
    assert!(err.to_string().contains("empty pages"), "{err}");
}

#[tokio::test]
async fn rate_limits_are_waited_out_with_or_without_hints() {
    let fake = fake_with_branches(&["main"], |_| {}).await;
    for fault in [Fault::RetryAfter(0), Fault::RateLimitReset, Fault::Bare429] {
        fake.fault("/repository/branches", fault);
    }
    let client = client_with(&fake, |_| {});
    let started = Instant::now();
    let listing = client
        .project(PROJECT_ID, &budget())
        .branches()
        .await
        .unwrap();
    assert_eq!(listing.items.len(), 1);
    assert_eq!(
        fake.requests_to("/repository/branches"),
        4,
        "three 429s, then the answer"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    for _ in 0..4 {
        fake.fault("/repository/branches", Fault::Bare429);
    }
    let err = client
        .project(PROJECT_ID, &budget())
        .branches()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(429), "{err}");
}

#[tokio::test]
async fn server_errors_are_retried_then_fail() {
    let fake = fake_with_branches(&["main"], |_| {}).await;
    let client = client_with(&fake, |s| s.retries = 2);
    fake.fault("/repository/branches", Fault::Status(502));
    assert!(client
        .project(PROJECT_ID, &budget())
        .branches()
        .await
        .is_ok());
    for _ in 0..3 {
        fake.fault("/repository/branches", Fault::Status(503));
    }
    let before = fake.requests_to("/repository/branches");
    let err = client
        .project(PROJECT_ID, &budget())
        .branches()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503), "{err}");
    assert_eq!(
        fake.requests_to("/repository/branches") - before,
        3,
        "first try and two retries"
    );
}

#[tokio::test]
async fn timeouts_and_garbage_fail() {
    let fake = fake_with_branches(&["main"], |_| {}).await;
    let client = client_with(&fake, |s| {
        s.request_timeout_ms = 150;
        s.retries = 1;
    });
    fake.fault(
        "/repository/branches",
        Fault::Slow(Duration::from_millis(600)),
    );
    fake.fault(
        "/repository/branches",
        Fault::Slow(Duration::from_millis(600)),
    );
    let err = client
        .project(PROJECT_ID, &budget())
        .branches()
        .await
        .unwrap_err();
    assert!(matches!(err, GitLabError::Transport { .. }), "{err}");
    assert!(err.to_string().contains("no answer within 150 ms"), "{err}");

    fake.fault("/pipelines", Fault::Garbage);
    let err = client
        .project(PROJECT_ID, &budget())
        .pipelines(None)
        .await
        .unwrap_err();
    assert!(matches!(err, GitLabError::Parse { .. }), "{err}");
}

#[tokio::test]
async fn only_a_branch_404_confirms_a_deletion() {
    let fake = fake_with_branches(&["main", "feature/x y"], |_| {}).await;
    let client = client_with(&fake, |_| {});
    let api = client.project(PROJECT_ID, &budget());
    assert_eq!(
        api.branch("feature/gone").await.unwrap(),
        BranchLookup::NotFound
    );
    match api.branch("feature/x y").await.unwrap() {
        BranchLookup::Exists(b) => assert_eq!(b.name, "feature/x y"),
        other => panic!("{other:?}"),
    }
    // The project itself not found (token lost access): an error, never a deletion.
    let err = client
        .project(999, &budget())
        .branch("feature/gone")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert!(err.to_string().contains("Project Not Found"), "{err}");
    fake.fault("/repository/branches/", Fault::Status(500));
    fake.fault("/repository/branches/", Fault::Status(500));
    fake.fault("/repository/branches/", Fault::Status(500));
    fake.fault("/repository/branches/", Fault::Status(500));
    assert!(
        api.branch("feature/gone").await.is_err(),
        "a 5xx is not a 404"
    );
}

#[tokio::test]
async fn the_budget_stops_a_run_and_the_token_stays_secret() {
    let fake = fake_with_branches(FIVE, |_| {}).await;
    let client = client_with(&fake, |s| s.per_page = 2);
    let small = registry_gc::gitlab::Budget::new(2);
    let err = client
        .project(PROJECT_ID, &small)
        .branches()
        .await
        .unwrap_err();
    assert!(
        matches!(err, GitLabError::BudgetExhausted { budget: 2 }),
        "{err}"
    );
    assert_eq!(small.used(), 2);

    let mut settings = super::settings(&fake);
    settings.token = registry_gc::secret::Secret::new("glpat-wrong-token");
    let wrong = registry_gc::gitlab::GitLabClient::new(settings.clone()).unwrap();
    let err = wrong
        .project(PROJECT_ID, &budget())
        .project()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
    let shown = format!("{err} {err:?} {settings:?} {wrong:?}");
    assert!(
        !shown.contains("glpat-wrong-token") && !shown.contains(TOKEN),
        "{shown}"
    );
}
