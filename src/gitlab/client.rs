//! `GitLabClient`: one pooled rustls HTTP client for the GitLab REST API (`/api/v4`), sending the
//! token as `PRIVATE-TOKEN` (a sensitive header, never logged, never followed across redirects),
//! and `ProjectApi`, the typed endpoints of one project. Only reads; never writes to GitLab.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use reqwest::StatusCode;
use url::Url;

use super::api::{Branch, Event, Hook, MergeRequest, Pipeline, PipelineDetail, Project};
use super::error::{body_message, GitLabError};
use super::page::{self, Listing, Paging};
use super::settings::GitLabSettings;
use super::transport::{Budget, Transport};

/// Client for one GitLab instance. Cheap to clone; clones share the pool, the limit and the counter.
#[derive(Clone)]
pub struct GitLabClient {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    api: Url,
}

impl std::fmt::Debug for GitLabClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitLabClient")
            .field("api", &self.inner.api.as_str())
            .finish()
    }
}

impl GitLabClient {
    /// Builds the client; validates the settings (the error names the key, never the token).
    pub fn new(settings: GitLabSettings) -> Result<GitLabClient, GitLabError> {
        let mut errors = Vec::new();
        settings.validate("gitlab", &mut errors);
        if !errors.is_empty() {
            return Err(GitLabError::Settings(errors.join("; ")));
        }
        let mut api = settings.url.clone();
        api.path_segments_mut()
            .map_err(|_| GitLabError::Settings("gitlab.url: cannot be a base URL".into()))?
            .pop_if_empty()
            .extend(["api", "v4"]);
        let transport = Transport::new(settings)?;
        Ok(GitLabClient {
            inner: Arc::new(Inner { transport, api }),
        })
    }

    /// The settings this client was built from.
    pub fn settings(&self) -> &GitLabSettings {
        self.inner.transport.settings()
    }

    /// HTTP requests sent so far (retries included).
    pub fn requests_made(&self) -> u64 {
        self.inner.transport.requests_made()
    }

    /// The endpoints of one project (`project` is its id or full path), charged to `budget`.
    pub fn project(&self, project: impl ToString, budget: &Budget) -> ProjectApi {
        ProjectApi {
            client: self.clone(),
            project: project.to_string(),
            budget: budget.clone(),
            max_pages: self.settings().max_pages,
        }
    }

    fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    /// `/api/v4/<segments…>`, each segment percent-encoded (`feature/a` → `feature%2Fa`).
    fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.api.clone();
        url.path_segments_mut()
            .expect("checked at construction")
            .extend(segments);
        url
    }
}

/// What the single-branch endpoint says about a branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BranchLookup {
    Exists(Branch),
    /// `404 Branch Not Found`: the only answer that confirms a deletion.
    NotFound,
}

/// The endpoints of one project.
#[derive(Debug, Clone)]
pub struct ProjectApi {
    client: GitLabClient,
    project: String,
    budget: Budget,
    max_pages: u32,
}

fn time_param(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl ProjectApi {
    /// Reads at most `max_pages` pages per list (a per-project override).
    pub fn with_max_pages(mut self, max_pages: u32) -> ProjectApi {
        self.max_pages = max_pages.max(1);
        self
    }

    fn url(&self, rest: &[&str]) -> Url {
        let mut segments = vec!["projects", self.project.as_str()];
        segments.extend_from_slice(rest);
        self.client.endpoint(&segments)
    }

    async fn one<T: serde::de::DeserializeOwned>(&self, url: &Url) -> Result<T, GitLabError> {
        self.client
            .transport()
            .get(url, &self.budget)
            .await?
            .expect_success()?
            .json()
    }

    async fn list<T: serde::de::DeserializeOwned>(
        &self,
        url: &Url,
        paging: Paging,
    ) -> Result<Listing<T>, GitLabError> {
        let transport = self.client.transport();
        page::list(transport, url, &self.budget, self.max_pages, paging).await
    }

    /// `GET /projects/:id`.
    pub async fn project(&self) -> Result<Project, GitLabError> {
        self.one(&self.url(&[])).await
    }

    /// `GET /projects/:id/repository/branches`, every page (or an error).
    pub async fn branches(&self) -> Result<Listing<Branch>, GitLabError> {
        self.list(&self.url(&["repository", "branches"]), Paging::Whole)
            .await
    }

    /// `GET /projects/:id/repository/branches/:branch`. Only `404 Branch Not Found` is `NotFound`;
    /// any other 404 (`Project Not Found`, a proxy) is an error.
    pub async fn branch(&self, name: &str) -> Result<BranchLookup, GitLabError> {
        let url = self.url(&["repository", "branches", name]);
        let reply = self.client.transport().get(&url, &self.budget).await?;
        if reply.status == StatusCode::NOT_FOUND {
            let message = body_message(&reply.body);
            if message.to_ascii_lowercase().contains("branch not found") {
                return Ok(BranchLookup::NotFound);
            }
            return Err(reply.into_error());
        }
        reply.expect_success()?.json().map(BranchLookup::Exists)
    }

    /// `GET /projects/:id/merge_requests?state=all&updated_after=…&order_by=updated_at&sort=asc`.
    pub async fn merge_requests(
        &self,
        updated_after: Option<DateTime<Utc>>,
    ) -> Result<Listing<MergeRequest>, GitLabError> {
        let mut url = self.url(&["merge_requests"]);
        url.query_pairs_mut()
            .append_pair("state", "all")
            .append_pair("order_by", "updated_at")
            .append_pair("sort", "asc");
        if let Some(t) = updated_after {
            url.query_pairs_mut()
                .append_pair("updated_after", &time_param(t));
        }
        self.list(&url, Paging::Prefix).await
    }

    /// Merge requests by iid (`iids[]=…`), up to 100 per request.
    pub async fn merge_requests_by_iid(
        &self,
        iids: &[i64],
    ) -> Result<Vec<MergeRequest>, GitLabError> {
        let mut found = Vec::new();
        for chunk in iids.chunks(100) {
            let mut url = self.url(&["merge_requests"]);
            url.query_pairs_mut().append_pair("state", "all");
            for iid in chunk {
                url.query_pairs_mut()
                    .append_pair("iids[]", &iid.to_string());
            }
            found.extend(self.list::<MergeRequest>(&url, Paging::Whole).await?.items);
        }
        Ok(found)
    }

    /// `GET /projects/:id/pipelines?updated_after=…&order_by=updated_at&sort=asc`.
    pub async fn pipelines(
        &self,
        updated_after: Option<DateTime<Utc>>,
    ) -> Result<Listing<Pipeline>, GitLabError> {
        let mut url = self.url(&["pipelines"]);
        url.query_pairs_mut()
            .append_pair("order_by", "updated_at")
            .append_pair("sort", "asc");
        if let Some(t) = updated_after {
            url.query_pairs_mut()
                .append_pair("updated_after", &time_param(t));
        }
        self.list(&url, Paging::Prefix).await
    }

    /// Pipelines running right now (`scope=running`), newest first.
    pub async fn running_pipelines(&self) -> Result<Listing<Pipeline>, GitLabError> {
        let mut url = self.url(&["pipelines"]);
        url.query_pairs_mut().append_pair("scope", "running");
        self.list(&url, Paging::Prefix).await
    }

    /// `GET /projects/:id/pipelines/:pipeline_id`: `tag` and `finished_at` are only here.
    pub async fn pipeline(&self, id: i64) -> Result<PipelineDetail, GitLabError> {
        self.one(&self.url(&["pipelines", &id.to_string()])).await
    }

    /// `GET /projects/:id/hooks` (needs the Maintainer role).
    pub async fn hooks(&self) -> Result<Vec<Hook>, GitLabError> {
        let listing = self.list(&self.url(&["hooks"]), Paging::Whole).await?;
        Ok(listing.items)
    }

    /// Push events created after `after` (a date: the API's granularity), oldest first.
    pub async fn push_events(&self, after: NaiveDate) -> Result<Listing<Event>, GitLabError> {
        let mut url = self.url(&["events"]);
        url.query_pairs_mut()
            .append_pair("action", "pushed")
            .append_pair("after", &after.format("%Y-%m-%d").to_string())
            .append_pair("sort", "asc");
        self.list(&url, Paging::Prefix).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn endpoints_encode_names_and_keep_a_path_prefix() {
        let settings = GitLabSettings::new(
            "https://git.example/gitlab/".parse().unwrap(),
            Secret::new("glpat-x"),
        );
        let client = GitLabClient::new(settings).unwrap();
        let api = client.project("group/app", &Budget::new(1));
        let url = api.url(&["repository", "branches", "feature/a b#1"]);
        assert_eq!(
            url.as_str(),
            "https://git.example/gitlab/api/v4/projects/group%2Fapp/repository/branches/feature%2Fa%20b%231"
        );
        assert!(!format!("{client:?}").contains("glpat"));
    }

    #[test]
    fn bad_settings_name_the_key_not_the_token() {
        let mut settings =
            GitLabSettings::new("https://g.example".parse().unwrap(), Secret::new("a\nb"));
        let err = GitLabClient::new(settings.clone()).unwrap_err().to_string();
        assert!(
            err.contains("gitlab.token") && !err.contains("a\nb"),
            "{err}"
        );
        settings.token = Secret::new("ok");
        settings.concurrency = 0;
        let err = GitLabClient::new(settings).unwrap_err().to_string();
        assert!(err.contains("gitlab.concurrency"), "{err}");
    }
}
