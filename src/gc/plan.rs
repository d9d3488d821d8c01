//! Planning one project: find its record and registry, read the registry (`survey`), and call the
//! pure policy. Planning alone changes nothing; a run also writes back the digests it saw.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::Serialize;

use super::{survey, Gc, GcError};
use crate::config::ProjectConfig;
use crate::model::{ProjectRecord, ProjectState};
use crate::policy::{self, Plan, PlanInput, Protections, RegistrySnapshot, Totals};
use crate::registry::RegistryClient;
use crate::store::StoreError;

/// One project's plan, as `registry-gc plan` and `GET /api/v1/plan` show it.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectPlan {
    pub project: String,
    pub project_id: i64,
    #[serde(flatten)]
    pub plan: Plan,
    #[serde(skip)]
    pub(super) snapshot: RegistrySnapshot,
}

/// A configured project with what a run needs to act on it.
pub(super) struct Target<'a> {
    pub config: &'a ProjectConfig,
    pub record: Option<ProjectRecord>,
    /// Why the record could not be found unambiguously (several projects recorded with the path).
    pub ambiguous: Option<String>,
    pub client: Option<RegistryClient>,
}

/// What was read for one project before planning.
pub(super) struct Survey<'t> {
    pub record: &'t ProjectRecord,
    pub client: &'t RegistryClient,
    pub state: ProjectState,
    pub snapshot: RegistrySnapshot,
}

impl Survey<'_> {
    /// The `(repository, tag, digest)` the registry showed for recorded tags.
    pub fn recorded_digests(&self) -> Vec<(String, String, String)> {
        let recorded: HashSet<(&str, &str)> = self
            .state
            .image_tags
            .iter()
            .map(|t| (t.repository.as_str(), t.tag.as_str()))
            .collect();
        let repos = self.snapshot.repositories.iter();
        repos
            .flat_map(|(repo, r)| r.tags.iter().map(move |(tag, info)| (repo, tag, info)))
            .filter(|(repo, tag, _)| recorded.contains(&(repo.as_str(), tag.as_str())))
            .map(|(repo, tag, info)| (repo.clone(), tag.clone(), info.digest.to_string()))
            .collect()
    }
}

impl Gc {
    pub(super) async fn targets(&self, only: Option<&str>) -> Result<Vec<Target<'_>>, StoreError> {
        let mut out = Vec::new();
        for config in &self.inner.config.projects {
            if only.is_some_and(|p| !config.matches(p.parse().ok(), Some(p))) {
                continue;
            }
            let store = &self.inner.store;
            let found = match (config.id, &config.path) {
                (Some(id), _) => store.project_by_id(id).await,
                (None, Some(path)) => store.project_by_path(path).await,
                (None, None) => Ok(None),
            };
            // Only this project is refused when its path is ambiguous; a database that does not
            // answer still stops the whole run.
            let (record, ambiguous) = match found {
                Ok(record) => (record, None),
                Err(StoreError::Conflict(message)) => (None, Some(message)),
                Err(e) => return Err(e),
            };
            let client = self.inner.clients.get(config.registry_host()).cloned();
            out.push(Target {
                config,
                record,
                ambiguous,
                client,
            });
        }
        Ok(out)
    }

    /// Plans every configured project (or only `project`, by path or id) without changing anything.
    pub async fn plan(
        &self,
        project: Option<&str>,
    ) -> Result<Vec<Result<ProjectPlan, GcError>>, GcError> {
        let mut plans = Vec::new();
        for target in self.targets(project).await? {
            let planned = match self.survey(&target).await {
                Ok(survey) => {
                    let protections = self.protections(&target).await;
                    Ok(self.plan_survey(&target, survey, protections).await)
                }
                Err(e) => Err(e),
            };
            plans.push(planned);
        }
        Ok(plans)
    }

    /// Reads what planning `target` needs: its record, its state and its registry's tags.
    pub(super) async fn survey<'t>(&self, target: &'t Target<'_>) -> Result<Survey<'t>, GcError> {
        if let Some(why) = &target.ambiguous {
            return Err(GcError::AmbiguousProject(why.clone()));
        }
        let record = target
            .record
            .as_ref()
            .ok_or_else(|| GcError::UnknownProject(target.config.label()))?;
        let host = target.config.registry_host();
        let client = target
            .client
            .as_ref()
            .ok_or_else(|| GcError::NoRegistry(host.to_owned()))?;
        client
            .ping()
            .await
            .map_err(|error| GcError::RegistryUnreachable {
                host: host.to_owned(),
                error: Box::new(error),
            })?;
        let state = self.inner.store.project_state(record.id).await?;
        let snapshot = self.read_registry(target.config, client, &state).await;
        Ok(Survey {
            record,
            client,
            state,
            snapshot,
        })
    }

    /// Every tag of the repositories the project's records name, with creation times where an
    /// age rule could expire an untracked tag.
    async fn read_registry(
        &self,
        config: &ProjectConfig,
        client: &RegistryClient,
        state: &ProjectState,
    ) -> RegistrySnapshot {
        let mut rules_by_repo: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        let mut recorded: HashSet<(&str, &str)> = HashSet::with_capacity(state.image_tags.len());
        for t in &state.image_tags {
            let rules = rules_by_repo.entry(&t.repository).or_default();
            rules.insert(&t.rule);
            recorded.insert((&t.repository, &t.tag));
        }
        let repositories: Vec<String> = rules_by_repo.keys().map(|r| (*r).to_owned()).collect();
        let concurrency = self.inner.config.gc.registry_concurrency;
        let mut snapshot = survey::read(client, &repositories, concurrency).await;
        let policy = self.inner.config.project_policy(config);
        // Same settings lookup as the policy: the repository's, else its only rule's, else default.
        let may_expire = |repo: &str| {
            let only_rule = match rules_by_repo.get(repo) {
                Some(rules) if rules.len() == 1 => rules.first().copied(),
                _ => None,
            };
            let settings = policy.for_untracked(repo, only_rule);
            settings.untracked_max_age.is_some()
        };
        survey::date_untracked(client, &mut snapshot, &recorded, may_expire, concurrency).await;
        snapshot
    }

    /// What the cluster uses on `target`'s registry.
    pub(super) async fn protections(&self, target: &Target<'_>) -> Protections {
        let host = target.config.registry_host();
        self.inner.protection.protections_for(host).await
    }

    /// The policy's plan for what `survey` read, with the sizes of the images it deletes. A
    /// multi-arch index whose child the cluster runs counts as in use (planned again if one does).
    pub(super) async fn plan_survey(
        &self,
        target: &Target<'_>,
        survey: Survey<'_>,
        mut protections: Protections,
    ) -> ProjectPlan {
        let policy = self.inner.config.project_policy(target.config);
        let now = self.inner.clock.now();
        let plan_with = |protections: &Protections| {
            policy::plan(&PlanInput {
                state: &survey.state,
                snapshot: &survey.snapshot,
                protections,
                now,
                policy: &policy,
            })
        };
        let mut plan = plan_with(&protections);
        if survey::protect_indexes(survey.client, &plan.actions, &mut protections).await {
            plan = plan_with(&protections);
        }
        let concurrency = self.inner.config.gc.registry_concurrency;
        survey::size_deleted_images(survey.client, &mut plan.actions, concurrency).await;
        plan.totals = Totals::count(&plan.actions, &plan.kept);
        ProjectPlan {
            project: survey.record.path.clone(),
            project_id: survey.record.id,
            plan,
            snapshot: survey.snapshot,
        }
    }
}
