//! Who uses a protected image, as a cluster source reports it: the object (cluster, kind,
//! namespace, name) and how (a container, a rollback target, a running digest), with the sentence
//! a plan shows. Plain data; nothing here reads a cluster or decides anything.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How one object uses an image.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "use", rename_all = "kebab-case")]
pub enum Usage {
    /// A container of the object's pod (or pod template) names the image.
    Container { container: String },
    /// An init container names the image.
    InitContainer { container: String },
    /// An ephemeral (debug) container names the image.
    EphemeralContainer { container: String },
    /// An image volume (`spec.volumes[].image.reference`) names the image.
    ImageVolume { volume: String },
    /// A configured field of an extra kind holds the image string.
    Field { path: String },
    /// A ReplicaSet scaled to 0: the rollback history `kubectl rollout undo` returns to.
    RollbackTarget { revision: Option<String> },
    /// A pod's container runs this digest (`status.containerStatuses[].imageID`).
    RunningDigest { container: String },
}

/// One object that uses an image.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ImageUser {
    /// The configured cluster name.
    pub cluster: String,
    /// The object's kind (`Deployment`, `ReplicaSet`, `Pod`, or a configured extra kind).
    pub kind: String,
    /// Its namespace; `None` for cluster-scoped objects.
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
    /// How it uses the image.
    #[serde(flatten)]
    pub usage: Usage,
}

impl fmt::Display for ImageUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let object = Object(self);
        match &self.usage {
            Usage::Container { container } => {
                write!(f, "in use by {object} (container {container})")
            }
            Usage::InitContainer { container } => {
                write!(f, "in use by {object} (init container {container})")
            }
            Usage::EphemeralContainer { container } => {
                write!(f, "in use by {object} (ephemeral container {container})")
            }
            Usage::ImageVolume { volume } => {
                write!(f, "in use by {object} (image volume {volume})")
            }
            Usage::Field { path } => write!(f, "in use by {object} (field {path})"),
            Usage::RollbackTarget {
                revision: Some(revision),
            } => write!(f, "rollback target: {object} (revision {revision})"),
            Usage::RollbackTarget { revision: None } => write!(f, "rollback target: {object}"),
            Usage::RunningDigest { .. } => {
                f.write_str("running digest in pod ")?;
                Name(self).fmt(f)
            }
        }
    }
}

/// `Deployment shop/web`.
struct Object<'a>(&'a ImageUser);

impl fmt::Display for Object<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.0.kind, Name(self.0))
    }
}

/// `shop/web`, or `web` for a cluster-scoped object.
struct Name<'a>(&'a ImageUser);

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.namespace {
            Some(namespace) => write!(f, "{namespace}/{}", self.0.name),
            None => f.write_str(&self.0.name),
        }
    }
}

/// The users of one image: the first few, most telling first, and how many there are in all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageUsers {
    /// At most [`ImageUsers::SHOWN`] users, in the order the source ranked them.
    pub shown: Vec<ImageUser>,
    /// How many users there are, shown or not.
    pub total: usize,
}

impl ImageUsers {
    /// How many users are kept per image (a DaemonSet's digest can run in hundreds of pods).
    pub const SHOWN: usize = 5;

    /// Keeps the first [`Self::SHOWN`] of `ranked` (best first) and counts them all.
    pub fn new(ranked: impl IntoIterator<Item = ImageUser>) -> Self {
        let mut users = ImageUsers::default();
        for user in ranked {
            users.total += 1;
            if users.shown.len() < Self::SHOWN {
                users.shown.push(user);
            }
        }
        users
    }

    /// Adds `other`'s users after this one's.
    pub fn extend(&mut self, other: &ImageUsers) {
        let room = Self::SHOWN.saturating_sub(self.shown.len());
        self.shown.extend(other.shown.iter().take(room).cloned());
        self.total += other.total;
    }

    /// No user known (protections built without a source that names them).
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

impl fmt::Display for ImageUsers {
    /// The first user, then how many more: `in use by Deployment shop/web (container web) and 2 more`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.shown.first() {
            None => f.write_str("in use by the cluster"),
            Some(first) if self.total > 1 => write!(f, "{first} and {} more", self.total - 1),
            Some(first) => first.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(kind: &str, name: &str, usage: Usage) -> ImageUser {
        ImageUser {
            cluster: "prod".into(),
            kind: kind.into(),
            namespace: Some("shop".into()),
            name: name.into(),
            usage,
        }
    }

    #[test]
    fn sentences_name_the_user() {
        let cases = [
            (
                user(
                    "Deployment",
                    "web",
                    Usage::Container {
                        container: "web".into(),
                    },
                ),
                "in use by Deployment shop/web (container web)",
            ),
            (
                user(
                    "ReplicaSet",
                    "web-7d9c",
                    Usage::RollbackTarget {
                        revision: Some("12".into()),
                    },
                ),
                "rollback target: ReplicaSet shop/web-7d9c (revision 12)",
            ),
            (
                user(
                    "Pod",
                    "web-abc",
                    Usage::RunningDigest {
                        container: "web".into(),
                    },
                ),
                "running digest in pod shop/web-abc",
            ),
            (
                user(
                    "Pod",
                    "db-0",
                    Usage::InitContainer {
                        container: "migrate".into(),
                    },
                ),
                "in use by Pod shop/db-0 (init container migrate)",
            ),
        ];
        for (user, sentence) in cases {
            assert_eq!(user.to_string(), sentence);
        }
    }

    #[test]
    fn users_are_capped_and_counted() {
        let many = (0..8).map(|i| {
            user(
                "Pod",
                &format!("p{i}"),
                Usage::Container {
                    container: "c".into(),
                },
            )
        });
        let users = ImageUsers::new(many);
        assert_eq!((users.shown.len(), users.total), (ImageUsers::SHOWN, 8));
        assert_eq!(
            users.to_string(),
            "in use by Pod shop/p0 (container c) and 7 more"
        );
        assert_eq!(ImageUsers::default().to_string(), "in use by the cluster");
    }
}
