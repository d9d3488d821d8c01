//! Cluster protection: the source of images in use that the plan must never delete. The
//! Kubernetes implementation comes separately; until then the explicit "no cluster protection".

use crate::policy::Protections;

/// Where in-use images come from. `Err` means protection is configured but unavailable: the run
/// then deletes nothing.
#[async_trait::async_trait]
pub trait ProtectionSource: Send + Sync {
    async fn protections(&self) -> Protections;
}

/// No cluster protection configured (`gc.cluster_protection = "none"`), said out loud in every plan.
pub struct NoClusterProtection;

#[async_trait::async_trait]
impl ProtectionSource for NoClusterProtection {
    async fn protections(&self) -> Protections {
        Protections::none()
    }
}

/// Protection that is always unavailable, for tests and for a configured source that failed to start.
pub struct UnavailableProtection(pub String);

#[async_trait::async_trait]
impl ProtectionSource for UnavailableProtection {
    async fn protections(&self) -> Protections {
        Protections::unavailable(&self.0)
    }
}
