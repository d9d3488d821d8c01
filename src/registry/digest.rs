//! Content digests (`sha256:<hex>`) and image references (`repo:tag`).
//! Owns their validation; must never accept a string that could smuggle a path or query into a URL.

use super::error::RegistryError;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::fmt;

/// A validated `sha256:<64 lowercase hex>` content digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

impl Digest {
    /// The sha256 digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(format!("sha256:{}", hex::encode(Sha256::digest(bytes))))
    }

    /// Parses and validates a digest string.
    pub fn parse(s: &str) -> Result<Digest, RegistryError> {
        let ok = s.strip_prefix("sha256:").is_some_and(|h| {
            h.len() == 64
                && h.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if ok {
            Ok(Digest(s.to_owned()))
        } else {
            Err(RegistryError::InvalidInput(format!(
                "not a sha256 digest: {s:?}"
            )))
        }
    }

    /// The digest as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Digest {
    type Error = RegistryError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Digest::parse(&s)
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> String {
        d.0
    }
}

/// Checks a repository name against the distribution grammar (lower-case path components).
pub fn validate_repo(repo: &str) -> Result<(), RegistryError> {
    let component_ok = |c: &str| {
        !c.is_empty()
            && c.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
            && c.as_bytes()[0].is_ascii_alphanumeric()
            && c.as_bytes()[c.len() - 1].is_ascii_alphanumeric()
    };
    if repo.len() <= 255 && repo.split('/').all(component_ok) {
        Ok(())
    } else {
        Err(RegistryError::InvalidInput(format!(
            "not a repository name: {repo:?}"
        )))
    }
}

/// Checks a tag against `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
pub fn validate_tag(tag: &str) -> Result<(), RegistryError> {
    let b = tag.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(RegistryError::InvalidInput(format!("not a tag: {tag:?}")))
    }
}

/// Splits `repo:tag` (the tag follows the last `:` after the last `/`).
pub fn split_reference(reference: &str) -> Result<(String, String), RegistryError> {
    let slash = reference.rfind('/').map_or(0, |i| i + 1);
    let Some(colon) = reference[slash..].rfind(':').map(|i| i + slash) else {
        return Err(RegistryError::InvalidInput(format!(
            "expected REPO:TAG, got {reference:?}"
        )));
    };
    let (repo, tag) = (&reference[..colon], &reference[colon + 1..]);
    validate_repo(repo)?;
    validate_tag(tag)?;
    Ok((repo.to_owned(), tag.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_and_references() {
        let d = Digest::of(b"");
        assert_eq!(
            d.as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(Digest::parse(d.as_str()).is_ok());
        assert!(Digest::parse("sha256:../../x").is_err());
        assert!(Digest::parse("sha512:00").is_err());
        assert_eq!(
            split_reference("group/app:v1").unwrap(),
            ("group/app".into(), "v1".into())
        );
        assert!(split_reference("group/app").is_err());
        assert!(split_reference("Group/app:v1").is_err());
        assert!(split_reference("app:-x").is_err());
        assert!(validate_tag(&"a".repeat(129)).is_err());
    }
}
