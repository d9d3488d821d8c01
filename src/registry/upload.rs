//! Write operations: blob upload (with existence check and cross-repository mount) and manifest PUT.
//! Owns the upload protocol (opaque `Location`, `digest=` appended); must never PUT a manifest whose
//! blobs it has not made sure of, nor accept a registry digest that differs from the local sha256.

use super::client::RegistryClient;
use super::digest::{validate_repo, Digest};
use super::error::RegistryError;
use super::manifest::{build_image_manifest, Format};
use super::session::repo_scope;
use super::wire::Call;
use bytes::Bytes;
use reqwest::{Method, StatusCode};
use url::Url;

impl RegistryClient {
    /// Whether `repo` already holds the blob.
    pub async fn blob_exists(&self, repo: &str, digest: &Digest) -> Result<bool, RegistryError> {
        validate_repo(repo)?;
        let url = self.url(&format!("/v2/{repo}/blobs/{digest}"))?;
        let reply = self
            .send(Call::new(Method::HEAD, url, repo_scope(repo, "pull")))
            .await?;
        match reply.status {
            StatusCode::NOT_FOUND => Ok(false),
            s if s.is_success() => Ok(true),
            _ => Err(reply.error()),
        }
    }

    /// Uploads `data` unless `repo` already has it; returns its digest.
    pub async fn upload_blob(&self, repo: &str, data: Bytes) -> Result<Digest, RegistryError> {
        let digest = Digest::of(&data);
        if !self.blob_exists(repo, &digest).await? {
            self.upload_blob_unchecked(repo, data).await?;
        }
        Ok(digest)
    }

    /// Uploads `data` without asking first (for content known to be new): POST, then PUT to `Location`.
    pub async fn upload_blob_unchecked(
        &self,
        repo: &str,
        data: Bytes,
    ) -> Result<Digest, RegistryError> {
        validate_repo(repo)?;
        let digest = Digest::of(&data);
        let url = self.url(&format!("/v2/{repo}/blobs/uploads/"))?;
        let reply = self
            .send(Call::new(Method::POST, url, repo_scope(repo, "pull,push")))
            .await?;
        let location = upload_location(self, &reply)?;
        self.finish_upload(repo, location, &digest, data).await?;
        Ok(digest)
    }

    /// Mounts `digest` from repository `from` into `repo`; `false` when the registry could not
    /// (it then opened an upload session, which is left to expire).
    pub async fn mount_blob(
        &self,
        repo: &str,
        digest: &Digest,
        from: &str,
    ) -> Result<bool, RegistryError> {
        validate_repo(repo)?;
        validate_repo(from)?;
        let mut url = self.url(&format!("/v2/{repo}/blobs/uploads/"))?;
        url.query_pairs_mut()
            .append_pair("mount", digest.as_str())
            .append_pair("from", from);
        let mut scopes = repo_scope(repo, "pull,push");
        scopes.extend(repo_scope(from, "pull"));
        let reply = self.send(Call::new(Method::POST, url, scopes)).await?;
        match reply.status {
            StatusCode::CREATED => Ok(true),
            StatusCode::ACCEPTED => Ok(false),
            _ => Err(reply.error()),
        }
    }

    async fn finish_upload(
        &self,
        repo: &str,
        mut location: Url,
        digest: &Digest,
        data: Bytes,
    ) -> Result<(), RegistryError> {
        location
            .query_pairs_mut()
            .append_pair("digest", digest.as_str());
        // Completing an upload with a given digest is idempotent, so a retry is safe.
        let call = Call::new(Method::PUT, location, repo_scope(repo, "pull,push"))
            .body("application/octet-stream", data);
        let reply = self.send(call).await?.expect_success()?;
        if let Some(got) = reply.header("docker-content-digest") {
            if got != digest.as_str() {
                return Err(RegistryError::DigestMismatch {
                    expected: digest.to_string(),
                    actual: got.to_owned(),
                });
            }
        }
        Ok(())
    }

    /// PUTs manifest `bytes` of `media_type` at `reference` (tag or digest). Returns the digest the
    /// registry answered with, after checking it equals the local sha256.
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &'static str,
        bytes: Bytes,
    ) -> Result<Digest, RegistryError> {
        validate_repo(repo)?;
        let local = Digest::of(&bytes);
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"))?;
        let call =
            Call::new(Method::PUT, url, repo_scope(repo, "pull,push")).body(media_type, bytes);
        let reply = self.send(call).await?.expect_success()?;
        let answered = match reply.header("docker-content-digest") {
            Some(d) => Digest::parse(d)?,
            None => local.clone(),
        };
        if answered != local {
            return Err(RegistryError::DigestMismatch {
                expected: local.to_string(),
                actual: answered.to_string(),
            });
        }
        Ok(answered)
    }

    /// Pushes a whole single-image manifest: config and layers (skipping blobs present), then the
    /// manifest at `tag`, or by its own digest when `tag` is `None` (an index child).
    /// Returns the manifest digest and its size in bytes.
    pub async fn push_image(
        &self,
        repo: &str,
        tag: Option<&str>,
        format: Format,
        config: Bytes,
        layers: &[Bytes],
    ) -> Result<(Digest, u64), RegistryError> {
        if let Some(t) = tag {
            super::digest::validate_tag(t)?;
        }
        let config_len = config.len() as u64;
        let config_digest = self.upload_blob(repo, config).await?;
        let mut descs = Vec::with_capacity(layers.len());
        for layer in layers {
            let digest = self.upload_blob(repo, layer.clone()).await?;
            descs.push((digest, layer.len() as u64));
        }
        let (media_type, body) = build_image_manifest(format, (config_digest, config_len), &descs);
        let len = body.len() as u64;
        let reference = tag.map_or_else(|| Digest::of(&body).to_string(), str::to_owned);
        let digest = self
            .put_manifest(repo, &reference, media_type, Bytes::from(body))
            .await?;
        Ok((digest, len))
    }
}

/// The upload URL from a POST answer: absolute or relative `Location`, kept opaque (query included),
/// on the registry's origin (a location on another origin keeps only its path and query).
fn upload_location(
    client: &RegistryClient,
    reply: &super::wire::Reply,
) -> Result<Url, RegistryError> {
    if reply.status != StatusCode::ACCEPTED && reply.status != StatusCode::CREATED {
        return Err(reply.error());
    }
    let location = reply
        .header("location")
        .ok_or_else(|| RegistryError::InvalidResponse {
            path: reply.path.clone(),
            detail: "upload started without a Location header".into(),
        })?;
    Ok(super::realm::on_origin(
        &client.settings().url,
        client.url(location)?,
    ))
}
