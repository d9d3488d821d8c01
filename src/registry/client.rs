//! `RegistryClient`: the handle callers hold for one registry — its transport (pool, auth, limit,
//! retries) and what it learned about the registry's delete capability. Cheap to clone. The
//! operations live beside it (`read`, `upload`, `remove`); this file only holds the handle.

use std::sync::{Arc, Mutex};

use serde::Serialize;
use url::Url;

use super::error::RegistryError;
use super::observe::{RequestObserver, Unobserved};
use super::settings::RegistrySettings;
use super::transport::Transport;
use super::wire::{Call, Reply};

/// How a registry can remove a single tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum DeleteCapability {
    /// `DELETE /v2/<name>/manifests/<tag>` untags (OCI 1.1, distribution 3, GitLab registry).
    TagDelete,
    /// Only digest deletes: tags go through a shared dummy manifest (distribution 2.8).
    DigestOnly,
}

/// Client for one registry. Clones share the connection pool, tokens, limit and counters.
#[derive(Clone)]
pub struct RegistryClient {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    capability: Mutex<Option<DeleteCapability>>,
    /// Whether the registry serves GitLab's `/gitlab/v1/` API, once learned.
    gitlab_api: Mutex<Option<bool>>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("url", &self.settings().url.as_str())
            .finish()
    }
}

impl RegistryClient {
    /// Builds the client (rustls, timeouts, pool); validates the settings.
    pub fn new(settings: RegistrySettings) -> Result<Self, RegistryError> {
        Self::observed(settings, Arc::new(Unobserved))
    }

    /// The client, reporting its traffic to `observer` (the daemon's metrics).
    pub fn observed(
        settings: RegistrySettings,
        observer: Arc<dyn RequestObserver>,
    ) -> Result<Self, RegistryError> {
        settings.validate().map_err(RegistryError::InvalidInput)?;
        let inner = Inner {
            transport: Transport::new(settings, observer)?,
            capability: Mutex::new(None),
            gitlab_api: Mutex::new(None),
        };
        Ok(RegistryClient {
            inner: Arc::new(inner),
        })
    }

    /// The settings this client was built from.
    pub fn settings(&self) -> &RegistrySettings {
        &self.inner.transport.wire.settings
    }

    /// HTTP requests made so far (registry and token endpoint), for reports and benchmarks.
    pub fn requests_made(&self) -> u64 {
        self.inner.transport.wire.requests()
    }

    /// `DELETE` requests made so far (capability probes included).
    pub fn deletes_made(&self) -> u64 {
        self.inner.transport.wire.deletes()
    }

    /// Checks the registry answers `/v2/` and that the configured credentials are accepted.
    pub async fn ping(&self) -> Result<(), RegistryError> {
        let transport = &self.inner.transport;
        transport.session.challenge(&transport.wire).await?;
        let reply = self.send(Call::get(self.url("/v2/")?, Vec::new())).await?;
        reply.expect_success()?;
        Ok(())
    }

    /// Fails with `MissingDeleteRight` when the token for `repo` states access without `delete`.
    pub async fn check_delete_right(&self, repo: &str) -> Result<(), RegistryError> {
        let transport = &self.inner.transport;
        transport
            .session
            .check_delete_right(&transport.wire, repo)
            .await
    }

    /// `base + path`.
    pub(super) fn url(&self, path: &str) -> Result<Url, RegistryError> {
        self.inner.transport.wire.url(path)
    }

    /// Sends one request through the transport (limit, auth, retries).
    pub(super) async fn send(&self, call: Call) -> Result<Reply, RegistryError> {
        self.inner.transport.send(call).await
    }

    /// The capability learned earlier (by a removal or [`Self::capability`]), if any.
    pub fn known_capability(&self) -> Option<DeleteCapability> {
        *self.inner.capability.lock().expect("capability lock")
    }

    /// Remembers what the registry can delete.
    pub(super) fn remember_capability(&self, capability: DeleteCapability) {
        *self.inner.capability.lock().expect("capability lock") = Some(capability);
    }

    /// Whether the registry serves GitLab's API, if learned.
    pub(super) fn known_gitlab_api(&self) -> Option<bool> {
        *self.inner.gitlab_api.lock().expect("gitlab api lock")
    }

    /// Remembers whether the registry serves GitLab's API.
    pub(super) fn remember_gitlab_api(&self, available: bool) {
        *self.inner.gitlab_api.lock().expect("gitlab api lock") = Some(available);
    }
}
