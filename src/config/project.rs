//! Per-project configuration: which GitLab project, its webhook tokens, and the image rules that say
//! which tags its pipelines push. Read as written (`RawProject`), then validated once into a
//! `ProjectConfig` whose rules are compiled and whose registry host is known.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::{Deserialize, Serialize};

use crate::model::image::{ImageRef, ImageTemplate, Vars};
use crate::model::{ImageRule, RefFilter, TagKind};
use crate::policy::RetentionOverrides;
use crate::secret::Secret;

/// A project as written in the configuration file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProject {
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    id: Option<i64>,
    #[serde(default)]
    webhook_tokens: Vec<Secret>,
    #[serde(default)]
    registry: Option<String>,
    #[serde(default)]
    images: Vec<RawImageRule>,
    #[serde(default)]
    retention: RetentionOverrides,
    #[serde(default)]
    repository_retention: BTreeMap<String, RetentionOverrides>,
}

/// An image rule as written.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawImageRule {
    name: String,
    kind: TagKind,
    image: String,
    #[serde(default)]
    refs: Vec<String>,
    #[serde(default)]
    retention: RetentionOverrides,
}

/// One GitLab project registry-gc looks after, validated.
#[derive(Debug, Clone)]
pub struct ProjectConfig {
    /// `path_with_namespace`, matched case-insensitively.
    pub path: Option<String>,
    /// GitLab project id; takes precedence over `path` when both are given.
    pub id: Option<i64>,
    /// Accepted `X-Gitlab-Token` values (several, for rotation).
    pub webhook_tokens: Vec<Secret>,
    /// Registry host (`host[:port]`) the images live on.
    registry: String,
    /// Which tags a pipeline pushes.
    pub images: Vec<ImageRule>,
    /// Retention overrides for this project (over `gc.retention`).
    pub retention: RetentionOverrides,
    /// Retention overrides per image rule name (over the project's).
    pub rule_retention: BTreeMap<String, RetentionOverrides>,
    /// Retention overrides for untracked tags, per repository path (`group/app-ci`).
    pub repository_retention: BTreeMap<String, RetentionOverrides>,
}

impl ProjectConfig {
    /// Whether this entry is the project GitLab sent (`id` first, else path, case-insensitive).
    pub fn matches(&self, id: Option<i64>, path: Option<&str>) -> bool {
        match (self.id, id) {
            (Some(mine), Some(theirs)) => mine == theirs,
            _ => match (&self.path, path) {
                (Some(mine), Some(theirs)) => mine.eq_ignore_ascii_case(theirs),
                _ => false,
            },
        }
    }

    /// The registry host the images live on (`registry`, or the host the image rules name).
    pub fn registry_host(&self) -> &str {
        &self.registry
    }

    /// A name for logs and errors.
    pub fn label(&self) -> String {
        match (&self.path, self.id) {
            (Some(p), _) => p.clone(),
            (None, Some(id)) => format!("id {id}"),
            (None, None) => "<unnamed>".into(),
        }
    }
}

impl RawProject {
    pub(super) fn id(&self) -> Option<i64> {
        self.id
    }

    pub(super) fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// Validates the entry; each message is prefixed with `prefix` (e.g. `projects[0]`). `None`
    /// when something is wrong (then `errors` says what).
    pub(super) fn validate(&self, prefix: &str, errors: &mut Vec<String>) -> Option<ProjectConfig> {
        let before = errors.len();
        if self.path.is_none() && self.id.is_none() {
            errors.push(format!("{prefix}: set `path` or `id`"));
        }
        let mut names = HashSet::new();
        let mut hosts = BTreeSet::new();
        let mut images = Vec::with_capacity(self.images.len());
        for (i, raw) in self.images.iter().enumerate() {
            let at = format!("{prefix}.images[{i}]");
            if !names.insert(raw.name.as_str()) {
                errors.push(format!("{at}.name: duplicate rule name {:?}", raw.name));
            }
            if let Some((rule, host)) = raw.compile(&at, self.registry.as_deref(), errors) {
                hosts.insert(host);
                images.push(rule);
            }
        }
        let registry = self.registry_host(prefix, hosts, errors);
        if errors.len() > before {
            return None;
        }
        Some(ProjectConfig {
            path: self.path.clone(),
            id: self.id,
            webhook_tokens: self.webhook_tokens.clone(),
            registry: registry.unwrap_or_default(),
            images,
            retention: self.retention.clone(),
            rule_retention: self
                .images
                .iter()
                .map(|r| (r.name.clone(), r.retention.clone()))
                .collect(),
            repository_retention: self.repository_retention.clone(),
        })
    }

    /// `registry`, else the one host every image rule names.
    fn registry_host(
        &self,
        prefix: &str,
        mut hosts: BTreeSet<Option<String>>,
        errors: &mut Vec<String>,
    ) -> Option<String> {
        if hosts.remove(&Some(UNSET_REGISTRY.to_owned())) {
            errors.push(format!(
                "{prefix}.registry: required when images use $CI_REGISTRY or $CI_REGISTRY_IMAGE"
            ));
        }
        if hosts.len() > 1 {
            errors.push(format!("{prefix}.images: all rules of a project must name the same registry host, found {hosts:?}"));
        }
        self.registry
            .clone()
            .or_else(|| hosts.into_iter().next().flatten())
    }
}

impl RawImageRule {
    /// The compiled rule and the registry host it names (if any).
    fn compile(
        &self,
        at: &str,
        registry: Option<&str>,
        errors: &mut Vec<String>,
    ) -> Option<(ImageRule, Option<String>)> {
        let refs = RefFilter::new(&self.refs)
            .map_err(|e| errors.push(format!("{at}.refs: {e}")))
            .ok();
        let image = match ImageTemplate::parse(&self.image) {
            Ok(t) => t,
            Err(e) => {
                errors.push(format!("{at}.image: {e}"));
                return None;
            }
        };
        let expanded = (image.expand(&sample_vars(registry, false)))
            .or_else(|_| image.expand(&sample_vars(registry, true)));
        let host = match expanded {
            Ok(ImageRef { host, .. }) => host,
            Err(e) => {
                let text = image.as_str();
                errors.push(format!(
                    "{at}.image: {text:?} does not expand to an image reference: {e}"
                ));
                return None;
            }
        };
        let rule = ImageRule {
            name: self.name.clone(),
            kind: self.kind,
            image,
            refs: refs?,
        };
        Some((rule, host))
    }
}

const UNSET_REGISTRY: &str = "registry.invalid";

/// Values used to check that a template expands to a valid reference.
fn sample_vars(registry: Option<&str>, is_tag: bool) -> Vars<'_> {
    Vars {
        commit_sha: "0123456789abcdef0123456789abcdef01234567",
        ref_name: "main",
        ref_slug: "main",
        is_tag,
        pipeline_id: 1,
        pipeline_iid: Some(1),
        project_path: "group/project",
        project_id: 1,
        default_branch: Some("main"),
        registry: registry.unwrap_or(UNSET_REGISTRY),
    }
}
