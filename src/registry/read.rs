//! Read operations: tag listing with pagination, tag → digest resolution, manifest fetch and summaries.
//! Owns how answers are interpreted (404 = absent, `tags: null` = empty); must never change the registry.

use super::client::RegistryClient;
use super::digest::{validate_repo, validate_tag, Digest};
use super::error::RegistryError;
use super::manifest::{Manifest, ACCEPT_ALL};
use super::session::repo_scope;
use super::wire::Call;
use reqwest::{Method, StatusCode};
use serde::Deserialize;

/// Most tag-list pages followed before giving up (100 tags a page: a million tags).
const MAX_PAGES: usize = 10_000;

/// A manifest fetched and verified against its digest.
#[derive(Clone, Debug)]
pub struct FetchedManifest {
    /// Digest of the exact bytes.
    pub digest: Digest,
    /// The bytes as served.
    pub bytes: bytes::Bytes,
    /// The parsed manifest.
    pub manifest: Manifest,
}

/// What an image weighs, for reports.
#[derive(Clone, Debug)]
pub struct ImageSummary {
    /// Digest of the manifest or index.
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// Config + layers; for an index the sum over its children.
    pub bytes: u64,
    /// `created` from the image config (for an index: the first child's), when present.
    pub created: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Deserialize)]
struct TagList {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

impl RegistryClient {
    /// All tags of `repo`, following `Link` pages (relative links resolved against the base URL).
    /// A repository the registry does not know (`404 NAME_UNKNOWN`) has no tags.
    pub async fn list_tags(&self, repo: &str) -> Result<Vec<String>, RegistryError> {
        validate_repo(repo)?;
        let mut url = self.url(&format!("/v2/{repo}/tags/list?n=100"))?;
        let mut tags = Vec::new();
        for _ in 0..MAX_PAGES {
            let reply = self
                .send(Call::get(url.clone(), repo_scope(repo, "pull")))
                .await?;
            if reply.status == StatusCode::NOT_FOUND {
                return Ok(tags);
            }
            if reply.status == StatusCode::BAD_REQUEST && url.query() == Some("n=100") {
                // distribution 3.1 refuses n above its maxtags: ask without n (all tags at once).
                url.set_query(None);
                continue;
            }
            let reply = reply.expect_success()?;
            let page: TagList = serde_json::from_slice(&reply.body).map_err(|e| {
                RegistryError::InvalidResponse {
                    path: reply.path.clone(),
                    detail: format!("tag list: {e}"),
                }
            })?;
            tags.extend(page.tags.unwrap_or_default());
            match reply.header("link").and_then(next_link) {
                Some(next) => url = self.same_origin(&next)?,
                None => return Ok(tags),
            }
        }
        Err(RegistryError::InvalidResponse {
            path: format!("/v2/{repo}/tags/list"),
            detail: format!("more than {MAX_PAGES} pages of tags"),
        })
    }

    /// The digest `tag` points at, or `None` if the tag does not exist. HEAD with all four manifest
    /// types in `Accept`; falls back to GET + sha256 when the registry sends no `Docker-Content-Digest`.
    pub async fn resolve(&self, repo: &str, tag: &str) -> Result<Option<Digest>, RegistryError> {
        validate_repo(repo)?;
        validate_tag(tag)?;
        let url = self.url(&format!("/v2/{repo}/manifests/{tag}"))?;
        let call = Call::new(Method::HEAD, url, repo_scope(repo, "pull")).accept(ACCEPT_ALL);
        let reply = self.send(call).await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let reply = reply.expect_success()?;
        match reply.header("docker-content-digest") {
            Some(d) => Ok(Some(Digest::parse(d)?)),
            None => Ok(self.fetch_manifest(repo, tag).await?.map(|m| m.digest)),
        }
    }

    /// Fetches a manifest by tag or digest (`None` on 404). By digest, the body must hash to it;
    /// by tag, it must hash to the `Docker-Content-Digest` the registry sent, if any.
    pub async fn fetch_manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<FetchedManifest>, RegistryError> {
        validate_repo(repo)?;
        let expected = match Digest::parse(reference) {
            Ok(d) => Some(d),
            Err(_) => {
                validate_tag(reference)?;
                None
            }
        };
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"))?;
        let reply = self
            .send(Call::get(url, repo_scope(repo, "pull")).accept(ACCEPT_ALL))
            .await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let reply = reply.expect_success()?;
        let digest = Digest::of(&reply.body);
        let claimed = expected.or_else(|| {
            reply
                .header("docker-content-digest")
                .and_then(|d| Digest::parse(d).ok())
        });
        if let Some(want) = claimed.filter(|w| *w != digest) {
            return Err(RegistryError::DigestMismatch {
                expected: want.to_string(),
                actual: digest.to_string(),
            });
        }
        let manifest =
            Manifest::parse(&reply.body, reply.header("content-type")).map_err(|detail| {
                RegistryError::InvalidResponse {
                    path: reply.path.clone(),
                    detail,
                }
            })?;
        Ok(Some(FetchedManifest {
            digest,
            bytes: reply.body,
            manifest,
        }))
    }

    /// Size and creation time of the image `reference` names (`None` if absent). An index is summed
    /// over its children (one request each); `with_created` fetches the image config blob.
    pub async fn summarize(
        &self,
        repo: &str,
        reference: &str,
        with_created: bool,
    ) -> Result<Option<ImageSummary>, RegistryError> {
        let Some(top) = self.fetch_manifest(repo, reference).await? else {
            return Ok(None);
        };
        let media_type = top.manifest.media_type().to_owned();
        let mut images = Vec::new();
        match &top.manifest {
            Manifest::Image { .. } => images.push(top.manifest.clone()),
            Manifest::Index { manifests, .. } => {
                for child in manifests {
                    if let Some(c) = self.fetch_manifest(repo, child.digest.as_str()).await? {
                        images.push(c.manifest);
                    }
                }
            }
        }
        let bytes = images.iter().map(Manifest::own_blob_bytes).sum();
        let created = match images.first() {
            Some(Manifest::Image { config, .. }) if with_created => {
                self.config_created(repo, &config.digest).await?
            }
            _ => None,
        };
        Ok(Some(ImageSummary {
            digest: top.digest,
            media_type,
            bytes,
            created,
        }))
    }

    /// Downloads a blob and checks its digest.
    pub async fn fetch_blob(
        &self,
        repo: &str,
        digest: &Digest,
    ) -> Result<bytes::Bytes, RegistryError> {
        validate_repo(repo)?;
        let url = self.url(&format!("/v2/{repo}/blobs/{digest}"))?;
        let reply = self
            .send(Call::get(url, repo_scope(repo, "pull")))
            .await?
            .expect_success()?;
        let actual = Digest::of(&reply.body);
        if actual != *digest {
            return Err(RegistryError::DigestMismatch {
                expected: digest.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(reply.body)
    }

    async fn config_created(
        &self,
        repo: &str,
        digest: &Digest,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, RegistryError> {
        #[derive(Deserialize)]
        struct Config {
            #[serde(default)]
            created: Option<chrono::DateTime<chrono::Utc>>,
        }
        let body = self.fetch_blob(repo, digest).await?;
        Ok(serde_json::from_slice::<Config>(&body)
            .ok()
            .and_then(|c| c.created))
    }
}

impl RegistryClient {
    /// Resolves a `Link` target against the base URL, refusing other hosts (the token must not leak).
    pub(super) fn same_origin(&self, link: &str) -> Result<url::Url, RegistryError> {
        let url = self.url(link)?;
        if url.origin() != self.settings().url.origin() {
            return Err(RegistryError::InvalidResponse {
                path: url.path().to_owned(),
                detail: "Link points at another host".into(),
            });
        }
        Ok(url)
    }
}

/// The target of `Link: <url>; rel="next"`.
pub(super) fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params.split(';').any(|p| {
            let p = p.trim().replace(' ', "");
            p == "rel=\"next\"" || p == "rel=next"
        });
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| target.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header() {
        assert_eq!(
            next_link(r#"</v2/foo/tags/list?last=x&n=100>; rel="next""#).as_deref(),
            Some("/v2/foo/tags/list?last=x&n=100")
        );
        assert_eq!(
            next_link(r#"<https://r/v2/a/tags/list?n=1>; rel=next"#).as_deref(),
            Some("https://r/v2/a/tags/list?n=1")
        );
        assert_eq!(next_link(r#"</x>; rel="prev""#), None);
    }
}
