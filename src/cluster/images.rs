//! What the clusters use, at one moment: every image in use per cluster (spec references normalised
//! through the aliases, running digests from `imageID`), who uses it, what could not be parsed, and
//! whether each cluster and kind is fresh. Produces the policy's `Protections` for a registry host;
//! anything unavailable makes them unavailable. Pure: no I/O, no waiting.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::alias::Aliases;
use super::reference::{parse_image_id, parse_spec, Target};
use super::store::{ClusterState, KindView};
use crate::policy::{ImageUser, ImageUsers, Protections, Usage};

/// Unparsable references shown per cluster (all are counted).
const UNPARSABLE_SHOWN: usize = 20;
/// Spellings of one image shown.
const WRITTEN_SHOWN: usize = 5;
/// Problems named in an unavailable reason.
const PROBLEMS_NAMED: usize = 3;

/// What an image in use pins.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "by", rename_all = "lowercase")]
pub enum InUse {
    /// `registry/repository:tag` after aliases: protects that tag in that repository.
    Tag {
        registry: String,
        repository: String,
        tag: String,
    },
    /// A digest (from a spec `@sha256:…` or a running `imageID`): protected in every repository.
    Digest { digest: String },
}

/// One image in use and who uses it.
#[derive(Debug, Clone, Serialize)]
pub struct ImageInUse {
    #[serde(flatten)]
    pub image: InUse,
    /// How the objects wrote it (spec strings or `imageID`s), a few.
    pub written_as: Vec<String>,
    pub users: ImageUsers,
}

/// A reference that could not be parsed: counted, shown, never matched.
#[derive(Debug, Clone, Serialize)]
pub struct Unparsable {
    pub reference: String,
    pub error: String,
    pub user: ImageUser,
}

/// The images of one cluster (rebuilt only when something changed).
#[derive(Debug, Default, Serialize)]
pub struct ClusterIndex {
    pub images: Vec<ImageInUse>,
    /// Unparsable references per kind (`resource.group`).
    pub unparsable_by_kind: BTreeMap<String, usize>,
    /// The first few unparsable references.
    pub unparsable: Vec<Unparsable>,
}

/// The health of one cluster now.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterStatus {
    pub name: String,
    /// Every required kind is listed and fresh.
    pub up: bool,
    /// The oldest last contact over its kinds, when all have been listed.
    pub last_sync: Option<DateTime<Utc>>,
    /// Why protection is unavailable because of this cluster.
    pub problems: Vec<String>,
    pub kinds: Vec<KindView>,
}

/// A snapshot of every configured cluster (`render_json` is its JSON form).
#[derive(Debug, Clone)]
pub struct ClusterImages {
    pub taken_at: DateTime<Utc>,
    pub clusters: Vec<ClusterStatus>,
    /// Images per cluster, in the order of `clusters`; shared while nothing changes.
    pub index: Arc<Vec<ClusterIndex>>,
}

/// Indexes every cluster's images.
pub fn index(clusters: &[Arc<ClusterState>], aliases: &Aliases) -> Vec<ClusterIndex> {
    clusters.iter().map(|c| index_cluster(c, aliases)).collect()
}

fn index_cluster(cluster: &ClusterState, aliases: &Aliases) -> ClusterIndex {
    let mut entries: BTreeMap<InUse, (BTreeSet<String>, Vec<ImageUser>)> = BTreeMap::new();
    let mut out = ClusterIndex::default();
    let mut memo: HashMap<(bool, String), Result<InUse, String>> = HashMap::new();
    for kind in &cluster.kinds {
        kind.for_each(|object| {
            for (usage, raw) in &object.images {
                let running = matches!(usage, Usage::RunningDigest { .. });
                let parsed = memo
                    .entry((running, raw.clone()))
                    .or_insert_with(|| parse(running, raw, aliases));
                let user = ImageUser {
                    cluster: cluster.name.clone(),
                    kind: kind.name.kind.clone(),
                    namespace: object.namespace.clone(),
                    name: object.name.clone(),
                    usage: usage.clone(),
                };
                match parsed {
                    Ok(image) => {
                        let entry = entries.entry(image.clone()).or_default();
                        entry.0.insert(raw.clone());
                        entry.1.push(user);
                    }
                    Err(error) => {
                        *out.unparsable_by_kind
                            .entry(kind.name.resource.clone())
                            .or_default() += 1;
                        if out.unparsable.len() < UNPARSABLE_SHOWN {
                            let (reference, error) = (raw.clone(), error.clone());
                            out.unparsable.push(Unparsable {
                                reference,
                                error,
                                user,
                            });
                        }
                    }
                }
            }
        });
    }
    out.images = entries
        .into_iter()
        .map(|(image, (written, mut users))| {
            users.sort_by_cached_key(|u| (rank(u), u.clone()));
            users.dedup();
            ImageInUse {
                image,
                written_as: written.into_iter().take(WRITTEN_SHOWN).collect(),
                users: ImageUsers::new(users),
            }
        })
        .collect();
    out
}

/// A spec reference (through the aliases) or a running `imageID` as what it pins.
fn parse(running: bool, raw: &str, aliases: &Aliases) -> Result<InUse, String> {
    if running {
        return parse_image_id(raw).map(|digest| InUse::Digest { digest });
    }
    let image = aliases.canonical(parse_spec(raw)?);
    Ok(match image.target {
        Target::Digest(digest) => InUse::Digest { digest },
        Target::Tag(tag) => InUse::Tag {
            registry: image.registry,
            repository: image.repository,
            tag,
        },
    })
}

/// Which users a plan names first: workloads, then ReplicaSets, rollback targets, pods.
fn rank(user: &ImageUser) -> u8 {
    match (&user.usage, user.kind.as_str()) {
        (Usage::RunningDigest { .. }, _) => 5,
        (_, "Pod") => 4,
        (Usage::RollbackTarget { .. }, _) => 3,
        (_, "ReplicaSet") => 2,
        _ => 1,
    }
}

/// The health of `cluster` now.
pub fn status(cluster: &ClusterState, staleness: Duration) -> ClusterStatus {
    let kinds: Vec<KindView> = cluster.kinds.iter().map(|k| k.view(staleness)).collect();
    let mut problems: Vec<String> = cluster.setup_error().into_iter().collect();
    for k in &kinds {
        if let Some(problem) = &k.problem {
            let scope = k
                .namespace
                .as_deref()
                .map_or("all namespaces".into(), |n| format!("namespace {n}"));
            problems.push(format!("{} ({scope}): {problem}", k.kind));
        }
    }
    let required = kinds.iter().filter(|k| k.skipped.is_none());
    let last_sync = required
        .map(|k| k.last_contact.filter(|_| k.synced))
        .try_fold(None::<DateTime<Utc>>, |oldest, at| {
            at.map(|at| Some(oldest.map_or(at, |o| o.min(at))))
        })
        .flatten();
    ClusterStatus {
        name: cluster.name.clone(),
        up: problems.is_empty(),
        last_sync,
        problems,
        kinds,
    }
}

impl ClusterImages {
    /// Every problem, each naming its cluster and kind.
    pub fn problems(&self) -> Vec<String> {
        self.clusters
            .iter()
            .flat_map(|c| {
                c.problems
                    .iter()
                    .map(move |p| format!("cluster {}: {p}", c.name))
            })
            .collect()
    }

    /// Protections for the registry at `host` (`registry.example.com[:port]`): its tags in use,
    /// and every digest in use. Unavailable if any cluster or kind is.
    pub fn protections_for(&self, host: &str) -> Protections {
        self.protections(Some(&host.to_ascii_lowercase()))
    }

    /// Protections for every registry at once: tags of any host, keyed by repository alone.
    /// Keeps at least what [`Self::protections_for`] keeps, for callers that plan without a host.
    pub fn protections_anywhere(&self) -> Protections {
        self.protections(None)
    }

    fn protections(&self, host: Option<&str>) -> Protections {
        let problems = self.problems();
        if !problems.is_empty() {
            let mut reason = problems[..problems.len().min(PROBLEMS_NAMED)].join("; ");
            if problems.len() > PROBLEMS_NAMED {
                reason.push_str(&format!("; and {} more", problems.len() - PROBLEMS_NAMED));
            }
            return Protections::unavailable(&reason);
        }
        let mut protections = Protections::available();
        for image in self.index.iter().flat_map(|c| &c.images) {
            match &image.image {
                InUse::Tag {
                    registry,
                    repository,
                    tag,
                } if host.is_none_or(|h| h == registry) => {
                    protections.protect_tag(repository, tag, &image.users)
                }
                InUse::Tag { .. } => {}
                InUse::Digest { digest } => protections.protect_digest(digest, &image.users),
            }
        }
        protections
    }
}
