//! Planning one project: judge every listed tag, group the deletable ones by digest into
//! `DeleteImage` or `Untag` actions, keep everything in unlisted repositories, and hold back every
//! deletion when cluster protection is unavailable. Pure: same input, same (sorted) plan.

// Fx hashing: internal tables only, keyed by strings and ids from our own input (no DoS concern).
use rustc_hash::FxHashSet as HashSet;
use std::sync::Arc;

use super::action::{Action, Kept, Plan, TagDeletion, Totals};
use super::index::Index;
use super::reason::KeepReason;
use super::rules::{judge, Candidate, Context, RepositoryFacts};
use super::snapshot::RepositorySnapshot;
use super::PlanInput;
use crate::model::HexId;

/// Plans the deletions for one project. See the module docs of [`crate::policy`].
pub fn plan(input: &PlanInput) -> Plan {
    let index = Index::new(input.state);
    let ctx = Context {
        input,
        index: &index,
    };
    let snapshot = input.snapshot;
    let mut repositories: Vec<&String> = snapshot
        .repositories
        .keys()
        .chain(snapshot.unlisted.keys())
        .collect();
    repositories.sort_unstable();
    repositories.dedup();
    let (mut actions, mut kept) = (Vec::new(), Vec::new());
    let mut rules = Names::default();
    // Repository by repository, each sorted on its own: small sorts stay in cache.
    for repository in repositories {
        let mut repo = Outcome::default();
        let name: Arc<str> = Arc::from(repository.as_str());
        match (
            snapshot.unlisted.get(repository),
            snapshot.repositories.get(repository),
        ) {
            (Some(why), _) => keep_unlisted(&name, why, &index, &mut rules, &mut repo.kept),
            (None, Some(listed)) => {
                plan_repository(&name, listed, &ctx, &mut rules, &mut repo);
            }
            (None, None) => continue, // not reachable: the list is built from both maps
        }
        if let Some(why) = input.protections.unavailable_reason() {
            hold_back(why, std::mem::take(&mut repo.actions), &mut repo.kept);
        }
        repo.actions
            .sort_unstable_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        repo.kept.sort_unstable_by(|a, b| a.tag.cmp(&b.tag));
        actions.append(&mut repo.actions);
        kept.append(&mut repo.kept);
    }
    let totals = Totals::count(&actions, &kept);
    Plan {
        actions,
        kept,
        totals,
    }
}

/// One shared copy of each name the plan repeats (image rules): a plan entry holds a pointer to
/// it rather than a string of its own.
#[derive(Default)]
struct Names(HashSet<Arc<str>>);

impl Names {
    fn get(&mut self, name: &str) -> Arc<str> {
        if let Some(shared) = self.0.get(name) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(name);
        self.0.insert(shared.clone());
        shared
    }
}

/// The actions and kept tags of one repository.
#[derive(Default)]
struct Outcome {
    actions: Vec<Action>,
    kept: Vec<Kept>,
}

fn plan_repository(
    repository: &Arc<str>,
    snapshot: &RepositorySnapshot,
    ctx: &Context,
    rules: &mut Names,
    Outcome { actions, kept }: &mut Outcome,
) {
    let records_by_tag = ctx.index.tag_records(repository);
    let facts = RepositoryFacts::new(snapshot, &records_by_tag);
    let mut deletable: Vec<(&HexId, TagDeletion)> = Vec::new();
    let mut kept_digests: HashSet<&HexId> = HashSet::default();
    for (tag, info) in &snapshot.tags {
        let records = records_by_tag
            .get(tag.as_str())
            .map_or(&[][..], Vec::as_slice);
        let candidate = Candidate {
            repository,
            tag,
            info,
            records,
        };
        let (rule, verdict) = judge(&candidate, ctx, &facts);
        let rule = rule.map(|rule| rules.get(rule));
        match verdict {
            Ok(reason) => {
                let tag = tag.clone();
                deletable.push((&info.digest, TagDeletion { tag, rule, reason }));
            }
            Err(reason) => {
                kept_digests.insert(&info.digest);
                kept.push(Kept {
                    repository: repository.clone(),
                    tag: tag.clone(),
                    digest: Some(info.digest.clone()),
                    rule,
                    reason,
                });
            }
        }
    }
    group_actions(repository, snapshot, deletable, &kept_digests, actions);
}

/// Per digest: tags that share it with a kept tag are untagged one by one; an image whose every
/// tag goes is deleted whole.
fn group_actions(
    repository: &Arc<str>,
    snapshot: &RepositorySnapshot,
    mut deletable: Vec<(&HexId, TagDeletion)>,
    kept_digests: &HashSet<&HexId>,
    actions: &mut Vec<Action>,
) {
    // By digest, then tag: each image's tags come out together, sorted.
    deletable.sort_unstable_by(|a, b| (a.0, &a.1.tag).cmp(&(b.0, &b.1.tag)));
    // Run lengths first, so that each image's list (which the plan keeps) is allocated at its exact
    // size: most images have one tag, and a pushed-to Vec starts with room for four.
    let runs: Vec<usize> = deletable
        .chunk_by(|a, b| a.0 == b.0)
        .map(<[_]>::len)
        .collect();
    let mut rest = deletable.into_iter();
    for run in runs {
        let mut tags = Vec::with_capacity(run);
        let mut digest = None;
        for (on, deletion) in rest.by_ref().take(run) {
            digest = Some(on);
            tags.push(deletion);
        }
        let Some(digest) = digest else { continue };
        if kept_digests.contains(digest) {
            actions.extend(tags.into_iter().map(|t| Action::Untag {
                repository: repository.clone(),
                tag: t.tag,
                digest: digest.clone(),
                rule: t.rule,
                reason: t.reason,
            }));
        } else {
            actions.push(Action::DeleteImage {
                repository: repository.clone(),
                digest: digest.clone(),
                size: snapshot.sizes.get(digest).copied(),
                tags,
            });
        }
    }
}

/// Every recorded tag of a repository that could not be listed is kept, with the listing error.
fn keep_unlisted(
    repository: &Arc<str>,
    why: &str,
    index: &Index,
    rules: &mut Names,
    kept: &mut Vec<Kept>,
) {
    // Sorted so that, of several records of one tag, the choice does not depend on input order.
    let mut records: Vec<_> = index
        .by_repository
        .get(&**repository)
        .map_or(&[][..], Vec::as_slice)
        .to_vec();
    records
        .sort_unstable_by(|a, b| (&a.tag, &a.rule, &a.digest).cmp(&(&b.tag, &b.rule, &b.digest)));
    records.dedup_by(|a, b| a.tag == b.tag);
    for record in records {
        kept.push(Kept {
            repository: repository.clone(),
            tag: record.tag.clone(),
            digest: record.digest.clone(),
            rule: Some(rules.get(&record.rule)),
            reason: KeepReason::RepositoryUnlisted {
                why: why.to_owned(),
            },
        });
    }
}

/// Cluster protection is configured but unreadable: every planned deletion becomes a keep.
fn hold_back(why: &str, actions: Vec<Action>, kept: &mut Vec<Kept>) {
    for action in actions {
        let (repository, digest, tags) = match action {
            Action::Untag {
                repository,
                tag,
                digest,
                rule,
                reason,
            } => (repository, digest, vec![TagDeletion { tag, rule, reason }]),
            Action::DeleteImage {
                repository,
                digest,
                tags,
                ..
            } => (repository, digest, tags),
        };
        kept.extend(tags.into_iter().map(|t| Kept {
            repository: repository.clone(),
            tag: t.tag,
            digest: Some(digest.clone()),
            rule: t.rule,
            reason: KeepReason::ProtectionUnavailable {
                why: why.to_owned(),
                otherwise: t.reason,
            },
        }));
    }
}
