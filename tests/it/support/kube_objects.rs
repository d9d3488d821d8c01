//! Kubernetes objects for the fake API server, in the shape an API server returns them
//! (metadata with uid and creationTimestamp, the defaulted fields a real object carries, container
//! statuses as the kubelet reports them). `kind`, `apiVersion` and `resourceVersion` are set by
//! the fake when an object is stored.

use serde_json::{json, Value};

/// Object metadata as the API server fills it.
pub fn meta(namespace: &str, name: &str) -> Value {
    json!({
        "name": name,
        "namespace": namespace,
        "uid": format!("0b8e6c1a-{:04x}-4e1d-9b8a-{:012x}", name.len(), name.bytes().map(u64::from).sum::<u64>()),
        "creationTimestamp": "2026-11-20T10:00:00Z",
        "labels": {"app": name},
    })
}

/// A container as it appears in a pod spec after defaulting.
pub fn container(name: &str, image: &str) -> Value {
    json!({
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "resources": {},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    })
}

/// A pod spec with these containers.
pub fn pod_spec(containers: Vec<Value>) -> Value {
    json!({
        "containers": containers,
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "serviceAccountName": "default",
        "schedulerName": "default-scheduler",
    })
}

/// A running container's status; `image_id` is written as the runtime writes it.
pub fn container_status(name: &str, image: &str, image_id: &str) -> Value {
    json!({
        "name": name,
        "image": image,
        "imageID": image_id,
        "containerID": "containerd://4f0c2bd0e2a8",
        "ready": true,
        "restartCount": 0,
        "started": true,
        "state": {"running": {"startedAt": "2026-11-20T10:00:05Z"}},
        "lastState": {},
    })
}

/// A running pod with `spec` and container `statuses`.
pub fn pod(namespace: &str, name: &str, spec: Value, statuses: Vec<Value>) -> Value {
    json!({
        "metadata": meta(namespace, name),
        "spec": spec,
        "status": {
            "phase": "Running",
            "hostIP": "10.0.0.12",
            "podIP": "10.244.1.17",
            "startTime": "2026-11-20T10:00:01Z",
            "qosClass": "BestEffort",
            "containerStatuses": statuses,
        },
    })
}

/// A pod template labelled `app: name`.
pub fn template(name: &str, spec: Value) -> Value {
    json!({"metadata": {"labels": {"app": name}}, "spec": spec})
}

fn selector(name: &str) -> Value {
    json!({"matchLabels": {"app": name}})
}

/// A Deployment running `spec`.
pub fn deployment(namespace: &str, name: &str, spec: Value) -> Value {
    json!({
        "metadata": meta(namespace, name),
        "spec": {"replicas": 2, "revisionHistoryLimit": 10, "selector": selector(name),
            "template": template(name, spec),
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}},
        "status": {"replicas": 2, "readyReplicas": 2, "observedGeneration": 3},
    })
}

/// A ReplicaSet of Deployment `owner`, at `replicas`, with its Deployment `revision`.
pub fn replica_set(
    namespace: &str,
    name: &str,
    owner: &str,
    replicas: i32,
    revision: u32,
    spec: Value,
) -> Value {
    let mut metadata = meta(namespace, name);
    metadata["annotations"] = json!({"deployment.kubernetes.io/revision": revision.to_string()});
    metadata["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "Deployment", "name": owner,
        "uid": "5d7e9f10-0000-4000-8000-000000000001", "controller": true, "blockOwnerDeletion": true}]);
    json!({
        "metadata": metadata,
        "spec": {"replicas": replicas, "selector": selector(owner), "template": template(owner, spec)},
        "status": {"replicas": replicas, "observedGeneration": 1},
    })
}

/// A CronJob running `spec` on a schedule, suspended or not.
pub fn cron_job(namespace: &str, name: &str, suspend: bool, spec: Value) -> Value {
    let mut spec = spec;
    spec["restartPolicy"] = json!("OnFailure");
    json!({
        "metadata": meta(namespace, name),
        "spec": {"schedule": "0 3 * * 1", "suspend": suspend, "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
            "jobTemplate": {"spec": {"backoffLimit": 6, "template": template(name, spec)}}},
        "status": {"lastScheduleTime": "2026-11-16T03:00:00Z"},
    })
}

/// A StatefulSet running `spec`.
pub fn stateful_set(namespace: &str, name: &str, spec: Value) -> Value {
    json!({
        "metadata": meta(namespace, name),
        "spec": {"replicas": 1, "serviceName": name, "selector": selector(name),
            "template": template(name, spec), "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate"}},
        "status": {"replicas": 1, "readyReplicas": 1},
    })
}
