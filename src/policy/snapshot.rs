//! What the planner is told about the outside world: the registry's tags as they were listed
//! (`RegistrySnapshot`) and the images the cluster reports in use (`Protections`).
//! Plain data filled by the registry client and the cluster watcher; nothing here does I/O.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One tag as the registry listed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagInfo {
    /// Manifest digest the tag points at (`sha256:…`).
    pub digest: String,
    /// When the image was created (config `created`), if the registry client read it.
    pub created: Option<DateTime<Utc>>,
}

/// One registry repository as listed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositorySnapshot {
    /// Tag → what it points at.
    pub tags: HashMap<String, TagInfo>,
    /// Manifest size in bytes per digest, where known (for totals only).
    pub sizes: HashMap<String, u64>,
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
}

impl Protections {
    /// Explicitly no cluster protection configured.
    pub fn none() -> Self {
        Protections {
            status: ProtectionStatus::NotConfigured,
            tags: HashMap::new(),
            digests: HashSet::new(),
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
        }
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
