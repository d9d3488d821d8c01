//! Branches: which recorded live branches the list no longer shows (each then confirmed one by one
//! with the single-branch endpoint, where only a 404 counts), whether the list is plausible at all,
//! and the ref changes that follow. Pure; the confirmations are inputs.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Utc};

use super::common::{ReconcileError, Stamp};
use crate::gitlab::api::Branch;
use crate::gitlab::finding::{Finding, Found};
use crate::model::Change;
use crate::model::{RefKind, RefRecord, RefState};

/// The complete branch list, as read at `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchList {
    pub branches: Vec<Branch>,
    /// `x-total` (absent past 10,000 branches).
    pub total: Option<u64>,
}

/// How far a branch list may shrink against the records before it is not believed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShrinkLimits {
    /// Fewer than this share of the recorded live branches still listed: implausible.
    pub ratio: f64,
    /// Up to this many missing branches are always just confirmed one by one.
    pub min_missing: usize,
}

/// What the single-branch endpoint answered for a branch missing from the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    /// `404 Branch Not Found`.
    Gone,
    /// It is there after all (the list was wrong or it was re-created meanwhile).
    Exists(Branch),
}

/// A branch as the records (or an imported pipeline) know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Known<'a> {
    pub name: &'a str,
    pub state: RefState,
    /// When the record last changed; `None` for a branch only an imported pipeline names.
    pub updated_at: Option<DateTime<Utc>>,
}

/// The branches among `refs`.
pub(crate) fn known_branches(refs: &[RefRecord]) -> Vec<Known<'_>> {
    refs.iter()
        .filter(|r| r.kind == RefKind::Branch)
        .map(|r| Known {
            name: &r.name,
            state: r.state,
            updated_at: Some(r.updated_at),
        })
        .collect()
}

/// Recorded live branches the list lacks, sorted; an error when the list is not believable.
pub fn branches_to_confirm(
    refs: &[RefRecord],
    list: &BranchList,
    limits: ShrinkLimits,
) -> Result<Vec<String>, ReconcileError> {
    let live: Vec<&str> = known_branches(refs)
        .into_iter()
        .filter(|b| b.state == RefState::Live)
        .map(|b| b.name)
        .collect();
    let missing = missing_from(&live, list);
    check_plausible(live.len(), missing.len(), list, limits)?;
    Ok(missing)
}

/// Names of `names` the list does not show, sorted and unique.
pub(crate) fn missing_from(names: &[&str], list: &BranchList) -> Vec<String> {
    let listed: HashSet<&str> = list.branches.iter().map(|b| b.name.as_str()).collect();
    let missing: BTreeSet<&str> = names
        .iter()
        .copied()
        .filter(|n| !listed.contains(n))
        .collect();
    missing.into_iter().map(str::to_owned).collect()
}

fn check_plausible(
    live: usize,
    missing: usize,
    list: &BranchList,
    limits: ShrinkLimits,
) -> Result<(), ReconcileError> {
    let listed = list.branches.len();
    if let Some(total) = list.total.filter(|t| *t != listed as u64) {
        return Err(ReconcileError::Implausible(format!(
            "{listed} branches listed but x-total says {total}"
        )));
    }
    if live > 0 && listed == 0 {
        return Err(ReconcileError::Implausible(format!(
            "GitLab listed no branches at all, {live} are recorded live"
        )));
    }
    let still_listed = live - missing;
    if missing > limits.min_missing && (still_listed as f64) < limits.ratio * live as f64 {
        return Err(ReconcileError::Implausible(format!(
            "only {still_listed} of the {live} branches recorded live are listed \
             ({missing} missing; shrink_ratio {})",
            limits.ratio
        )));
    }
    Ok(())
}

/// The ref changes: listed branches recorded deleted or not at all become live; branches the
/// list lacks and the single-branch endpoint confirmed gone become deleted. A record that changed
/// after `stamp.at` (a webhook newer than what the API showed) is left alone.
pub(crate) fn branch_findings(
    known: &[Known<'_>],
    list: &BranchList,
    confirmations: &BTreeMap<String, Confirmation>,
    stamp: Stamp,
) -> Vec<Found> {
    let older = |k: &Known| k.updated_at.is_none_or(|u| u <= stamp.at);
    let by_name: BTreeMap<&str, &Known> = known.iter().map(|k| (k.name, k)).collect();
    let mut live: Vec<&Branch> = list.branches.iter().collect();
    live.extend(confirmations.values().filter_map(|c| match c {
        Confirmation::Exists(b) => Some(b),
        Confirmation::Gone => None,
    }));
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    for branch in live {
        let revived = match by_name.get(branch.name.as_str()) {
            Some(k) if k.state == RefState::Live || !older(k) => continue,
            Some(_) => true,
            None => false,
        };
        if !seen.insert(branch.name.as_str()) {
            continue;
        }
        found.push(stamp.found(
            Change::RefPushed {
                kind: RefKind::Branch,
                name: branch.name.clone(),
                sha: branch.commit.id.clone(),
                created: false,
                protected: Some(branch.protected),
                at: stamp.at,
            },
            Finding::BranchLive {
                branch: branch.name.clone(),
                revived,
            },
        ));
    }
    for (name, confirmation) in confirmations {
        let deletable = by_name
            .get(name.as_str())
            .is_some_and(|k| k.state == RefState::Live && older(k));
        if *confirmation == Confirmation::Gone && deletable {
            found.push(stamp.found(
                Change::RefDeleted {
                    kind: RefKind::Branch,
                    name: name.clone(),
                    at: stamp.at,
                },
                Finding::BranchDeleted {
                    branch: name.clone(),
                },
            ));
        }
    }
    found
}
