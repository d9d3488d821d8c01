//! Image references read the way the container runtime reads them: no host means `docker.io`, a
//! bare name means `library/…`, no tag means `latest`, and a digest wins over a tag. Parsing is
//! `oci-spec`'s distribution reference; this module only adds the runtime's `imageID` forms.
//! It must never guess: what does not parse is reported, and never matches anything.

use oci_spec::distribution::Reference;

/// What a spec reference pins: a tag, or (when it carries one) a digest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    Tag(String),
    Digest(String),
}

/// A spec reference after normalisation: `registry/repository` plus a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageRef {
    /// Registry host, with port if any (`docker.io`, `registry.example.com:5000`).
    pub registry: String,
    /// Repository path inside the registry (`library/nginx`, `group/app`).
    pub repository: String,
    /// The tag, or the digest when the reference has one (`repo:tag@sha256:…` pulls the digest).
    pub target: Target,
}

/// Parses an image reference from a pod spec or template (`containers[].image`).
pub fn parse_spec(reference: &str) -> Result<ImageRef, String> {
    let parsed = Reference::try_from(reference.trim()).map_err(|e| e.to_string())?;
    // The runtime refuses `Upper/case` (a first component without a dot is a path, not a host);
    // the grammar alone lets it through as a host.
    if parsed.repository().bytes().any(|b| b.is_ascii_uppercase()) {
        return Err("repository name must be lowercase".into());
    }
    let target = match (parsed.digest(), parsed.tag()) {
        (Some(digest), _) => Target::Digest(valid_digest(digest)?.to_owned()),
        (None, Some(tag)) => Target::Tag(tag.to_owned()),
        (None, None) => return Err("neither tag nor digest".into()),
    };
    Ok(ImageRef {
        registry: parsed.registry().to_ascii_lowercase(),
        repository: parsed.repository().to_owned(),
        target,
    })
}

/// The digest in a container status `imageID`, in every form runtimes write it:
/// `docker-pullable://repo@sha256:…` (dockershim), `repo@sha256:…` (containerd, CRI-O, whose
/// repository part may be any alias of the image), and a bare `sha256:…` (containerd's config id).
pub fn parse_image_id(image_id: &str) -> Result<String, String> {
    let id = image_id.trim();
    if id.is_empty() {
        return Err("empty imageID".into());
    }
    // A runtime scheme such as `docker-pullable://` or `docker://` is not part of the reference.
    let id = id.split_once("://").map_or(id, |(_, rest)| rest);
    if id.contains('@') {
        let parsed = Reference::try_from(id).map_err(|e| e.to_string())?;
        let digest = parsed.digest().ok_or("no digest after @")?;
        return valid_digest(digest).map(str::to_owned);
    }
    valid_digest(id).map(str::to_owned)
}

/// `sha256:` + 64 or `sha512:` + 128 lowercase hex characters, as registries address manifests.
fn valid_digest(digest: &str) -> Result<&str, String> {
    let (algorithm, hex) = digest
        .split_once(':')
        .ok_or_else(|| format!("{digest:?} is not a digest"))?;
    let length = match algorithm {
        "sha256" => 64,
        "sha512" => 128,
        _ => return Err(format!("{digest:?}: unsupported digest algorithm")),
    };
    let lower_hex = hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if hex.len() == length && lower_hex {
        Ok(digest)
    } else {
        Err(format!("{digest:?} is not a {algorithm} digest"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn tag(registry: &str, repository: &str, tag: &str) -> ImageRef {
        ImageRef {
            registry: registry.into(),
            repository: repository.into(),
            target: Target::Tag(tag.into()),
        }
    }

    #[test]
    fn spec_references_are_normalised_like_the_runtime() {
        let cases = [
            ("nginx", tag("docker.io", "library/nginx", "latest")),
            ("nginx:1.27", tag("docker.io", "library/nginx", "1.27")),
            ("bitnami/redis:7", tag("docker.io", "bitnami/redis", "7")),
            (
                "index.docker.io/library/nginx",
                tag("docker.io", "library/nginx", "latest"),
            ),
            (
                "registry.example.com:5000/g/app-ci:abc",
                tag("registry.example.com:5000", "g/app-ci", "abc"),
            ),
            ("localhost/app", tag("localhost", "app", "latest")),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_spec(input).unwrap(), expected, "{input}");
        }
    }

    #[test]
    fn a_digest_wins_over_a_tag() {
        let parsed = parse_spec(&format!("registry.example.com/g/app:prod@{D}")).unwrap();
        assert_eq!(parsed.target, Target::Digest(D.into()));
        assert_eq!(parsed.repository, "g/app");
    }

    #[test]
    fn bad_spec_references_are_errors() {
        for bad in [
            "",
            "UPPER/case",
            "a:b:c",
            "x@sha256:abc",
            "registry.example.com/",
        ] {
            assert!(parse_spec(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn image_ids_in_every_runtime_format_give_the_digest() {
        for id in [
            format!("docker-pullable://registry.example.com/g/app@{D}"),
            format!("registry.example.com/g/app@{D}"),
            format!("mirror.example.com:5000/any/alias@{D}"),
            D.to_owned(),
            format!("docker://{D}"),
        ] {
            assert_eq!(parse_image_id(&id).unwrap(), D, "{id}");
        }
    }

    #[test]
    fn unparsable_image_ids_are_errors() {
        for bad in [
            "",
            "sha256:short",
            "registry.example.com/g/app",
            "md5:0123",
            "docker://",
        ] {
            assert!(parse_image_id(bad).is_err(), "{bad:?} parsed");
        }
    }
}
