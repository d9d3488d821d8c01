//! GitLab's own registry API (`/gitlab/v1/`, served by GitLab's registry with its metadata
//! database): whether a registry offers it, and its detailed tag list — tag, digest and when the tag
//! last moved, a thousand tags a request. Read-only and only for planning: every destructive step
//! still re-checks its tag by HEAD (`remove.rs`), never by this list.

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde::Deserialize;

use super::client::RegistryClient;
use super::digest::{validate_repo, validate_tag, Digest};
use super::error::RegistryError;
use super::read::next_link;
use super::session::repo_scope;
use super::wire::Call;

/// The largest page the API serves (`n` must be between 1 and 1000).
const PAGE_SIZE: usize = 1000;
/// Most pages followed for one repository (a million tags).
const MAX_PAGES: usize = 1000;

/// One tag as GitLab's tag list describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagDetail {
    /// The tag.
    pub name: String,
    /// The manifest it points at (the digest a HEAD with every manifest type answers).
    pub digest: Digest,
    /// When the tag got its current image: the latest of `published_at`, `updated_at` (set when
    /// the tag moved) and `created_at`; `None` when the registry sent none it could parse.
    pub published: Option<DateTime<Utc>>,
}

/// One element of the answer (the fields this client reads; the rest are ignored).
#[derive(Deserialize)]
struct ListedTag {
    name: String,
    digest: String,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
    #[serde(default)]
    published_at: Option<String>,
}

impl ListedTag {
    fn into_detail(self, path: &str) -> Result<TagDetail, RegistryError> {
        let invalid = |detail: String| RegistryError::InvalidResponse {
            path: path.to_owned(),
            detail,
        };
        validate_tag(&self.name).map_err(|e| invalid(format!("tag list: {e}")))?;
        let digest = Digest::parse(&self.digest).map_err(|e| invalid(format!("tag list: {e}")))?;
        // The latest time is the youngest age: an age rule waits longest with it.
        let published = [&self.published_at, &self.updated_at, &self.created_at]
            .into_iter()
            .flatten()
            .filter_map(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .max();
        Ok(TagDetail {
            name: self.name,
            digest,
            published,
        })
    }
}

impl RegistryClient {
    /// Whether the registry serves GitLab's API: `GET /gitlab/v1/` answers 2xx (after the same
    /// auth challenge as `/v2/`). Learned once per client: a 2xx, 3xx (a redirect to another
    /// origin, not followed) or 4xx answer is remembered; a 5xx, a refused credential or no answer
    /// means "not now" and is asked again next time.
    pub async fn gitlab_api(&self) -> bool {
        if let Some(known) = self.known_gitlab_api() {
            return known;
        }
        let answer = match self.url("/gitlab/v1/") {
            Ok(url) => self.send(Call::get(url, Vec::new())).await,
            Err(e) => Err(e),
        };
        let available = match answer {
            Ok(reply) if reply.status.is_success() => Some(true),
            Ok(reply) if !reply.status.is_server_error() => Some(false),
            Ok(reply) => {
                tracing::debug!(status = %reply.status, "GitLab registry API probe failed");
                None
            }
            Err(e) => {
                tracing::debug!(error = %e, "GitLab registry API probe failed");
                None
            }
        };
        if let Some(known) = available {
            tracing::debug!(available = known, "GitLab registry API");
            self.remember_gitlab_api(known);
        }
        available.unwrap_or(false)
    }

    /// Every tag of `repo` with its digest, from GitLab's paginated tag list (`n=1000`, following
    /// `Link: <…>; rel="next"` on the registry's origin only). A repository the registry does not
    /// know (404) has no tags. Only for registries where [`Self::gitlab_api`] is true.
    pub async fn list_tag_details(&self, repo: &str) -> Result<Vec<TagDetail>, RegistryError> {
        validate_repo(repo)?;
        let first = format!("/gitlab/v1/repositories/{repo}/tags/list/?n={PAGE_SIZE}");
        let mut url = self.url(&first)?;
        let mut tags = Vec::new();
        for _ in 0..MAX_PAGES {
            let reply = self
                .send(Call::get(url.clone(), repo_scope(repo, "pull")))
                .await?;
            if reply.status == StatusCode::NOT_FOUND {
                return Ok(tags);
            }
            let reply = reply.expect_success()?;
            let page: Vec<ListedTag> = serde_json::from_slice(&reply.body).map_err(|e| {
                RegistryError::InvalidResponse {
                    path: reply.path.clone(),
                    detail: format!("tag list: {e}"),
                }
            })?;
            for listed in page {
                tags.push(listed.into_detail(&reply.path)?);
            }
            let Some(next) = reply.header("link").and_then(next_link) else {
                return Ok(tags);
            };
            let next = self.same_origin(&next)?;
            if next == url {
                return Err(RegistryError::InvalidResponse {
                    path: reply.path.clone(),
                    detail: "tag list Link points at the same page".into(),
                });
            }
            url = next;
        }
        Err(RegistryError::InvalidResponse {
            path: format!("/gitlab/v1/repositories/{repo}/tags/list/"),
            detail: format!("more than {MAX_PAGES} pages of tags"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(json: serde_json::Value) -> Result<TagDetail, RegistryError> {
        serde_json::from_value::<ListedTag>(json)
            .unwrap()
            .into_detail("/p")
    }

    #[test]
    fn a_listed_tag_is_published_when_it_last_moved() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let moved = listed(serde_json::json!({
            "name": "latest", "digest": digest, "media_type": "x", "size_bytes": 3,
            "created_at": "2022-06-07T12:11:13.633Z", "updated_at": "2022-06-07T14:37:49.251Z",
        }))
        .unwrap();
        assert_eq!(moved.digest.as_str(), digest);
        let when = moved.published.unwrap().to_rfc3339();
        assert_eq!(when, "2022-06-07T14:37:49.251+00:00");
        let fresh = listed(serde_json::json!({
            "name": "v1", "digest": digest, "created_at": "2022-06-07T12:10:12.412Z",
        }))
        .unwrap();
        assert_eq!(fresh.published.unwrap().timestamp(), 1654603812);
        let undated = listed(serde_json::json!({
            "name": "v1", "digest": digest, "created_at": "yesterday",
        }));
        assert_eq!(undated.unwrap().published, None);
        let bad_name = listed(serde_json::json!({ "name": "../x", "digest": digest }));
        assert!(bad_name.is_err());
        let bad_digest = listed(serde_json::json!({ "name": "v1", "digest": "md5:1" }));
        assert!(bad_digest.is_err());
    }
}
