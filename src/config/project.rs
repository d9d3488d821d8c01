//! Per-project configuration: which GitLab project, its webhook tokens, and the image rules that say
//! which tags its pipelines push.

use std::collections::BTreeMap;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::template::{ImageRef, ImageTemplate, Vars};
use super::Secret;
use crate::policy::RetentionOverrides;
use crate::store::model::TagKind;

/// One GitLab project registry-gc looks after.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    /// `path_with_namespace`, matched case-insensitively.
    #[serde(default)]
    pub path: Option<String>,
    /// GitLab project id; takes precedence over `path` when both are given.
    #[serde(default)]
    pub id: Option<i64>,
    /// Accepted `X-Gitlab-Token` values (several, for rotation).
    #[serde(default)]
    pub webhook_tokens: Vec<Secret>,
    /// Registry host (`host[:port]`) for `$CI_REGISTRY`; defaults to the host the images name.
    #[serde(default)]
    pub registry: Option<String>,
    /// Which tags a pipeline pushes.
    #[serde(default)]
    pub images: Vec<ImageRule>,
    /// Retention overrides for this project (over `gc.retention`).
    #[serde(default)]
    pub retention: RetentionOverrides,
    /// Retention overrides for untracked tags, per repository path (`group/app-ci`).
    #[serde(default)]
    pub repository_retention: BTreeMap<String, RetentionOverrides>,
}

/// An image rule: a template for one tag a pipeline pushes, and the kind of that tag.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ImageRule {
    /// Unique within the project; shown as the rule that recorded a tag.
    pub name: String,
    pub kind: TagKind,
    #[serde(with = "template_serde")]
    pub image: ImageTemplate,
    /// Regexes over the ref name; the rule applies only to pipelines whose ref matches one. Empty:
    /// every ref. `$CI_DEFAULT_BRANCH` inside a pattern stands for the project's default branch.
    #[serde(default)]
    pub refs: Vec<String>,
    /// Retention overrides for the tags of this rule (over the project's).
    #[serde(default)]
    pub retention: RetentionOverrides,
    /// Compiled `refs`, filled by validation.
    #[serde(skip)]
    pub(crate) ref_patterns: Vec<RefPattern>,
}

#[derive(Debug, Clone)]
pub(crate) enum RefPattern {
    Fixed(Regex),
    /// Contains `$CI_DEFAULT_BRANCH`; compiled per match.
    DefaultBranch(String),
}

impl ImageRule {
    /// Compiles the ref patterns; an error message names the bad pattern.
    pub(crate) fn compile(&mut self) -> Result<(), String> {
        self.ref_patterns = self
            .refs
            .iter()
            .map(|p| {
                if p.contains("$CI_DEFAULT_BRANCH") {
                    Regex::new(&p.replace("$CI_DEFAULT_BRANCH", "main"))
                        .map(|_| RefPattern::DefaultBranch(p.clone()))
                } else {
                    Regex::new(p).map(RefPattern::Fixed)
                }
                .map_err(|e| format!("bad ref pattern {p:?}: {e}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(())
    }

    /// Whether this rule applies to a pipeline on `ref_name`.
    pub fn applies_to(&self, ref_name: &str, default_branch: Option<&str>) -> bool {
        if self.ref_patterns.is_empty() {
            return true;
        }
        self.ref_patterns.iter().any(|p| match p {
            RefPattern::Fixed(re) => re.is_match(ref_name),
            RefPattern::DefaultBranch(src) => default_branch.is_some_and(|b| {
                Regex::new(&src.replace("$CI_DEFAULT_BRANCH", &regex::escape(b)))
                    .is_ok_and(|re| re.is_match(ref_name))
            }),
        })
    }
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
        self.registry.as_deref().unwrap_or("")
    }

    /// A name for logs and errors.
    pub fn label(&self) -> String {
        match (&self.path, self.id) {
            (Some(p), _) => p.clone(),
            (None, Some(id)) => format!("id {id}"),
            (None, None) => "<unnamed>".into(),
        }
    }

    /// Checks the entry; each message is prefixed with `prefix` (e.g. `projects[0]`).
    pub(crate) fn validate(&mut self, prefix: &str, errors: &mut Vec<String>) {
        if self.path.is_none() && self.id.is_none() {
            errors.push(format!("{prefix}: set `path` or `id`"));
        }
        let mut names = std::collections::HashSet::new();
        let mut hosts = std::collections::BTreeSet::new();
        for (i, rule) in self.images.iter_mut().enumerate() {
            let at = format!("{prefix}.images[{i}]");
            if !names.insert(rule.name.clone()) {
                errors.push(format!("{at}.name: duplicate rule name {:?}", rule.name));
            }
            if let Err(e) = rule.compile() {
                errors.push(format!("{at}.refs: {e}"));
            }
            let registry = self.registry.as_deref();
            let expanded = (rule.image.expand(&sample_vars(registry, false)))
                .or_else(|_| rule.image.expand(&sample_vars(registry, true)));
            match expanded {
                Ok(ImageRef { host, .. }) => {
                    hosts.insert(host);
                }
                Err(e) => errors.push(format!(
                    "{at}.image: {:?} does not expand to an image reference: {e}",
                    rule.image.as_str()
                )),
            }
        }
        if hosts.remove(&Some(UNSET_REGISTRY.to_owned())) {
            errors.push(format!(
                "{prefix}.registry: required when images use $CI_REGISTRY or $CI_REGISTRY_IMAGE"
            ));
        }
        if hosts.len() > 1 {
            errors.push(format!("{prefix}.images: all rules of a project must name the same registry host, found {hosts:?}"));
        }
        if self.registry.is_none() {
            self.registry = hosts.into_iter().next().flatten();
        }
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

mod template_serde {
    use super::ImageTemplate;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &ImageTemplate, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(t.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ImageTemplate, D::Error> {
        let s = String::deserialize(d)?;
        ImageTemplate::parse(&s).map_err(serde::de::Error::custom)
    }
}
