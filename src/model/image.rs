//! Image templates: `registry.example.com/group/app-ci:$CI_COMMIT_SHA` parsed once at config load
//! into literal and variable segments, expanded per pipeline into (host, repository, tag). Pure.

use std::fmt;

/// A GitLab CI predefined variable a template may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var {
    CommitSha,
    CommitShortSha,
    CommitRefName,
    CommitRefSlug,
    CommitBranch,
    CommitTag,
    PipelineId,
    PipelineIid,
    ProjectPath,
    ProjectId,
    DefaultBranch,
    Registry,
    RegistryImage,
}

impl Var {
    const NAMES: &'static [(&'static str, Var)] = &[
        ("CI_COMMIT_SHA", Var::CommitSha),
        ("CI_COMMIT_SHORT_SHA", Var::CommitShortSha),
        ("CI_COMMIT_REF_NAME", Var::CommitRefName),
        ("CI_COMMIT_REF_SLUG", Var::CommitRefSlug),
        ("CI_COMMIT_BRANCH", Var::CommitBranch),
        ("CI_COMMIT_TAG", Var::CommitTag),
        ("CI_PIPELINE_ID", Var::PipelineId),
        ("CI_PIPELINE_IID", Var::PipelineIid),
        ("CI_PROJECT_PATH", Var::ProjectPath),
        ("CI_PROJECT_ID", Var::ProjectId),
        ("CI_DEFAULT_BRANCH", Var::DefaultBranch),
        ("CI_REGISTRY", Var::Registry),
        ("CI_REGISTRY_IMAGE", Var::RegistryImage),
    ];

    fn from_name(name: &str) -> Option<Var> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }

    fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, v)| *v == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }
}

/// The values of the variables for one pipeline. `None` means the variable is not set for this
/// pipeline (e.g. `CI_COMMIT_TAG` on a branch pipeline): the rule then produces no tag.
#[derive(Debug, Clone, Default)]
pub struct Vars<'a> {
    pub commit_sha: &'a str,
    pub ref_name: &'a str,
    pub ref_slug: &'a str,
    pub is_tag: bool,
    pub pipeline_id: i64,
    pub pipeline_iid: Option<i64>,
    pub project_path: &'a str,
    pub project_id: i64,
    pub default_branch: Option<&'a str>,
    pub registry: &'a str,
}

impl Vars<'_> {
    fn get(&self, var: Var) -> Option<String> {
        let s = |v: &str| Some(v.to_owned());
        match var {
            Var::CommitSha => s(self.commit_sha),
            // Eight characters, not bytes: a byte cut could split a character and panic.
            Var::CommitShortSha => Some(self.commit_sha.chars().take(8).collect()),
            Var::CommitRefName => s(self.ref_name),
            Var::CommitRefSlug => s(self.ref_slug),
            Var::CommitBranch => (!self.is_tag).then(|| self.ref_name.to_owned()),
            Var::CommitTag => self.is_tag.then(|| self.ref_name.to_owned()),
            Var::PipelineId => Some(self.pipeline_id.to_string()),
            Var::PipelineIid => self.pipeline_iid.map(|i| i.to_string()),
            Var::ProjectPath => s(self.project_path),
            Var::ProjectId => Some(self.project_id.to_string()),
            Var::DefaultBranch => self.default_branch.map(str::to_owned),
            Var::Registry => s(self.registry),
            Var::RegistryImage => Some(format!(
                "{}/{}",
                self.registry,
                self.project_path.to_lowercase()
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Var(Var),
}

/// A parsed image template.
#[derive(Clone, PartialEq, Eq)]
pub struct ImageTemplate {
    source: String,
    segments: Vec<Segment>,
}

impl fmt::Debug for ImageTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.source)
    }
}

impl fmt::Display for ImageTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// An image reference a template expanded to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host (with port), if the reference names one.
    pub host: Option<String>,
    /// Repository path inside the registry, lower-cased.
    pub repository: String,
    pub tag: String,
}

/// Why an expansion produced no usable reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    #[error("{0} is not set for this pipeline")]
    Unset(&'static str),
    #[error("{0:?} has no tag (expected REPOSITORY:TAG)")]
    NoTag(String),
    #[error("tag {0:?} is not a valid image tag")]
    BadTag(String),
    #[error("repository {0:?} is not a valid repository path")]
    BadRepository(String),
}

impl ImageTemplate {
    /// Parses `$VAR` and `${VAR}` references; an unknown variable is an error naming it.
    pub fn parse(source: &str) -> Result<Self, String> {
        let mut segments = Vec::new();
        let mut literal = String::new();
        let mut rest = source;
        while let Some(pos) = rest.find('$') {
            literal.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            let (name, consumed) = if let Some(braced) = after.strip_prefix('{') {
                let end = braced
                    .find('}')
                    .ok_or_else(|| format!("unclosed ${{ in {source:?}"))?;
                (&braced[..end], end + 2)
            } else {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], end)
            };
            let var = Var::from_name(name).ok_or_else(|| {
                let known: Vec<_> = Var::NAMES.iter().map(|(n, _)| *n).collect();
                format!("unknown variable ${name} (known: {})", known.join(", "))
            })?;
            if !literal.is_empty() {
                segments.push(Segment::Literal(std::mem::take(&mut literal)));
            }
            segments.push(Segment::Var(var));
            rest = &after[consumed..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            segments.push(Segment::Literal(literal));
        }
        Ok(ImageTemplate {
            source: source.to_owned(),
            segments,
        })
    }

    /// The template text as configured.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Expands the template for one pipeline and splits the result into host, repository and tag.
    pub fn expand(&self, vars: &Vars<'_>) -> Result<ImageRef, ExpandError> {
        let mut out = String::with_capacity(self.source.len() + 40);
        for segment in &self.segments {
            match segment {
                Segment::Literal(l) => out.push_str(l),
                Segment::Var(v) => out.push_str(&vars.get(*v).ok_or(ExpandError::Unset(v.name()))?),
            }
        }
        split_reference(&out)
    }
}

/// Splits `host/path/name:tag` (host optional, recognised as Docker does: it has a `.` or `:` or is
/// `localhost`).
pub fn split_reference(reference: &str) -> Result<ImageRef, ExpandError> {
    let slash = reference.rfind('/').map_or(0, |i| i + 1);
    let colon = reference[slash..]
        .rfind(':')
        .map(|i| i + slash)
        .ok_or_else(|| ExpandError::NoTag(reference.to_owned()))?;
    let (name, tag) = (&reference[..colon], &reference[colon + 1..]);
    let (host, repository) = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            (Some(first.to_owned()), rest.to_lowercase())
        }
        _ => (None, name.to_lowercase()),
    };
    if !is_valid_tag(tag) {
        return Err(ExpandError::BadTag(tag.to_owned()));
    }
    if !is_valid_repository(&repository) {
        return Err(ExpandError::BadRepository(repository));
    }
    Ok(ImageRef {
        host,
        repository,
        tag: tag.to_owned(),
    })
}

/// OCI tag grammar: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
pub fn is_valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric() || c == '_')
        && tag.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// OCI repository grammar: `/`-separated components of `[a-z0-9]+([._-]+[a-z0-9]+)*`.
pub fn is_valid_repository(repository: &str) -> bool {
    !repository.is_empty()
        && repository.split('/').all(|component| {
            let bytes = component.as_bytes();
            !bytes.is_empty()
                && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
                && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase() || b"._-".contains(b))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars<'static> {
        Vars {
            commit_sha: "0123456789abcdef0123456789abcdef01234567",
            ref_name: "Feature/X",
            ref_slug: "feature-x",
            is_tag: false,
            pipeline_id: 1001,
            pipeline_iid: Some(7),
            project_path: "Group/App",
            project_id: 42,
            default_branch: Some("main"),
            registry: "registry.example.com:5000",
        }
    }

    #[test]
    fn expands_issue_examples() {
        let t = ImageTemplate::parse("registry.example.com/group/app-ci:$CI_COMMIT_SHA").unwrap();
        let r = t.expand(&vars()).unwrap();
        assert_eq!(r.host.as_deref(), Some("registry.example.com"));
        assert_eq!(r.repository, "group/app-ci");
        assert_eq!(r.tag, "0123456789abcdef0123456789abcdef01234567");

        let t = ImageTemplate::parse("${CI_REGISTRY_IMAGE}/app-ci:${CI_COMMIT_REF_SLUG}").unwrap();
        let r = t.expand(&vars()).unwrap();
        assert_eq!(r.host.as_deref(), Some("registry.example.com:5000"));
        assert_eq!(r.repository, "group/app/app-ci");
        assert_eq!(r.tag, "feature-x");

        let t =
            ImageTemplate::parse("group/app:prod-$CI_COMMIT_SHORT_SHA-$CI_PIPELINE_IID").unwrap();
        assert_eq!(t.expand(&vars()).unwrap().tag, "prod-01234567-7");
    }

    #[test]
    fn short_sha_of_hostile_text_does_not_panic() {
        let t = ImageTemplate::parse("group/app:$CI_COMMIT_SHORT_SHA").unwrap();
        for sha in ["0123456é89", "😀😀😀", "abc"] {
            let hostile = Vars {
                commit_sha: sha,
                ..vars()
            };
            // Whatever it expands to, it does not panic; a multi-byte result is no valid tag.
            let _ = t.expand(&hostile);
        }
    }

    #[test]
    fn unset_and_invalid_results_are_errors() {
        let t = ImageTemplate::parse("group/app:$CI_COMMIT_TAG").unwrap();
        assert_eq!(t.expand(&vars()), Err(ExpandError::Unset("CI_COMMIT_TAG")));
        let t = ImageTemplate::parse("group/app:$CI_COMMIT_REF_NAME").unwrap();
        assert!(t.expand(&vars()).is_err(), "a ref name with '/' is no tag");
        let t = ImageTemplate::parse("group/app:$CI_COMMIT_REF_NAME-x").unwrap();
        let plain = Vars {
            ref_name: "Main!",
            ..vars()
        };
        assert_eq!(t.expand(&plain), Err(ExpandError::BadTag("Main!-x".into())));
        let empty_slug = Vars {
            ref_slug: "",
            ..vars()
        };
        let t = ImageTemplate::parse("group/app:$CI_COMMIT_REF_SLUG").unwrap();
        assert_eq!(
            t.expand(&empty_slug),
            Err(ExpandError::BadTag(String::new()))
        );
        assert!(matches!(
            split_reference("group/app"),
            Err(ExpandError::NoTag(_))
        ));
    }

    #[test]
    fn unknown_variable_is_named() {
        let err = ImageTemplate::parse("group/app:$CI_BOGUS").unwrap_err();
        assert!(err.contains("$CI_BOGUS"), "{err}");
        assert!(ImageTemplate::parse("group/app:${CI_COMMIT_SHA").is_err());
    }

    #[test]
    fn tag_grammar() {
        assert!(is_valid_tag("v1.2.3_rc-1"));
        assert!(!is_valid_tag("-x"));
        assert!(!is_valid_tag(&"a".repeat(129)));
        assert!(is_valid_tag(&"a".repeat(128)));
        assert!(is_valid_repository("group/sub.group/app_ci"));
        assert!(!is_valid_repository("Group/app"));
        assert!(!is_valid_repository("group//app"));
    }
}
