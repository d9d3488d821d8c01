//! Image rules and the tags they expect: which tag a pipeline pushes under each configured rule,
//! computed from domain records (a project and a pipeline), whatever reported them — a webhook or
//! the GitLab API. Pure; the configuration builds the rules, the webhook layer calls this.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use regex::Regex;

use super::image::{ExpandError, ImageTemplate, Vars};
use super::records::{ImageTagRecord, PipelineRecord, RefKind, TagKind};
use super::slug::slugify;

/// One tag a pipeline pushes: a template, the kind of tag it is, and the refs it applies to.
#[derive(Debug, Clone)]
pub struct ImageRule {
    /// Unique within the project; recorded as the rule that expected a tag.
    pub name: String,
    pub kind: TagKind,
    pub image: ImageTemplate,
    pub refs: RefFilter,
}

/// Regexes over ref names, compiled once; empty matches every ref. `$CI_DEFAULT_BRANCH` inside a
/// pattern stands for the project's default branch (compiled for it once and kept while it stays).
#[derive(Debug, Clone, Default)]
pub struct RefFilter {
    sources: Vec<String>,
    patterns: Vec<RefPattern>,
}

#[derive(Debug, Clone)]
enum RefPattern {
    Fixed(Regex),
    DefaultBranch {
        source: String,
        compiled: Arc<RwLock<Option<(String, Regex)>>>,
    },
}

impl RefFilter {
    /// Compiles `sources`; the error names the bad pattern.
    pub fn new(sources: &[String]) -> Result<RefFilter, String> {
        let patterns = sources
            .iter()
            .map(|p| {
                let bad = |e: regex::Error| format!("bad ref pattern {p:?}: {e}");
                if p.contains("$CI_DEFAULT_BRANCH") {
                    Regex::new(&p.replace("$CI_DEFAULT_BRANCH", "main")).map_err(bad)?;
                    Ok(RefPattern::DefaultBranch {
                        source: p.clone(),
                        compiled: Arc::default(),
                    })
                } else {
                    Regex::new(p).map(RefPattern::Fixed).map_err(bad)
                }
            })
            .collect::<Result<_, String>>()?;
        Ok(RefFilter {
            sources: sources.to_vec(),
            patterns,
        })
    }

    /// The patterns as configured.
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    /// Whether a pipeline on `ref_name` is covered (a default-branch pattern never matches while
    /// the default branch is unknown).
    pub fn matches(&self, ref_name: &str, default_branch: Option<&str>) -> bool {
        self.patterns.is_empty()
            || self.patterns.iter().any(|p| match p {
                RefPattern::Fixed(re) => re.is_match(ref_name),
                RefPattern::DefaultBranch { source, compiled } => default_branch
                    .is_some_and(|b| default_branch_match(source, compiled, b, ref_name)),
            })
    }
}

fn default_branch_match(
    source: &str,
    compiled: &RwLock<Option<(String, Regex)>>,
    branch: &str,
    ref_name: &str,
) -> bool {
    if let Some((b, re)) = compiled.read().expect("pattern lock").as_ref() {
        if b == branch {
            return re.is_match(ref_name);
        }
    }
    let Ok(re) = Regex::new(&source.replace("$CI_DEFAULT_BRANCH", &regex::escape(branch))) else {
        return false;
    };
    let matched = re.is_match(ref_name);
    *compiled.write().expect("pattern lock") = Some((branch.to_owned(), re));
    matched
}

/// The project a pipeline belongs to, as the tag templates see it.
#[derive(Debug, Clone, Copy)]
pub struct ProjectFacts<'a> {
    pub id: i64,
    pub path: &'a str,
    pub default_branch: Option<&'a str>,
    /// Registry host for `$CI_REGISTRY`.
    pub registry: &'a str,
}

/// The image tags `pipeline` is expected to push, one per applicable rule; first and last seen
/// at `now`. A rule whose template names a variable the pipeline does not set records nothing.
pub fn expected_tags(
    rules: &[ImageRule],
    project: &ProjectFacts<'_>,
    pipeline: &PipelineRecord,
    now: DateTime<Utc>,
) -> Vec<ImageTagRecord> {
    let slug = slugify(&pipeline.ref_name);
    let sha = pipeline.sha.text();
    let vars = Vars {
        commit_sha: &sha,
        ref_name: &pipeline.ref_name,
        ref_slug: &slug,
        is_tag: pipeline.tag,
        pipeline_id: pipeline.id,
        pipeline_iid: pipeline.iid,
        project_path: project.path,
        project_id: project.id,
        default_branch: project.default_branch,
        registry: project.registry,
    };
    let applicable = rules
        .iter()
        .filter(|r| r.refs.matches(&pipeline.ref_name, project.default_branch));
    let mut tags = Vec::new();
    for rule in applicable {
        match rule.image.expand(&vars) {
            Ok(image) => tags.push(ImageTagRecord {
                project_id: project.id,
                repository: image.repository.into(),
                tag: image.tag,
                kind: rule.kind,
                rule: rule.name.as_str().into(),
                ref_kind: if pipeline.tag {
                    RefKind::Tag
                } else {
                    RefKind::Branch
                },
                ref_name: pipeline.ref_name.clone(),
                sha: pipeline.sha.clone(),
                pipeline_id: pipeline.id,
                first_seen: now,
                last_seen: now,
                digest: None,
            }),
            Err(ExpandError::Unset(var)) => {
                tracing::debug!(rule = %rule.name, var, "rule does not apply to this pipeline");
            }
            Err(e) => {
                tracing::warn!(rule = %rule.name, pipeline = pipeline.id, error = %e, "image rule produced no valid tag")
            }
        }
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_branch_patterns_follow_the_branch() {
        let filter = RefFilter::new(&["^$CI_DEFAULT_BRANCH$".to_owned()]).unwrap();
        assert!(filter.matches("main", Some("main")));
        assert!(!filter.matches("feature", Some("main")));
        assert!(!filter.matches("main", None));
        assert!(
            filter.matches("trunk", Some("trunk")),
            "a renamed default branch"
        );
        assert!(!filter.matches("main", Some("trunk")));
        assert!(RefFilter::new(&["(".to_owned()])
            .unwrap_err()
            .contains("\"(\""));
        assert!(RefFilter::default().matches("anything", None));
    }
}
