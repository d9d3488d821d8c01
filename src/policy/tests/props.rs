//! Property test: random histories (refs with colliding slugs, pipelines in every status, merge
//! requests, tags of every kind on shared digests, protections, keep patterns, unlisted
//! repositories) must never produce an unsafe action, and planning must be deterministic.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use chrono::TimeDelta;
use proptest::prelude::*;

use super::world::{h, slugify, World, APP, CI};
use crate::model::{HexId, MrState, PipelineStatus, RefKind, RefState, TagKind};
use crate::policy::{Action, KeepPatterns, Plan, Protections, RetentionSettings};

const NAMES: &[&str] = &[
    "main", "feat", "Feat", "feat_x", "feat-x", "old", "rel/1", "rel-1",
];
const TAGS: &[&str] = &[
    "t0", "t1", "t2", "t3", "t4", "latest", "v1.0.0", "prod", "feat", "feat-x",
];
const PATTERNS: &[&str] = &["^latest$", r"^v?\d+\.\d+\.\d+([-+].*)?$", "^t1$"];

/// (name, is git tag, deleted, created, deleted_at, last_pipeline_at)
type RefRow = (usize, bool, bool, i64, Option<i64>, Option<i64>);
/// (ref name, status, created, duration, has finished_at)
type PipelineRow = (usize, usize, i64, i64, bool);
/// (iid, source branch, state, done at, has times)
type MrRow = (i64, usize, usize, i64, bool);
/// (in app repo, tag, kind, pipeline id, ref name, on git tag, first seen, listed on digest)
type RecordRow = (bool, usize, usize, i64, usize, bool, i64, Option<usize>);
/// (in app repo, tag, digest, created): untracked unless a record names it
type ListedRow = (bool, usize, usize, Option<i64>);
/// (status, protected tags, protected digests)
type ProtectionRow = (usize, Vec<(bool, usize)>, Vec<usize>);
/// (ci grace h, branch grace h, stale after h, keep prod, min age h, untracked max age h, pattern mask)
type SettingsRow = (i64, i64, i64, usize, i64, Option<i64>, usize);

#[derive(Debug, Clone)]
struct History {
    refs: Vec<RefRow>,
    pipelines: Vec<PipelineRow>,
    merge_requests: Vec<MrRow>,
    records: Vec<RecordRow>,
    listed: Vec<ListedRow>,
    protection: ProtectionRow,
    settings: SettingsRow,
    unlisted: Option<bool>,
}

fn repo(is_app: bool) -> &'static str {
    if is_app {
        APP
    } else {
        CI
    }
}

fn history() -> impl Strategy<Value = History> {
    let hour = || 0i64..1000;
    let name = || 0..NAMES.len();
    let refs = (
        name(),
        prop::bool::weighted(0.2),
        any::<bool>(),
        hour(),
        prop::option::of(hour()),
        prop::option::of(hour()),
    );
    // Mostly finished pipelines (success, failed, canceling, canceled, skipped), any status sometimes.
    let status = prop_oneof![3 => 6usize..11, 1 => 0..PipelineStatus::ALL.len()];
    let pipelines = (name(), status, hour(), 0i64..50, prop::bool::weighted(0.9));
    let mrs = (
        1i64..5,
        name(),
        0..MrState::ALL.len(),
        hour(),
        prop::bool::weighted(0.9),
    );
    let records = (
        any::<bool>(),
        0..TAGS.len(),
        0..TagKind::ALL.len(),
        1i64..10,
        name(),
        prop::bool::weighted(0.1),
        hour(),
        prop::option::weighted(0.8, 0usize..6),
    );
    let listed = (
        any::<bool>(),
        0..TAGS.len(),
        0usize..6,
        prop::option::weighted(0.8, hour()),
    );
    let protected_tags = prop::collection::vec((any::<bool>(), 0..TAGS.len()), 0..3);
    let protection = (
        0usize..3,
        protected_tags,
        prop::collection::vec(0usize..6, 0..2),
    );
    let settings = (
        0i64..5,
        0i64..48,
        0i64..800,
        0usize..4,
        0i64..5,
        prop::option::of(0i64..500),
        0usize..8,
    );
    (
        prop::collection::vec(refs, 0..8),
        prop::collection::vec(pipelines, 3..12),
        prop::collection::vec(mrs, 0..5),
        prop::collection::vec(records, 0..24),
        prop::collection::vec(listed, 0..6),
        protection,
        settings,
        prop::option::weighted(0.2, any::<bool>()),
    )
        .prop_map(
            |(refs, pipelines, merge_requests, records, listed, protection, settings, unlisted)| {
                History {
                    refs,
                    pipelines,
                    merge_requests,
                    records,
                    listed,
                    protection,
                    settings,
                    unlisted,
                }
            },
        )
}

fn build(history: &History) -> World {
    let mut w = World::new();
    let mut seen = HashSet::new();
    for &(name, is_tag, deleted, created, deleted_at, last_pipeline) in &history.refs {
        let kind = if is_tag {
            RefKind::Tag
        } else {
            RefKind::Branch
        };
        if !seen.insert((kind, name)) {
            continue;
        }
        let r = w.git_ref(kind, NAMES[name], created);
        r.state = if deleted {
            RefState::Deleted
        } else {
            RefState::Live
        };
        (r.deleted_at, r.last_pipeline_at) = (deleted_at.map(h), last_pipeline.map(h));
    }
    for (i, &(name, status, created, took, has_finish)) in history.pipelines.iter().enumerate() {
        w.pipeline(
            i as i64 + 1,
            NAMES[name],
            PipelineStatus::ALL[status],
            created,
            created + took,
        );
        if !has_finish {
            w.state.pipelines.last_mut().unwrap().finished_at = None;
        }
    }
    let mut iids = HashSet::new();
    for &(iid, source, state, at, has_time) in &history.merge_requests {
        if iids.insert(iid) {
            w.merge_request(iid, NAMES[source], MrState::ALL[state], at);
            if !has_time {
                let mr = w.state.merge_requests.last_mut().unwrap();
                (mr.merged_at, mr.closed_at, mr.updated_at) = (None, None, None);
            }
        }
    }
    for &(app, tag, kind, pipeline, name, on_tag, seen, digest) in &history.records {
        let kind = TagKind::ALL[kind];
        // Mostly the tag a CI job would push for that kind; the shared pool makes kinds collide.
        let tag = match (kind, tag % 3) {
            (TagKind::CiBranch, 0 | 1) => slugify(NAMES[name]),
            (TagKind::ProdCurrent, 0 | 1) => "prod".to_owned(),
            _ => TAGS[tag].to_owned(),
        };
        w.record(repo(app), &tag, kind, pipeline, NAMES[name], seen);
        if let Some(digest) = digest {
            w.listed(repo(app), &tag, &format!("d{digest}"), Some(seen));
        }
        if on_tag {
            w.state.image_tags.last_mut().unwrap().ref_kind = RefKind::Tag;
        }
    }
    for &(app, tag, digest, created) in &history.listed {
        w.listed(repo(app), TAGS[tag], &format!("d{digest}"), created);
    }
    w.protections = protections(&history.protection);
    w.policy.default = settings(history.settings);
    // The prod rule differs in K and grace, but shares keep patterns and min age (checked below).
    let prod = RetentionSettings {
        keep_prod: history.settings.3 + 1,
        branch_grace: TimeDelta::zero(),
        ..settings(history.settings)
    };
    w.policy.per_rule.insert("prod".into(), prod);
    if let Some(app) = history.unlisted {
        w.snapshot.mark_unlisted(repo(app), "listing failed");
    }
    w
}

fn protections((status, tags, digests): &ProtectionRow) -> Protections {
    let digests: Vec<String> = digests.iter().map(|d| format!("d{d}")).collect();
    match status {
        0 => Protections::none(),
        1 => Protections::unavailable("cluster unreachable"),
        _ => Protections::in_use(
            tags.iter().map(|&(app, tag)| (repo(app), TAGS[tag])),
            digests.iter().map(String::as_str),
        ),
    }
}

fn settings(
    (commit, branch, stale, keep_prod, min_age, untracked, mask): SettingsRow,
) -> RetentionSettings {
    RetentionSettings {
        ci_commit_grace: TimeDelta::hours(commit),
        branch_grace: TimeDelta::hours(branch),
        stale_branch_after: TimeDelta::hours(stale),
        keep_prod,
        keep_patterns: keep_patterns(mask),
        min_age: TimeDelta::hours(min_age),
        untracked_max_age: untracked.map(TimeDelta::hours),
    }
}

/// The keep patterns selected by the bits of `mask`, compiled once per mask (debug regex
/// compilation would otherwise dominate the test's run time).
fn keep_patterns(mask: usize) -> KeepPatterns {
    static COMPILED: LazyLock<Vec<KeepPatterns>> = LazyLock::new(|| {
        (0..1 << PATTERNS.len())
            .map(|mask| {
                let chosen: Vec<&str> = PATTERNS
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, p)| *p)
                    .collect();
                KeepPatterns::new(&chosen).unwrap()
            })
            .collect()
    });
    COMPILED[mask].clone()
}

/// Checks the safety invariants of each tag an action removes.
fn check_tag(
    w: &World,
    repository: &str,
    tag: &str,
    pipelines: &HashMap<i64, PipelineStatus>,
) -> Result<(), TestCaseError> {
    let settings = &w.policy.default;
    let listed = &w.snapshot.repositories[repository].tags;
    prop_assert!(!w.protections.protects_tag(repository, tag));
    prop_assert!(settings.keep_patterns.matching(tag).is_none());
    let records: Vec<_> = w
        .state
        .image_tags
        .iter()
        .filter(|r| r.repository == repository && r.tag == tag)
        .collect();
    let born = records
        .iter()
        .map(|r| r.first_seen)
        .min()
        .or(listed[tag].created);
    prop_assert!(
        born.is_some_and(|born| w.now - born >= settings.min_age),
        "too young: {tag}"
    );
    for record in records {
        prop_assert!(record.kind != TagKind::ProdCurrent);
        prop_assert!(
            pipelines
                .get(&record.pipeline_id)
                .is_some_and(|s| s.is_finished()),
            "unfinished: {tag}"
        );
    }
    Ok(())
}

/// Checks every safety invariant of one plan against its input.
fn check(w: &World, plan: &Plan) -> Result<(), TestCaseError> {
    let kept: HashSet<(&str, &str)> = plan
        .kept
        .iter()
        .map(|k| (&*k.repository, k.tag.as_str()))
        .collect();
    let pipelines: HashMap<i64, PipelineStatus> =
        w.state.pipelines.iter().map(|p| (p.id, p.status)).collect();
    if w.protections.unavailable_reason().is_some() {
        prop_assert!(plan.actions.is_empty());
    }
    for action in &plan.actions {
        let repository = action.repository();
        prop_assert!(!w.snapshot.unlisted.contains_key(repository));
        prop_assert!(!w.protections.digests.contains(&*action.digest().text()));
        prop_assert!(
            !prod_current_digests(w, repository).contains(action.digest()),
            "prod-current digest: {action:?}"
        );
        let listed = &w.snapshot.repositories[repository].tags;
        for (tag, _) in action.tags() {
            prop_assert_eq!(&listed[tag].digest, action.digest());
            prop_assert!(!kept.contains(&(repository, tag)));
            check_tag(w, repository, tag, &pipelines)?;
        }
        let on_digest = listed
            .values()
            .filter(|i| &i.digest == action.digest())
            .count();
        let kept_on_digest = listed
            .iter()
            .filter(|(t, i)| {
                &i.digest == action.digest() && kept.contains(&(repository, t.as_str()))
            })
            .count();
        match action {
            Action::DeleteImage { tags, .. } => {
                prop_assert_eq!(kept_on_digest, 0);
                prop_assert_eq!(tags.len(), on_digest);
            }
            Action::Untag { .. } => prop_assert!(kept_on_digest > 0),
        }
    }
    let listable = |repository: &str| !w.snapshot.unlisted.contains_key(repository);
    let listed_count: usize = w
        .snapshot
        .repositories
        .iter()
        .filter(|(r, _)| listable(r.as_str()))
        .map(|(_, s)| s.tags.len())
        .sum();
    let planned =
        plan.totals.tags_removed + plan.kept.iter().filter(|k| listable(&k.repository)).count();
    prop_assert_eq!(
        planned,
        listed_count,
        "every listed tag is either removed or kept, once"
    );
    Ok(())
}

fn prod_current_digests<'a>(w: &'a World, repository: &str) -> HashSet<&'a HexId> {
    let Some(listed) = w.snapshot.repositories.get(repository) else {
        return HashSet::new();
    };
    w.state
        .image_tags
        .iter()
        .filter(|r| r.repository == repository && r.kind == TagKind::ProdCurrent)
        .filter_map(|r| listed.tags.get(&r.tag).map(|i| &i.digest))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn random_histories_plan_safely_and_deterministically(history in history()) {
        let mut w = build(&history);
        let plan = w.plan();
        check(&w, &plan)?;
        prop_assert_eq!(&w.plan(), &plan);
        w.state.refs.reverse();
        w.state.pipelines.reverse();
        w.state.merge_requests.reverse();
        w.state.image_tags.reverse();
        prop_assert_eq!(&w.plan(), &plan, "input order must not matter");
    }
}
