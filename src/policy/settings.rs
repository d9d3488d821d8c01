//! Retention settings: the resolved values one tag is judged by, the optional overrides config
//! layers on top (global → project → image rule), and the per-project bundle the planner takes.
//! Regexes are compiled and validated here, at load; nothing here reads files or the clock.

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

use chrono::TimeDelta;
use regex::Regex;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use super::duration;

/// Keep patterns that apply when config names none: `latest` and semver-looking tags.
pub const DEFAULT_KEEP_PATTERNS: &[&str] = &[r"^latest$", r"^v?\d+\.\d+\.\d+([-+].*)?$"];

/// A keep pattern that failed to compile.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid keep pattern {pattern:?}: {message}")]
pub struct PatternError {
    /// The pattern as written in config.
    pub pattern: String,
    /// What the regex compiler said.
    pub message: String,
}

/// Compiled regexes matched against the full tag; a tag matching any of them is always kept.
#[derive(Clone)]
pub struct KeepPatterns(Vec<Regex>);

impl KeepPatterns {
    /// Compiles the patterns; the error names the first one that does not compile.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, PatternError> {
        patterns
            .iter()
            .map(|pattern| {
                Regex::new(pattern.as_ref()).map_err(|err| PatternError {
                    pattern: pattern.as_ref().to_owned(),
                    message: err.to_string(),
                })
            })
            .collect::<Result<_, _>>()
            .map(KeepPatterns)
    }

    /// No patterns at all.
    pub fn empty() -> Self {
        KeepPatterns(Vec::new())
    }

    /// The first pattern that matches `tag`, as written.
    pub fn matching(&self, tag: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|regex| regex.is_match(tag))
            .map(Regex::as_str)
    }

    /// These patterns followed by `more`.
    pub fn extended(&self, more: &KeepPatterns) -> KeepPatterns {
        KeepPatterns(self.0.iter().chain(&more.0).cloned().collect())
    }

    /// The patterns as written.
    pub fn as_strs(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(Regex::as_str)
    }
}

/// Compiled once: regex compilation dominates building default settings otherwise.
static DEFAULT_PATTERNS: LazyLock<KeepPatterns> = LazyLock::new(|| {
    KeepPatterns::new(DEFAULT_KEEP_PATTERNS).expect("default keep patterns compile")
});

impl Default for KeepPatterns {
    fn default() -> Self {
        DEFAULT_PATTERNS.clone()
    }
}

impl fmt::Debug for KeepPatterns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_strs()).finish()
    }
}

impl Serialize for KeepPatterns {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.as_strs())
    }
}

impl<'de> Deserialize<'de> for KeepPatterns {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let patterns = Vec::<String>::deserialize(deserializer)?;
        KeepPatterns::new(&patterns).map_err(de::Error::custom)
    }
}

/// Fully resolved retention settings for one image rule (or one repository of untracked tags).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionSettings {
    /// How long a `ci-commit` tag stays after the last pipeline that produced it finished. Default 1h.
    #[serde(with = "duration::humane")]
    pub ci_commit_grace: TimeDelta,
    /// How long a `ci-branch` tag stays after its branch was deleted or its merge requests were
    /// merged/closed. Default 24h.
    #[serde(with = "duration::humane")]
    pub branch_grace: TimeDelta,
    /// A branch without a pipeline for this long loses its `ci-branch` tag. Default 30d.
    #[serde(with = "duration::humane")]
    pub stale_branch_after: TimeDelta,
    /// How many deployed `prod-commit` tags to keep besides the current one. Default 3.
    pub keep_prod: usize,
    /// Tags matching any of these (full tag) are always kept. Default `^latest$` and semver.
    pub keep_patterns: KeepPatterns,
    /// Tags younger than this are always kept. Default 2h.
    #[serde(with = "duration::humane")]
    pub min_age: TimeDelta,
    /// Untracked tags (no webhook record) older than this are deleted; `None` ("never", the
    /// default) leaves them alone.
    #[serde(with = "duration::humane_or_never")]
    pub untracked_max_age: Option<TimeDelta>,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            ci_commit_grace: TimeDelta::hours(1),
            branch_grace: TimeDelta::hours(24),
            stale_branch_after: TimeDelta::days(30),
            keep_prod: 3,
            keep_patterns: KeepPatterns::default(),
            min_age: TimeDelta::hours(2),
            untracked_max_age: None,
        }
    }
}

/// Optional settings as written in one config layer; unset fields inherit from the layer below.
///
/// ```toml
/// ci_commit_grace = "90m"
/// keep_prod = 5
/// extra_keep_patterns = ["^release-"]
/// untracked_max_age = "30d"   # or "never"
/// ```
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionOverrides {
    /// See [`RetentionSettings::ci_commit_grace`].
    #[serde(with = "duration::optional", skip_serializing_if = "Option::is_none")]
    pub ci_commit_grace: Option<TimeDelta>,
    /// See [`RetentionSettings::branch_grace`].
    #[serde(with = "duration::optional", skip_serializing_if = "Option::is_none")]
    pub branch_grace: Option<TimeDelta>,
    /// See [`RetentionSettings::stale_branch_after`].
    #[serde(with = "duration::optional", skip_serializing_if = "Option::is_none")]
    pub stale_branch_after: Option<TimeDelta>,
    /// See [`RetentionSettings::keep_prod`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_prod: Option<usize>,
    /// Replaces the inherited keep patterns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_patterns: Option<KeepPatterns>,
    /// Added after the (inherited or replaced) keep patterns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_keep_patterns: Option<KeepPatterns>,
    /// See [`RetentionSettings::min_age`].
    #[serde(with = "duration::optional", skip_serializing_if = "Option::is_none")]
    pub min_age: Option<TimeDelta>,
    /// `Some(None)` ("never") switches an inherited max age off.
    #[serde(
        with = "duration::override_or_never",
        skip_serializing_if = "Option::is_none"
    )]
    pub untracked_max_age: Option<Option<TimeDelta>>,
}

impl RetentionOverrides {
    /// `base` with every field this layer sets replaced.
    pub fn apply(&self, base: &RetentionSettings) -> RetentionSettings {
        let mut keep_patterns = self
            .keep_patterns
            .clone()
            .unwrap_or_else(|| base.keep_patterns.clone());
        if let Some(extra) = &self.extra_keep_patterns {
            keep_patterns = keep_patterns.extended(extra);
        }
        RetentionSettings {
            ci_commit_grace: self.ci_commit_grace.unwrap_or(base.ci_commit_grace),
            branch_grace: self.branch_grace.unwrap_or(base.branch_grace),
            stale_branch_after: self.stale_branch_after.unwrap_or(base.stale_branch_after),
            keep_prod: self.keep_prod.unwrap_or(base.keep_prod),
            keep_patterns,
            min_age: self.min_age.unwrap_or(base.min_age),
            untracked_max_age: self.untracked_max_age.unwrap_or(base.untracked_max_age),
        }
    }
}

/// The settings the planner uses for one project.
///
/// A recorded tag is judged by `per_rule[record.rule]`, else `default`. An untracked tag is judged
/// by `per_repository[repository]`, else by the settings of the one image rule whose recorded tags
/// live in that repository (if exactly one does), else `default`.
#[derive(Debug, Clone, Default)]
pub struct ProjectPolicy {
    /// Settings for rules and repositories not listed below.
    pub default: RetentionSettings,
    /// Settings per image rule name (`ImageTagRecord::rule`).
    pub per_rule: HashMap<String, RetentionSettings>,
    /// Settings for untracked tags per registry repository path (`group/app-ci`).
    pub per_repository: HashMap<String, RetentionSettings>,
}

impl ProjectPolicy {
    /// The settings for tags recorded by image rule `rule`.
    pub fn for_rule(&self, rule: &str) -> &RetentionSettings {
        self.per_rule.get(rule).unwrap_or(&self.default)
    }

    /// The settings for untracked tags in `repository`, given the single rule seen there, if any.
    pub fn for_untracked(&self, repository: &str, only_rule: Option<&str>) -> &RetentionSettings {
        match (self.per_repository.get(repository), only_rule) {
            (Some(settings), _) => settings,
            (None, Some(rule)) => self.for_rule(rule),
            (None, None) => &self.default,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Layers {
        global: RetentionOverrides,
        project: RetentionOverrides,
    }

    #[test]
    fn overrides_layer_over_defaults() {
        let layers: Layers = serde_json::from_value(serde_json::json!({
            "global": { "ci_commit_grace": "90m", "untracked_max_age": "30d", "keep_patterns": ["^keep$"] },
            "project": { "keep_prod": 5, "untracked_max_age": "never", "extra_keep_patterns": ["^rel-"] },
        }))
        .unwrap();
        let global = layers.global.apply(&RetentionSettings::default());
        assert_eq!(global.ci_commit_grace, TimeDelta::minutes(90));
        assert_eq!(global.untracked_max_age, Some(TimeDelta::days(30)));
        let project = layers.project.apply(&global);
        assert_eq!(project.ci_commit_grace, TimeDelta::minutes(90));
        assert_eq!(project.keep_prod, 5);
        assert_eq!(project.untracked_max_age, None);
        assert_eq!(
            project.keep_patterns.as_strs().collect::<Vec<_>>(),
            ["^keep$", "^rel-"]
        );
        assert_eq!(project.branch_grace, TimeDelta::hours(24));
    }

    #[test]
    fn defaults_keep_latest_and_semver() {
        let patterns = RetentionSettings::default().keep_patterns;
        for tag in ["latest", "1.2.3", "v1.2.3", "v1.2.3-rc.1", "1.0.0+build5"] {
            assert!(patterns.matching(tag).is_some(), "{tag}");
        }
        for tag in [
            "latest-dev",
            "main",
            "1.2",
            "v1.2.3x",
            "0123456789abcdef0123456789abcdef01234567",
        ] {
            assert!(patterns.matching(tag).is_none(), "{tag}");
        }
    }

    #[test]
    fn rejects_bad_input_naming_it() {
        let err =
            serde_json::from_str::<RetentionOverrides>(r#"{"keep_patterns": ["ok", "(unclosed"]}"#)
                .unwrap_err()
                .to_string();
        assert!(err.contains("(unclosed"), "{err}");
        assert!(serde_json::from_str::<RetentionOverrides>(r#"{"keep_prd": 3}"#).is_err());
        assert!(serde_json::from_str::<RetentionOverrides>(r#"{"min_age": "2 hours"}"#).is_err());
    }

    #[test]
    fn resolved_settings_round_trip() {
        let text = serde_json::to_string(&RetentionSettings::default()).unwrap();
        let back: RetentionSettings = serde_json::from_str(&text).unwrap();
        assert_eq!(back.min_age, TimeDelta::hours(2));
        assert_eq!(back.untracked_max_age, None);
        assert!(text.contains(r#""stale_branch_after":"30d""#), "{text}");
    }
}
