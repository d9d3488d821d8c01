//! Reads the registry for planning: every tag of the project's repositories and the digest each
//! points at — from GitLab's paginated tag list where the registry offers it (a request per thousand
//! tags, with when each tag last moved), else a tag listing and a HEAD per tag. A repository that
//! cannot be read is marked unlisted, so the plan keeps everything in it.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};

use crate::policy::{Action, Protections, RegistrySnapshot, TagInfo};
use crate::registry::manifest::Manifest;
use crate::registry::{RegistryClient, RegistryError};

/// Lists and resolves `repositories`, `concurrency` requests at a time per repository.
pub async fn read(
    client: &RegistryClient,
    repositories: &[String],
    concurrency: usize,
) -> RegistrySnapshot {
    let mut snapshot = RegistrySnapshot::default();
    for repo in repositories {
        match read_repository(client, repo, concurrency).await {
            Ok(tags) => {
                let entry = snapshot.repositories.entry(repo.clone()).or_default();
                entry.tags.extend(tags);
            }
            Err(e) => {
                tracing::warn!(repository = %repo, error = %e, "cannot read repository; everything in it is kept");
                snapshot.mark_unlisted(repo, &format!("registry could not be read: {e}"));
            }
        }
    }
    snapshot
}

async fn read_repository(
    client: &RegistryClient,
    repo: &str,
    concurrency: usize,
) -> Result<Vec<(String, TagInfo)>, RegistryError> {
    if client.gitlab_api().await {
        let tags = client.list_tag_details(repo).await?;
        return Ok(tags
            .into_iter()
            .map(|t| {
                let digest = t.digest.as_str().into();
                let info = TagInfo {
                    digest,
                    created: t.published,
                };
                (t.name, info)
            })
            .collect());
    }
    let tags = client.list_tags(repo).await?;
    let resolved: Vec<_> = stream::iter(tags)
        .map(|tag| async move { client.resolve(repo, &tag).await.map(|d| (tag, d)) })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut out = Vec::with_capacity(resolved.len());
    for result in resolved {
        // A tag deleted between listing and resolving simply is not there.
        if let (tag, Some(digest)) = result? {
            let info = TagInfo {
                digest: digest.as_str().into(),
                created: None,
            };
            out.push((tag, info));
        }
    }
    Ok(out)
}

/// Reads the creation time of untracked tags (no webhook record) in repositories where an age rule
/// could delete them (`wanted(repository)`) and the listing gave no time; one manifest and one
/// config read each.
pub async fn date_untracked(
    client: &RegistryClient,
    snapshot: &mut RegistrySnapshot,
    recorded: &HashSet<(&str, &str)>,
    wanted: impl Fn(&str) -> bool,
    concurrency: usize,
) {
    let todo: Vec<(String, String)> = snapshot
        .repositories
        .iter()
        .filter(|(repo, _)| wanted(repo))
        .flat_map(|(repo, r)| {
            let undated = r.tags.iter().filter(|(_, info)| info.created.is_none());
            undated.map(move |(t, _)| (repo.clone(), t.clone()))
        })
        .filter(|(repo, tag)| !recorded.contains(&(repo.as_str(), tag.as_str())))
        .collect();
    let dated: Vec<(String, String, Option<DateTime<Utc>>)> = stream::iter(todo)
        .map(|(repo, tag)| async move {
            let created = client
                .summarize(&repo, &tag, true)
                .await
                .ok()
                .flatten()
                .and_then(|s| s.created);
            (repo, tag, created)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    for (repo, tag, created) in dated {
        if let Some(info) = snapshot
            .repositories
            .get_mut(&repo)
            .and_then(|r| r.tags.get_mut(&tag))
        {
            info.created = created;
        }
    }
}

/// Fills in the size of every image the plan deletes (one manifest read each), for the totals.
pub async fn size_deleted_images(
    client: &RegistryClient,
    actions: &mut [Action],
    concurrency: usize,
) {
    let wanted: Vec<(usize, String, String)> = actions
        .iter()
        .enumerate()
        .filter_map(|(i, a)| match a {
            Action::DeleteImage {
                repository,
                digest,
                size: None,
                ..
            } => Some((i, repository.to_string(), digest.to_string())),
            _ => None,
        })
        .collect();
    let sizes: Vec<(usize, Option<u64>)> = stream::iter(wanted)
        .map(|(i, repo, digest)| async move {
            let size = client
                .summarize(&repo, &digest, false)
                .await
                .ok()
                .flatten()
                .map(|s| s.bytes);
            (i, size)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    for (i, found) in sizes {
        if let Action::DeleteImage { size, .. } = &mut actions[i] {
            *size = found;
        }
    }
}

/// Protects every multi-arch index the plan would delete whose child image the cluster uses (one
/// manifest read per distinct digest, only when the cluster reports digests in use). Returns
/// whether any index became protected, so the caller plans again.
pub async fn protect_indexes(
    client: &RegistryClient,
    actions: &[Action],
    protections: &mut Protections,
) -> bool {
    if protections.digests.is_empty() {
        return false;
    }
    let mut wanted: Vec<(String, String)> = actions
        .iter()
        .map(|a| (a.repository().to_owned(), a.digest().to_string()))
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let children: Vec<(String, Vec<String>)> = stream::iter(wanted)
        .map(|(repo, digest)| async move {
            let fetched = client.fetch_manifest(&repo, &digest).await.ok().flatten();
            let kids = match fetched.map(|m| m.manifest) {
                Some(Manifest::Index { manifests, .. }) => {
                    manifests.iter().map(|c| c.digest.to_string()).collect()
                }
                _ => Vec::new(),
            };
            (digest, kids)
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut changed = false;
    for (index, kids) in children.iter().filter(|(_, k)| !k.is_empty()) {
        changed |= protections.protect_index(index, kids.iter().map(String::as_str));
    }
    changed
}
