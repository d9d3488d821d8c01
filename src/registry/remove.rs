//! Removal steps, each a public call the GC executor can journal between: capability detection, the
//! per-batch dummy, re-pointing a tag, deleting by digest or tag, and verification.
//! Owns the safety checks (re-resolve before every change); must never delete a digest that a tag
//! outside the batch may still point at.

use super::client::{DeleteCapability, RegistryClient};
use super::digest::{validate_repo, validate_tag, Digest};
use super::error::RegistryError;
use super::manifest::{build_image_manifest, Format, DOCKER_MANIFEST};
use super::session::repo_scope;
use super::wire::{Call, Reply};
use bytes::Bytes;
use reqwest::{Method, StatusCode};
use serde::Serialize;

/// The placeholder manifest of one removal batch. Its config blob holds a random batch id, so its
/// digest is unique to the batch: deleting it can only untag tags this batch pointed at it.
#[derive(Clone, Debug, Serialize)]
pub struct Dummy {
    /// Repository it was uploaded to.
    pub repo: String,
    /// Random id written into the config blob.
    pub batch_id: String,
    /// Digest of the dummy manifest (what gets deleted).
    pub digest: Digest,
    /// Digest of its config blob.
    pub config_digest: Digest,
    /// The exact manifest bytes (Docker schema 2, zero layers).
    #[serde(skip)]
    pub bytes: Bytes,
}

/// Result of re-pointing one tag at the dummy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Repoint {
    /// The tag now points at the dummy (also when it already did: replay after a crash is safe).
    Repointed,
    /// The tag points at another digest than planned: left alone.
    Moved { observed: Digest },
    /// The tag no longer exists.
    Gone,
}

/// Result of one DELETE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Deleted {
    /// 202: removed now.
    Removed,
    /// 404: nothing there any more (counts as done).
    AlreadyGone,
}

/// Result of [`RegistryClient::delete_image`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum ImageDeletion {
    /// The manifest was deleted (or was already gone).
    Deleted(Deleted),
    /// Not deleted: these tags now point elsewhere (the image may have been re-tagged).
    Refused { moved: Vec<(String, Digest)> },
}

/// What [`RegistryClient::verify_batch`] found in one tag listing.
#[derive(Clone, Debug, Default, Serialize)]
pub struct BatchCheck {
    /// Tags expected gone that are still listed.
    pub still_present: Vec<String>,
    /// Siblings expected to stay that are no longer listed.
    pub siblings_missing: Vec<String>,
    /// Siblings confirmed present.
    pub siblings_present: usize,
}

impl RegistryClient {
    /// The registry's capability, probed on `repo` the first time and then remembered; always checks
    /// the delete right stated by a token for `repo`.
    pub async fn capability(&self, repo: &str) -> Result<DeleteCapability, RegistryError> {
        self.check_delete_right(repo).await?;
        let known = self.known_capability();
        match known {
            Some(c) => Ok(c),
            None => self.detect_capability(repo).await,
        }
    }

    /// Learns how `repo` can lose a tag without harming anything: DELETE of a tag name that cannot
    /// exist (2.8: 400 DIGEST_INVALID; tag-delete registries: 404), then, on 405, DELETE of a random
    /// digest (404: digest deletes work; 405: deletion disabled). Also proves the delete right.
    pub async fn detect_capability(&self, repo: &str) -> Result<DeleteCapability, RegistryError> {
        validate_repo(repo)?;
        self.check_delete_right(repo).await?;
        let capability = self.probe_capability(repo).await?;
        self.remember_capability(capability);
        Ok(capability)
    }

    async fn probe_capability(&self, repo: &str) -> Result<DeleteCapability, RegistryError> {
        let probe_tag = format!("registry-gc-probe-{}", uuid::Uuid::new_v4().simple());
        let reply = self.delete_call(repo, &probe_tag).await?;
        match reply.status.as_u16() {
            404 | 202 => Ok(DeleteCapability::TagDelete),
            400 => Ok(DeleteCapability::DigestOnly),
            405 => {
                let probe_digest = Digest::of(probe_tag.as_bytes());
                let reply = self.delete_call(repo, probe_digest.as_str()).await?;
                match reply.status.as_u16() {
                    404 | 202 => Ok(DeleteCapability::DigestOnly),
                    405 => Err(self.deletion_disabled()),
                    _ => Err(reply.error()),
                }
            }
            _ => Err(reply.error()),
        }
    }

    fn deletion_disabled(&self) -> RegistryError {
        RegistryError::DeletionDisabled {
            registry: self.settings().host(),
        }
    }

    async fn delete_call(&self, repo: &str, reference: &str) -> Result<Reply, RegistryError> {
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"))?;
        self.send(Call::new(Method::DELETE, url, repo_scope(repo, "delete")))
            .await
    }

    /// Uploads this batch's dummy config blob (two requests) and builds the dummy manifest.
    /// The manifest itself is only written by [`Self::point_tag_at_dummy`].
    pub async fn prepare_dummy(&self, repo: &str) -> Result<Dummy, RegistryError> {
        let batch_id = uuid::Uuid::new_v4().to_string();
        let config = serde_json::json!({
            "architecture": "none", "os": "none",
            "registry-gc": { "purpose": "placeholder for tag removal", "batch": batch_id },
        });
        let config = Bytes::from(serde_json::to_vec(&config).expect("json serializes"));
        let len = config.len() as u64;
        let config_digest = self.upload_blob_unchecked(repo, config).await?;
        let (_, body) = build_image_manifest(Format::Docker, (config_digest.clone(), len), &[]);
        let digest = Digest::of(&body);
        tracing::debug!(repo, %digest, "prepared dummy manifest");
        Ok(Dummy {
            repo: repo.to_owned(),
            batch_id,
            digest,
            config_digest,
            bytes: Bytes::from(body),
        })
    }

    /// Re-resolves `tag` and, only if it still points at `planned`, PUTs the dummy manifest to it.
    pub async fn point_tag_at_dummy(
        &self,
        repo: &str,
        tag: &str,
        planned: &Digest,
        dummy: &Dummy,
    ) -> Result<Repoint, RegistryError> {
        validate_tag(tag)?;
        match self.resolve(repo, tag).await? {
            None => Ok(Repoint::Gone),
            Some(d) if d == dummy.digest => Ok(Repoint::Repointed),
            Some(d) if d != *planned => Ok(Repoint::Moved { observed: d }),
            Some(_) => {
                let got = self
                    .put_manifest(repo, tag, DOCKER_MANIFEST, dummy.bytes.clone())
                    .await?;
                if got != dummy.digest {
                    return Err(RegistryError::DigestMismatch {
                        expected: dummy.digest.to_string(),
                        actual: got.to_string(),
                    });
                }
                Ok(Repoint::Repointed)
            }
        }
    }

    /// `DELETE /v2/<repo>/manifests/<digest>`: removes the manifest and every tag on it.
    /// 404 counts as done; 405 is [`RegistryError::DeletionDisabled`].
    pub async fn delete_manifest(
        &self,
        repo: &str,
        digest: &Digest,
    ) -> Result<Deleted, RegistryError> {
        validate_repo(repo)?;
        let reply = self.delete_call(repo, digest.as_str()).await?;
        self.judge_delete(reply)
    }

    /// `DELETE /v2/<repo>/manifests/<tag>` on registries with [`DeleteCapability::TagDelete`].
    pub async fn delete_tag(&self, repo: &str, tag: &str) -> Result<Deleted, RegistryError> {
        validate_repo(repo)?;
        validate_tag(tag)?;
        let reply = self.delete_call(repo, tag).await?;
        self.judge_delete(reply)
    }

    fn judge_delete(&self, reply: Reply) -> Result<Deleted, RegistryError> {
        match reply.status {
            StatusCode::ACCEPTED | StatusCode::OK | StatusCode::NO_CONTENT => Ok(Deleted::Removed),
            StatusCode::NOT_FOUND => Ok(Deleted::AlreadyGone),
            StatusCode::METHOD_NOT_ALLOWED => Err(self.deletion_disabled()),
            _ => Err(reply.error()),
        }
    }

    /// Deletes the image `digest` whose every tag is `tags`, after confirming (HEAD of each) that
    /// none of them moved. A tag that no longer exists does not block the delete.
    pub async fn delete_image(
        &self,
        repo: &str,
        digest: &Digest,
        tags: &[String],
    ) -> Result<ImageDeletion, RegistryError> {
        let mut moved = Vec::new();
        for tag in tags {
            if let Some(d) = self.resolve(repo, tag).await?.filter(|d| d != digest) {
                moved.push((tag.clone(), d));
            }
        }
        if !moved.is_empty() {
            return Ok(ImageDeletion::Refused { moved });
        }
        Ok(ImageDeletion::Deleted(
            self.delete_manifest(repo, digest).await?,
        ))
    }

    /// One tag listing: every tag of `removed` must be gone, every tag of `siblings` still listed.
    pub async fn verify_batch(
        &self,
        repo: &str,
        removed: &[String],
        siblings: &[String],
    ) -> Result<BatchCheck, RegistryError> {
        let listed: std::collections::HashSet<String> =
            self.list_tags(repo).await?.into_iter().collect();
        let mut check = BatchCheck {
            still_present: removed
                .iter()
                .filter(|t| listed.contains(*t))
                .cloned()
                .collect(),
            ..BatchCheck::default()
        };
        for s in siblings {
            if listed.contains(s) {
                check.siblings_present += 1;
            } else {
                check.siblings_missing.push(s.clone());
            }
        }
        Ok(check)
    }

    /// HEADs each `(tag, digest)` and returns those that no longer resolve to that digest.
    pub async fn verify_digests(
        &self,
        repo: &str,
        expected: &[(String, Digest)],
    ) -> Result<Vec<(String, Option<Digest>)>, RegistryError> {
        let mut changed = Vec::new();
        for (tag, digest) in expected {
            let now = self.resolve(repo, tag).await?;
            if now.as_ref() != Some(digest) {
                changed.push((tag.clone(), now));
            }
        }
        Ok(changed)
    }
}
