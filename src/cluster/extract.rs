//! From a Kubernetes object to the little we keep of it: its name and the image strings its pod
//! spec (or template) names, plus the digests a pod's containers run. Whole objects are dropped
//! right after this, so memory stays bounded. No parsing, no matching, no I/O.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ContainerStatus, Pod, PodSpec, PodTemplateSpec, ReplicationController,
};
use kube::ResourceExt;

use crate::policy::Usage;

/// The annotation on a ReplicaSet that gives its Deployment revision.
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";

/// What one object says about images.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectImages {
    /// Namespace, `None` for cluster-scoped objects.
    pub namespace: Option<String>,
    pub name: String,
    /// Each image string with how the object uses it: spec references as written, and for
    /// `Usage::RunningDigest` the container status `imageID` as the runtime wrote it.
    pub images: Vec<(Usage, String)>,
}

impl ObjectImages {
    /// An object with no images yet, named after `object`'s metadata.
    pub fn named(object: &impl ResourceExt) -> Self {
        ObjectImages {
            namespace: object.namespace(),
            name: object.name_any(),
            images: Vec::new(),
        }
    }
}

/// Reads the images of a typed object.
pub trait Images {
    /// The object's images.
    fn images(&self) -> ObjectImages;
}

/// Adds the images a pod spec names: containers, init and ephemeral containers, image volumes.
/// Empty image strings are skipped (templates may leave the image to be filled in later).
pub fn pod_spec(spec: &PodSpec, out: &mut Vec<(Usage, String)>) {
    let mut add = |usage: Usage, image: Option<&String>| {
        if let Some(image) = image.filter(|i| !i.trim().is_empty()) {
            out.push((usage, image.clone()));
        }
    };
    for c in &spec.containers {
        add(
            Usage::Container {
                container: c.name.clone(),
            },
            c.image.as_ref(),
        );
    }
    for c in spec.init_containers.iter().flatten() {
        add(
            Usage::InitContainer {
                container: c.name.clone(),
            },
            c.image.as_ref(),
        );
    }
    for c in spec.ephemeral_containers.iter().flatten() {
        add(
            Usage::EphemeralContainer {
                container: c.name.clone(),
            },
            c.image.as_ref(),
        );
    }
    for v in spec.volumes.iter().flatten() {
        let reference = v.image.as_ref().and_then(|i| i.reference.as_ref());
        add(
            Usage::ImageVolume {
                volume: v.name.clone(),
            },
            reference,
        );
    }
}

fn template(object: &impl ResourceExt, template: Option<&PodTemplateSpec>) -> ObjectImages {
    let mut found = ObjectImages::named(object);
    if let Some(spec) = template.and_then(|t| t.spec.as_ref()) {
        pod_spec(spec, &mut found.images);
    }
    found
}

impl Images for Pod {
    fn images(&self) -> ObjectImages {
        let mut found = ObjectImages::named(self);
        if let Some(spec) = &self.spec {
            pod_spec(spec, &mut found.images);
        }
        if let Some(status) = &self.status {
            let statuses: [&Option<Vec<ContainerStatus>>; 3] = [
                &status.container_statuses,
                &status.init_container_statuses,
                &status.ephemeral_container_statuses,
            ];
            for s in statuses.into_iter().flatten().flatten() {
                // A container still pulling has no imageID yet: nothing runs, nothing to add.
                if !s.image_id.trim().is_empty() {
                    let usage = Usage::RunningDigest {
                        container: s.name.clone(),
                    };
                    found.images.push((usage, s.image_id.clone()));
                }
            }
        }
        found
    }
}

impl Images for Deployment {
    fn images(&self) -> ObjectImages {
        template(self, Some(&self.spec.template))
    }
}

impl Images for ReplicaSet {
    /// A ReplicaSet at 0 replicas is rollback history: its images are rollback targets.
    fn images(&self) -> ObjectImages {
        let mut found = template(self, self.spec.template.as_ref());
        // An unset `replicas` defaults to 1.
        if self.spec.replicas == Some(0) {
            let revision = self.annotations().get(REVISION_ANNOTATION).cloned();
            for (usage, _) in &mut found.images {
                *usage = Usage::RollbackTarget {
                    revision: revision.clone(),
                };
            }
        }
        found
    }
}

impl Images for StatefulSet {
    fn images(&self) -> ObjectImages {
        template(self, Some(&self.spec.template))
    }
}

impl Images for DaemonSet {
    fn images(&self) -> ObjectImages {
        template(self, Some(&self.spec.template))
    }
}

impl Images for Job {
    fn images(&self) -> ObjectImages {
        template(self, self.spec.as_ref().map(|s| &s.template))
    }
}

impl Images for CronJob {
    /// Suspended or not: a suspended CronJob can be resumed and then pulls its image.
    fn images(&self) -> ObjectImages {
        let job = self.spec.job_template.spec.as_ref();
        template(self, job.map(|j| &j.template))
    }
}

impl Images for ReplicationController {
    fn images(&self) -> ObjectImages {
        template(self, self.spec.as_ref().and_then(|s| s.template.as_ref()))
    }
}
