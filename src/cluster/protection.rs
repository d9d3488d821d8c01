//! The seam between cluster protection and the collector: a source of images in use that the plan
//! must never delete, plus the explicit "no cluster protection" and an always-unavailable source.
//! A source that cannot read the cluster answers `Protections::unavailable`, never "nothing in use".

use crate::policy::Protections;

/// Where in-use images come from. `Err` means protection is configured but unavailable: the run
/// then deletes nothing.
#[async_trait::async_trait]
pub trait ProtectionSource: Send + Sync {
    /// What is in use on every registry at once.
    async fn protections(&self) -> Protections;

    /// What is in use on the registry at `host` (`registry.example.com[:port]`); by default the
    /// same as [`Self::protections`], a safe superset.
    async fn protections_for(&self, host: &str) -> Protections {
        let _ = host;
        self.protections().await
    }
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
