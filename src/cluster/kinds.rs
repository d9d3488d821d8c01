//! The kinds read in every cluster — pods and the workloads whose pod templates name images —
//! with their names for users, messages, metric labels and RBAC. A fixed set: metric label values
//! stay bounded. Names only; reading them is `watch`'s job.

/// A built-in kind whose objects name images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Builtin {
    Pod,
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    ReplicationController,
}

impl Builtin {
    /// Every built-in kind, in the order they are shown.
    pub const ALL: [Builtin; 8] = [
        Builtin::Pod,
        Builtin::Deployment,
        Builtin::ReplicaSet,
        Builtin::StatefulSet,
        Builtin::DaemonSet,
        Builtin::Job,
        Builtin::CronJob,
        Builtin::ReplicationController,
    ];

    /// The object kind, as users of an image are named (`Deployment shop/web`).
    pub fn kind(self) -> &'static str {
        match self {
            Builtin::Pod => "Pod",
            Builtin::Deployment => "Deployment",
            Builtin::ReplicaSet => "ReplicaSet",
            Builtin::StatefulSet => "StatefulSet",
            Builtin::DaemonSet => "DaemonSet",
            Builtin::Job => "Job",
            Builtin::CronJob => "CronJob",
            Builtin::ReplicationController => "ReplicationController",
        }
    }

    /// `resource.group` as RBAC and API errors name it (`pods`, `cronjobs.batch`); also the
    /// metric label value.
    pub fn resource(self) -> &'static str {
        match self {
            Builtin::Pod => "pods",
            Builtin::Deployment => "deployments.apps",
            Builtin::ReplicaSet => "replicasets.apps",
            Builtin::StatefulSet => "statefulsets.apps",
            Builtin::DaemonSet => "daemonsets.apps",
            Builtin::Job => "jobs.batch",
            Builtin::CronJob => "cronjobs.batch",
            Builtin::ReplicationController => "replicationcontrollers",
        }
    }
}

/// The name of a kind being read, built-in or configured.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KindName {
    /// Object kind (`Deployment`, `Rollout`).
    pub kind: String,
    /// `resource.group` for built-ins, `kind.group` (lower case) for extra kinds: shown in
    /// messages and used as the metric label.
    pub resource: String,
}

impl KindName {
    /// A built-in kind's name.
    pub fn builtin(kind: Builtin) -> Self {
        KindName {
            kind: kind.kind().to_owned(),
            resource: kind.resource().to_owned(),
        }
    }

    /// A configured kind's name.
    pub fn extra(group: &str, kind: &str) -> Self {
        let resource = if group.is_empty() {
            kind.to_ascii_lowercase()
        } else {
            format!("{}.{group}", kind.to_ascii_lowercase())
        };
        KindName {
            kind: kind.to_owned(),
            resource,
        }
    }
}
