//! Scale benchmark for the retention planner (run through `scripts/bench-plan.sh`).
//!
//! Synthesizes recorded state + registry snapshot for 10k, 100k and 1M tags (100 tags per
//! repository, two repositories per app: `gN/app-ci` and `gN/app`), plans, and reports the time to
//! build the input, the time to plan and the peak RSS (`VmHWM`). Every size runs in a child
//! process so sizes do not pollute each other's peak. `--one-project` (the default) puts every app
//! in one project, planned in one call (a single 1M-tag project); `--per-project` plans app by app,
//! as the daemon does with many small projects. Each row is compared with [`BASELINE`].
//!
//! Usage: `plan_scale [--one-project | --per-project] [TAGS...]` (default 10000 100000 1000000).

use std::collections::HashMap;
use std::process::Command;
use std::time::Instant;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use registry_gc::model::{
    ImageTagRecord, MergeRequestRecord, MrState, Names, PipelineRecord, PipelineStatus,
    ProjectRecord, ProjectState, RefKind, RefRecord, RefState, TagKind,
};
use registry_gc::policy::{
    plan, Plan, PlanInput, ProjectPolicy, Protections, RegistrySnapshot, TagInfo,
};

/// Tags per app: 90 commit + 10 branch tags in `app-ci`, 98 prod deploys + `prod` + `latest`.
const TAGS_PER_APP: usize = 200;
const BRANCHES_PER_APP: usize = 10;
const COMMITS_PER_APP: i64 = 90;
const DEPLOYS_PER_APP: i64 = 98;

/// Before issue #12's memory work (commit 95075de, same machine, same script, load 3–5):
/// `(per_project, tags, plan_ms, peak_mib)`. Its 1M one-project plan took 2.4–3.4 s over five
/// runs; 3170 ms is the median of three run alternately with this version's.
const BASELINE: &[(bool, usize, f64, f64)] = &[
    (false, 10_000, 19.0, 22.0),
    (false, 100_000, 197.0, 189.0),
    (false, 1_000_000, 3170.0, 1870.0),
    (true, 10_000, 6.0, 4.0),
    (true, 100_000, 61.0, 4.0),
    (true, 1_000_000, 646.0, 4.0),
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(pos) = args.iter().position(|a| a == "--child") {
        let tags: usize = args[pos + 1].parse().expect("--child TAGS");
        let per_project = args.iter().any(|a| a == "--per-project");
        println!(
            "{}",
            if per_project {
                run_per_project(tags)
            } else {
                run_whole(tags)
            }
        );
        return;
    }
    let per_project = args.iter().any(|a| a == "--per-project");
    let mut sizes: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    if sizes.is_empty() {
        sizes = vec![10_000, 100_000, 1_000_000];
    }
    let mode = if per_project {
        "per project (one ProjectState per app, planned one after another)"
    } else {
        "one project (one ProjectState holding every app, planned in one call)"
    };
    println!("mode: {mode}");
    let rows: Vec<HashMap<String, String>> = sizes
        .iter()
        .map(|&tags| run_child(tags, per_project))
        .collect();
    report(&rows);
    compare_with_baseline(&rows, per_project);
}

/// Prints each size's plan time and peak as a ratio of [`BASELINE`] (below 1 = better).
fn compare_with_baseline(rows: &[HashMap<String, String>], per_project: bool) {
    for row in rows {
        let tags = num(row, "tags") as usize;
        let Some(&(_, _, plan_ms, peak_mib)) = BASELINE
            .iter()
            .find(|b| b.0 == per_project && b.1 == tags && b.2 > 0.0)
        else {
            continue;
        };
        let (plan, peak) = (num(row, "plan_ms"), num(row, "peak_mib"));
        println!(
            "{tags} tags vs baseline: plan {plan_ms:.0} -> {plan:.0} ms ({:.2}x), peak {peak_mib:.0} -> {peak:.0} MiB ({:.2}x)",
            plan / plan_ms,
            peak / peak_mib
        );
    }
}

/// Runs one size in a child process and parses its `key=value` line.
fn run_child(tags: usize, per_project: bool) -> HashMap<String, String> {
    let exe = std::env::current_exe().expect("own path");
    let mut command = Command::new(exe);
    command.args(["--child", &tags.to_string()]);
    if per_project {
        command.arg("--per-project");
    }
    let output = command.output().expect("run child");
    assert!(
        output.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = String::from_utf8(output.stdout).expect("utf-8");
    line.split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn report(rows: &[HashMap<String, String>]) {
    let columns = [
        "tags",
        "repositories",
        "records",
        "build_ms",
        "plan_ms",
        "rss_input_mib",
        "peak_mib",
        "removed",
        "kept",
    ];
    println!("{}", columns.map(|c| format!("{c:>14}")).join(""));
    for row in rows {
        println!(
            "{}",
            columns
                .map(|c| format!("{:>14}", row.get(c).map_or("-", String::as_str)))
                .join("")
        );
    }
    for pair in rows.windows(2) {
        let ratio = |key: &str| {
            let (a, b) = (num(&pair[0], key), num(&pair[1], key));
            if a > 0.0 {
                format!("{:.1}x", b / a)
            } else {
                "-".into()
            }
        };
        println!(
            "{} -> {} tags: tags {}, build {}, plan {}, peak {}",
            pair[0]["tags"],
            pair[1]["tags"],
            ratio("tags"),
            ratio("build_ms"),
            ratio("plan_ms"),
            ratio("peak_mib")
        );
    }
}

fn num(row: &HashMap<String, String>, key: &str) -> f64 {
    row.get(key).and_then(|v| v.parse().ok()).unwrap_or(0.0)
}

/// One project (`ProjectState`) with every app: the worst case for a single `plan` call.
fn run_whole(tags: usize) -> String {
    let apps = tags.div_ceil(TAGS_PER_APP);
    let started = Instant::now();
    let (state, snapshot) = synthesize(0..apps);
    let build = started.elapsed();
    let rss_input = vm_kib("VmRSS");
    let (planned, result) = timed_plan(&state, &snapshot);
    format!(
        "tags={} repositories={} records={} build_ms={} plan_ms={} rss_input_mib={} peak_mib={} removed={} kept={}",
        snapshot.repositories.values().map(|r| r.tags.len()).sum::<usize>(),
        snapshot.repositories.len(),
        state.image_tags.len(),
        build.as_millis(),
        planned.as_millis(),
        rss_input / 1024,
        vm_kib("VmHWM") / 1024,
        result.totals.tags_removed,
        result.totals.tags_kept,
    )
}

/// One small `ProjectState` per app, built and planned one after the other (daemon shape).
fn run_per_project(tags: usize) -> String {
    let apps = tags.div_ceil(TAGS_PER_APP);
    let (mut build, mut planned) = (TimeDelta::zero(), TimeDelta::zero());
    let (mut listed, mut records, mut removed, mut kept) = (0, 0, 0, 0);
    for app in 0..apps {
        let started = Instant::now();
        let (state, snapshot) = synthesize(app..app + 1);
        build += TimeDelta::from_std(started.elapsed()).unwrap();
        let (took, result) = timed_plan(&state, &snapshot);
        planned += TimeDelta::from_std(took).unwrap();
        listed += snapshot
            .repositories
            .values()
            .map(|r| r.tags.len())
            .sum::<usize>();
        records += state.image_tags.len();
        (removed, kept) = (
            removed + result.totals.tags_removed,
            kept + result.totals.tags_kept,
        );
    }
    format!(
        "tags={listed} repositories={} records={records} build_ms={} plan_ms={} rss_input_mib=- peak_mib={} removed={removed} kept={kept}",
        apps * 2,
        build.num_milliseconds(),
        planned.num_milliseconds(),
        vm_kib("VmHWM") / 1024,
    )
}

/// Plans with default settings and no cluster protection; returns the wall time taken.
fn timed_plan(state: &ProjectState, snapshot: &RegistrySnapshot) -> (std::time::Duration, Plan) {
    let (protections, policy) = (Protections::none(), ProjectPolicy::default());
    let started = Instant::now();
    let input = PlanInput {
        state,
        snapshot,
        protections: &protections,
        now: now(),
        policy: &policy,
    };
    let result = plan(&input);
    (started.elapsed(), result)
}

/// A field of `/proc/self/status` in KiB (0 where unavailable).
fn vm_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches(" kB").parse().ok())
        .unwrap_or(0)
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap()
}

fn hours_ago(hours: i64) -> DateTime<Utc> {
    now() - TimeDelta::hours(hours)
}

/// A fake 40-hex commit sha / 64-hex digest from a number.
fn hex(n: u64, width: usize) -> String {
    let mixed = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (n >> 7);
    format!("{:0>width$}", format!("{mixed:016x}{n:016x}"))
}

/// Builds state and snapshot for the apps in `apps`.
fn synthesize(apps: std::ops::Range<usize>) -> (ProjectState, RegistrySnapshot) {
    let mut w = Synth::default();
    w.state.project = Some(ProjectRecord {
        id: 1,
        path: "g/app".into(),
        default_branch: Some("main".into()),
        first_seen: hours_ago(10_000),
        last_event_at: now(),
    });
    w.branch("main", RefState::Live, None);
    for app in apps {
        w.app(app);
    }
    (w.state, w.snapshot)
}

#[derive(Default)]
struct Synth {
    state: ProjectState,
    snapshot: RegistrySnapshot,
    next_pipeline: i64,
    /// Shared repository, rule and ref names, as `Store::project_state` hands them out.
    names: Names,
}

impl Synth {
    /// One app: branches in three states, commit pipelines, branch tags, prod deploys.
    fn app(&mut self, app: usize) {
        let (ci, prod) = (format!("g{app}/app-ci"), format!("g{app}/app"));
        let branches: Vec<String> = (0..BRANCHES_PER_APP)
            .map(|j| format!("feature/{app}-{j}"))
            .collect();
        for (j, name) in branches.iter().enumerate() {
            match j % 3 {
                0 => self.branch(name, RefState::Deleted, Some(hours_ago(2_400))),
                1 => {
                    self.branch(name, RefState::Live, None);
                    self.merge_request(j as i64 + 1, name, hours_ago(240));
                }
                _ => self.branch(name, RefState::Live, None),
            }
        }
        let mut last_commit_digest = vec![String::new(); BRANCHES_PER_APP];
        for k in 0..COMMITS_PER_APP {
            let j = k as usize % BRANCHES_PER_APP;
            let status = if k == COMMITS_PER_APP - 1 {
                PipelineStatus::Running
            } else {
                PipelineStatus::Success
            };
            let id = self.pipeline(&branches[j], status, COMMITS_PER_APP - k + 300);
            let digest = format!("sha256:{}", hex(id as u64, 64));
            self.tag(
                &ci,
                &hex(id as u64, 40),
                TagKind::CiCommit,
                id,
                &branches[j],
                &digest,
            );
            last_commit_digest[j] = digest;
        }
        for (j, name) in branches.iter().enumerate() {
            let id = self.pipeline(name, PipelineStatus::Success, 300);
            let slug = name.replace('/', "-");
            self.tag(
                &ci,
                &slug,
                TagKind::CiBranch,
                id,
                name,
                &last_commit_digest[j],
            );
        }
        for k in 0..DEPLOYS_PER_APP {
            let id = self.pipeline("main", PipelineStatus::Success, DEPLOYS_PER_APP - k + 10);
            let digest = format!("sha256:{}", hex(id as u64, 64));
            self.tag(
                &prod,
                &format!("prod-{}", hex(id as u64, 40)),
                TagKind::ProdCommit,
                id,
                "main",
                &digest,
            );
            if k == DEPLOYS_PER_APP - 1 {
                self.tag(&prod, "prod", TagKind::ProdCurrent, id, "main", &digest);
                self.snapshot.insert(
                    &prod,
                    "latest",
                    TagInfo {
                        digest: digest.into(),
                        created: Some(hours_ago(10)),
                    },
                );
            }
        }
    }

    fn branch(&mut self, name: &str, state: RefState, deleted_at: Option<DateTime<Utc>>) {
        self.state.refs.push(RefRecord {
            project_id: 1,
            kind: RefKind::Branch,
            name: name.into(),
            slug: name.replace('/', "-"),
            state,
            protected: false,
            last_sha: None,
            created_at: Some(hours_ago(5_000)),
            deleted_at,
            deleted_by: None,
            last_pipeline_at: None,
            updated_at: hours_ago(5_000),
        });
    }

    fn merge_request(&mut self, iid: i64, source: &str, merged_at: DateTime<Utc>) {
        self.state.merge_requests.push(MergeRequestRecord {
            project_id: 1,
            iid,
            id: None,
            source_branch: source.into(),
            target_branch: "main".into(),
            state: MrState::Merged,
            merged_at: Some(merged_at),
            closed_at: None,
            updated_at: Some(merged_at),
        });
    }

    fn pipeline(&mut self, ref_name: &str, status: PipelineStatus, age_hours: i64) -> i64 {
        self.next_pipeline += 1;
        let created = hours_ago(age_hours);
        let finished = status
            .is_finished()
            .then(|| created + TimeDelta::minutes(10));
        self.state.pipelines.push(PipelineRecord {
            project_id: 1,
            id: self.next_pipeline,
            iid: Some(self.next_pipeline),
            ref_name: self.names.get(ref_name),
            tag: false,
            sha: hex(self.next_pipeline as u64, 40).into(),
            source: Some(self.names.get("push")),
            status,
            merge_request_iid: None,
            created_at: Some(created),
            finished_at: finished,
            updated_at: finished.unwrap_or(created),
        });
        self.next_pipeline
    }

    fn tag(
        &mut self,
        repository: &str,
        tag: &str,
        kind: TagKind,
        pipeline: i64,
        ref_name: &str,
        digest: &str,
    ) {
        let seen = self
            .state
            .pipelines
            .last()
            .and_then(|p| p.created_at)
            .unwrap_or_else(now);
        self.state.image_tags.push(ImageTagRecord {
            project_id: 1,
            repository: self.names.get(repository),
            tag: tag.into(),
            kind,
            rule: self.names.get(if repository.ends_with("-ci") {
                "ci"
            } else {
                "prod"
            }),
            ref_kind: RefKind::Branch,
            ref_name: self.names.get(ref_name),
            sha: hex(pipeline as u64, 40).into(),
            pipeline_id: pipeline,
            first_seen: seen,
            last_seen: seen,
            digest: Some(digest.into()),
        });
        let repo = self
            .snapshot
            .repositories
            .entry(repository.into())
            .or_default();
        repo.sizes
            .insert(digest.into(), 50_000_000 + pipeline as u64);
        repo.tags.insert(
            tag.into(),
            TagInfo {
                digest: digest.into(),
                created: Some(seen),
            },
        );
    }
}
