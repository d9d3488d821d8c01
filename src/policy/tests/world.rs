//! A small builder for planner inputs: a project history, a registry snapshot and a clock,
//! written in hours after a fixed epoch so table rows stay one line each.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use crate::model::{
    ImageTagRecord, MergeRequestRecord, MrState, PipelineRecord, PipelineStatus, ProjectRecord,
    ProjectState, RefKind, RefRecord, RefState, TagKind,
};
use crate::policy::{
    plan, Action, Plan, PlanInput, ProjectPolicy, Protections, RegistrySnapshot, TagInfo,
};

/// CI repository used by the tables.
pub const CI: &str = "g/app-ci";
/// Prod repository used by the tables.
pub const APP: &str = "g/app";

/// `hours` after the epoch of every test.
pub fn h(hours: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + TimeDelta::hours(hours)
}

pub use crate::model::slugify;

/// A planner input under construction.
pub struct World {
    pub state: ProjectState,
    pub snapshot: RegistrySnapshot,
    pub protections: Protections,
    pub policy: ProjectPolicy,
    pub now: DateTime<Utc>,
}

impl World {
    /// Project `g/app` with default branch `main`, no history, now = hour 1000.
    pub fn new() -> Self {
        let project = ProjectRecord {
            id: 1,
            path: "g/app".into(),
            default_branch: Some("main".into()),
            first_seen: h(0),
            last_event_at: h(0),
        };
        World {
            state: ProjectState {
                project: Some(project),
                ..ProjectState::default()
            },
            snapshot: RegistrySnapshot::default(),
            protections: Protections::none(),
            policy: ProjectPolicy::default(),
            now: h(1000),
        }
    }

    /// A live ref created at `created`.
    pub fn git_ref(&mut self, kind: RefKind, name: &str, created: i64) -> &mut RefRecord {
        self.state.refs.push(RefRecord {
            project_id: 1,
            kind,
            name: name.into(),
            slug: slugify(name),
            state: RefState::Live,
            protected: false,
            last_sha: None,
            created_at: Some(h(created)),
            deleted_at: None,
            deleted_by: None,
            last_pipeline_at: None,
            updated_at: h(created),
        });
        self.state.refs.last_mut().unwrap()
    }

    /// A live branch created at `created`.
    pub fn branch(&mut self, name: &str, created: i64) -> &mut RefRecord {
        self.git_ref(RefKind::Branch, name, created)
    }

    /// A branch created at `created` and deleted at `deleted`.
    pub fn deleted_branch(&mut self, name: &str, created: i64, deleted: i64) -> &mut RefRecord {
        let branch = self.branch(name, created);
        branch.state = RefState::Deleted;
        branch.deleted_at = Some(h(deleted));
        branch
    }

    /// A pipeline on branch `ref_name` created at `created`, finished at `finished` if finished.
    pub fn pipeline(
        &mut self,
        id: i64,
        ref_name: &str,
        status: PipelineStatus,
        created: i64,
        finished: i64,
    ) {
        let done = status.is_finished();
        self.state.pipelines.push(PipelineRecord {
            project_id: 1,
            id,
            iid: Some(id),
            ref_name: ref_name.into(),
            tag: false,
            sha: sha(id).into(),
            source: Some("push".into()),
            status,
            merge_request_iid: None,
            created_at: Some(h(created)),
            finished_at: done.then(|| h(finished)),
            updated_at: h(if done { finished } else { created }),
        });
    }

    /// A merge request from `source` in `state`, done (merged/closed) at `at`.
    pub fn merge_request(&mut self, iid: i64, source: &str, state: MrState, at: i64) {
        self.state.merge_requests.push(MergeRequestRecord {
            project_id: 1,
            iid,
            id: None,
            source_branch: source.into(),
            target_branch: "main".into(),
            state,
            merged_at: (state == MrState::Merged).then(|| h(at)),
            closed_at: (state == MrState::Closed).then(|| h(at)),
            updated_at: Some(h(at)),
        });
    }

    /// A record of `repository:tag` pushed by pipeline `pipeline` on `ref_name`, first seen at `seen`.
    pub fn record(
        &mut self,
        repository: &str,
        tag: &str,
        kind: TagKind,
        pipeline: i64,
        ref_name: &str,
        seen: i64,
    ) -> Recorded<'_> {
        let rule = if repository == APP { "prod" } else { "ci" };
        self.state.image_tags.push(ImageTagRecord {
            project_id: 1,
            repository: repository.into(),
            tag: tag.into(),
            kind,
            rule: rule.into(),
            ref_kind: RefKind::Branch,
            ref_name: ref_name.into(),
            sha: sha(pipeline).into(),
            pipeline_id: pipeline,
            first_seen: h(seen),
            last_seen: h(seen),
            digest: None,
        });
        Recorded { world: self }
    }

    /// `repository:tag` in the registry, on `digest`, created at `created` (None = unknown).
    pub fn listed(&mut self, repository: &str, tag: &str, digest: &str, created: Option<i64>) {
        let info = TagInfo {
            digest: digest.into(),
            created: created.map(h),
        };
        self.snapshot.insert(repository, tag, info);
    }

    /// A `ci-commit` tag of pipeline `pipeline` on `feat`, started an hour before `finished`.
    pub fn commit(
        &mut self,
        tag: &str,
        pipeline: i64,
        status: PipelineStatus,
        finished: i64,
        digest: &str,
    ) {
        self.pipeline(pipeline, "feat", status, finished - 1, finished);
        self.record(CI, tag, TagKind::CiCommit, pipeline, "feat", finished - 1)
            .listed_on(digest);
    }

    /// A `ci-branch` tag (the branch's slug) pushed by a successful pipeline on `branch` at `at`.
    pub fn branch_tag(&mut self, branch: &str, pipeline: i64, at: i64, digest: &str) {
        self.pipeline(pipeline, branch, PipelineStatus::Success, at, at);
        self.record(
            CI,
            &slugify(branch),
            TagKind::CiBranch,
            pipeline,
            branch,
            at,
        )
        .listed_on(digest);
    }

    /// A `prod-commit` tag `prod-<pipeline>` pushed by a successful pipeline on `main`.
    pub fn prod_deploy(&mut self, pipeline: i64, at: i64, digest: &str) {
        self.pipeline(pipeline, "main", PipelineStatus::Success, at, at);
        self.record(
            APP,
            &format!("prod-{pipeline}"),
            TagKind::ProdCommit,
            pipeline,
            "main",
            at,
        )
        .listed_on(digest);
    }

    /// Plans with the current inputs.
    pub fn plan(&self) -> Plan {
        plan(&PlanInput {
            state: &self.state,
            snapshot: &self.snapshot,
            protections: &self.protections,
            now: self.now,
            policy: &self.policy,
        })
    }
}

/// The record just added, which can also be put in the registry.
pub struct Recorded<'w> {
    world: &'w mut World,
}

impl Recorded<'_> {
    /// Lists the recorded tag on `digest`, created when it was first seen.
    pub fn listed_on(self, digest: &str) {
        let record = self.world.state.image_tags.last().expect("just recorded");
        let info = TagInfo {
            digest: digest.into(),
            created: Some(record.first_seen),
        };
        let (repository, tag) = (record.repository.clone(), record.tag.clone());
        self.world.snapshot.insert(&repository, &tag, info);
    }
}

/// A fake commit sha derived from a pipeline id.
pub fn sha(pipeline: i64) -> String {
    format!("{pipeline:040x}")
}

/// `(repository:tag, reason code)` of every kept tag, sorted.
pub fn kept(plan: &Plan) -> Vec<(String, &'static str)> {
    plan.kept
        .iter()
        .map(|k| (format!("{}:{}", k.repository, k.tag), k.reason.code()))
        .collect()
}

/// One line per action: `untag repo:tag` or `delete repo@digest tag,tag`.
pub fn actions(plan: &Plan) -> Vec<String> {
    plan.actions
        .iter()
        .map(|action| match action {
            Action::Untag {
                repository, tag, ..
            } => format!("untag {repository}:{tag}"),
            Action::DeleteImage {
                repository,
                digest,
                tags,
                ..
            } => {
                let tags: Vec<&str> = tags.iter().map(|t| t.tag.as_str()).collect();
                format!("delete {repository}@{digest} {}", tags.join(","))
            }
        })
        .collect()
}

/// A table row: a history, then the actions and kept tags (with reason codes) expected.
pub struct Case {
    pub name: &'static str,
    pub build: fn(&mut World),
    pub actions: &'static [&'static str],
    pub kept: &'static [(&'static str, &'static str)],
}

/// Plans every row and reports all mismatches at once.
pub fn run(cases: &[Case]) {
    let mut failures = Vec::new();
    for case in cases {
        let mut world = World::new();
        (case.build)(&mut world);
        let plan = world.plan();
        let got_actions = actions(&plan);
        let got_kept = kept(&plan);
        let want_kept: Vec<(String, &str)> = case
            .kept
            .iter()
            .map(|(t, c)| ((*t).to_owned(), *c))
            .collect();
        if got_actions != case.actions || got_kept != want_kept {
            let reasons: Vec<String> = plan
                .kept
                .iter()
                .map(|k| format!("{}: {}", k.tag, k.reason))
                .collect();
            failures.push(format!(
                "{}:\n  actions {got_actions:?}\n     want {:?}\n  kept {got_kept:?}\n  want {want_kept:?}\n  {reasons:#?}",
                case.name, case.actions
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
