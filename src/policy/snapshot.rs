//! What the planner is told about the outside world: the registry's tags as they were listed
//! (`RegistrySnapshot`) and the images the cluster reports in use (`Protections`).
//! Plain data filled by the registry client and the cluster source; nothing here does I/O.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::users::ImageUsers;
use crate::model::HexId;

/// One tag as the registry listed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagInfo {
    /// Manifest digest the tag points at (`sha256:…`).
    pub digest: HexId,
    /// How old the tag counts as, if known: the image config's `created` (read for untracked tags),
    /// or, from GitLab's tag list, when the tag last got its image (push time, never before the
    /// build in practice, so an age rule waits at least as long).
    pub created: Option<DateTime<Utc>>,
}

/// One registry repository as listed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositorySnapshot {
    /// Tag → what it points at.
    pub tags: HashMap<String, TagInfo>,
    /// Manifest size in bytes per digest, where known (for totals only).
    pub sizes: HashMap<HexId, u64>,
}

/// The registry's tags for the repositories of one project (or more), read just before planning.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrySnapshot {
    /// Repository path (`group/app-ci`, no host) → its tags.
    pub repositories: HashMap<String, RepositorySnapshot>,
    /// Repositories that could not be listed, with why. Everything in them is kept.
    pub unlisted: BTreeMap<String, String>,
}

impl RegistrySnapshot {
    /// Records `repository:tag → digest` (creating the repository), for tests and tools.
    pub fn insert(&mut self, repository: &str, tag: &str, info: TagInfo) {
        self.repositories
            .entry(repository.to_owned())
            .or_default()
            .tags
            .insert(tag.to_owned(), info);
    }

    /// Marks `repository` as not listable, with the reason shown on every kept tag.
    pub fn mark_unlisted(&mut self, repository: &str, reason: &str) {
        self.unlisted
            .insert(repository.to_owned(), reason.to_owned());
    }
}

/// Whether cluster protection was configured and could be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum ProtectionStatus {
    /// No cluster protection configured: nothing is protected, planning proceeds.
    NotConfigured,
    /// The cluster's images in use were read; the sets are complete.
    Available,
    /// Protection is configured but could not be read: the plan deletes nothing.
    Unavailable {
        /// Why (shown on every tag kept because of it).
        reason: String,
    },
}

/// Images the cluster reports in use; a tag or digest listed here is never deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Protections {
    /// Whether the sets below can be trusted.
    pub status: ProtectionStatus,
    /// Repository → tags referenced by running workloads.
    pub tags: HashMap<String, HashSet<String>>,
    /// Digests referenced by running workloads, in any repository.
    pub digests: HashSet<String>,
    /// Who uses each protected tag (repository → tag → users), when the source names them.
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub tag_users: HashMap<String, HashMap<String, ImageUsers>>,
    /// Who uses each protected digest, when the source names them.
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub digest_users: HashMap<String, ImageUsers>,
}

impl Protections {
    /// Explicitly no cluster protection configured.
    pub fn none() -> Self {
        Protections {
            status: ProtectionStatus::NotConfigured,
            tags: HashMap::new(),
            digests: HashSet::new(),
            tag_users: HashMap::new(),
            digest_users: HashMap::new(),
        }
    }

    /// Protection read successfully, nothing in use yet; fill it with [`Protections::protect_tag`]
    /// and [`Protections::protect_digest`].
    pub fn available() -> Self {
        Protections {
            status: ProtectionStatus::Available,
            ..Protections::none()
        }
    }

    /// Protection configured but unreadable: every deletion becomes a keep.
    pub fn unavailable(reason: &str) -> Self {
        Protections {
            status: ProtectionStatus::Unavailable {
                reason: reason.to_owned(),
            },
            ..Protections::none()
        }
    }

    /// Protection read successfully: these `(repository, tag)` pairs and digests are in use.
    pub fn in_use<'a>(
        tags: impl IntoIterator<Item = (&'a str, &'a str)>,
        digests: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let mut by_repository: HashMap<String, HashSet<String>> = HashMap::new();
        for (repository, tag) in tags {
            by_repository
                .entry(repository.to_owned())
                .or_default()
                .insert(tag.to_owned());
        }
        Protections {
            status: ProtectionStatus::Available,
            tags: by_repository,
            digests: digests.into_iter().map(str::to_owned).collect(),
            ..Protections::none()
        }
    }

    /// Protects `repository:tag`, adding `users` to whoever already uses it.
    pub fn protect_tag(&mut self, repository: &str, tag: &str, users: &ImageUsers) {
        self.tags
            .entry(repository.to_owned())
            .or_default()
            .insert(tag.to_owned());
        self.tag_users
            .entry(repository.to_owned())
            .or_default()
            .entry(tag.to_owned())
            .or_default()
            .extend(users);
    }

    /// Protects `digest` in every repository, adding `users` to whoever already uses it.
    pub fn protect_digest(&mut self, digest: &str, users: &ImageUsers) {
        self.digests.insert(digest.to_owned());
        self.digest_users
            .entry(digest.to_owned())
            .or_default()
            .extend(users);
    }

    /// A multi-arch index is in use when one of its child manifests is: protects `index` (with the
    /// users of the children in use) if any of `children` is protected. Returns whether it did.
    /// The registry reader calls this for every index it lists, before planning.
    pub fn protect_index<'a>(
        &mut self,
        index: &str,
        children: impl IntoIterator<Item = &'a str>,
    ) -> bool {
        let mut users = ImageUsers::default();
        let mut in_use = false;
        for child in children {
            if self.digests.contains(child) {
                in_use = true;
                if let Some(child_users) = self.digest_users.get(child) {
                    users.extend(child_users);
                }
            }
        }
        if in_use {
            self.protect_digest(index, &users);
        }
        in_use
    }

    /// Who uses `repository:tag` (empty when protected without names, or not protected).
    pub fn tag_users(&self, repository: &str, tag: &str) -> ImageUsers {
        self.tag_users
            .get(repository)
            .and_then(|tags| tags.get(tag))
            .cloned()
            .unwrap_or_default()
    }

    /// Who uses `digest` (empty when protected without names, or not protected).
    pub fn digest_users(&self, digest: &str) -> ImageUsers {
        self.digest_users.get(digest).cloned().unwrap_or_default()
    }

    /// Whether `repository:tag` is referenced by the cluster.
    pub fn protects_tag(&self, repository: &str, tag: &str) -> bool {
        self.tags
            .get(repository)
            .is_some_and(|tags| tags.contains(tag))
    }

    /// Why nothing may be deleted, when protection is configured but unavailable.
    pub fn unavailable_reason(&self) -> Option<&str> {
        match &self.status {
            ProtectionStatus::Unavailable { reason } => Some(reason),
            _ => None,
        }
    }
}
