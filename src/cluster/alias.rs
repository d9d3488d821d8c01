//! Registry host aliases: another hostname or port of the same registry, a pull-through cache
//! prefix (a Harbor proxy project), an image-swapper prefix. Rewrites a parsed reference to the
//! canonical registry and path before matching; must never rewrite a reference no alias covers.

use super::reference::ImageRef;

/// One alias, parsed: `from_host[/from_prefix]` is `to_host[/to_prefix]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    from_host: String,
    from_prefix: String,
    to_host: String,
    to_prefix: String,
}

impl Alias {
    /// Parses `alias` and `canonical`, each `host[:port][/path]`.
    pub fn parse(alias: &str, canonical: &str) -> Result<Alias, String> {
        let (from_host, from_prefix) = split_location(alias).map_err(|e| format!("alias: {e}"))?;
        let (to_host, to_prefix) =
            split_location(canonical).map_err(|e| format!("canonical: {e}"))?;
        if (from_host.as_str(), from_prefix.as_str()) == (to_host.as_str(), to_prefix.as_str()) {
            return Err(format!("alias {alias:?} is its own canonical name"));
        }
        Ok(Alias {
            from_host,
            from_prefix,
            to_host,
            to_prefix,
        })
    }

    /// The reference under its canonical name, if this alias covers it.
    fn rewrite(&self, image: &ImageRef) -> Option<ImageRef> {
        if image.registry != self.from_host {
            return None;
        }
        let rest = if self.from_prefix.is_empty() {
            image.repository.as_str()
        } else {
            image
                .repository
                .strip_prefix(self.from_prefix.as_str())?
                .strip_prefix('/')?
        };
        if rest.is_empty() {
            return None;
        }
        let repository = match (self.to_prefix.as_str(), self.to_host.as_str()) {
            // A Docker Hub proxy: `proxy/nginx` is `docker.io/library/nginx`, as the runtime reads it.
            ("", "docker.io") if !rest.contains('/') => format!("library/{rest}"),
            ("", _) => rest.to_owned(),
            (prefix, _) => format!("{prefix}/{rest}"),
        };
        Some(ImageRef {
            registry: self.to_host.clone(),
            repository,
            target: image.target.clone(),
        })
    }
}

/// All configured aliases; the longest matching alias prefix wins.
#[derive(Debug, Clone, Default)]
pub struct Aliases(Vec<Alias>);

impl Aliases {
    /// Orders `aliases` so that the most specific is tried first.
    pub fn new(mut aliases: Vec<Alias>) -> Self {
        aliases.sort_by_key(|a| std::cmp::Reverse(a.from_prefix.len()));
        Aliases(aliases)
    }

    /// `image` under its canonical name: rewritten by the first alias that covers it, else as is.
    pub fn canonical(&self, image: ImageRef) -> ImageRef {
        self.0
            .iter()
            .find_map(|alias| alias.rewrite(&image))
            .unwrap_or(image)
    }
}

/// `host[:port][/path]` → (lower-cased host, path without slashes at the ends).
fn split_location(location: &str) -> Result<(String, String), String> {
    let location = location.trim().trim_end_matches('/');
    let (host, path) = location.split_once('/').unwrap_or((location, ""));
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b));
    if !host_ok {
        return Err(format!("{location:?} does not start with a registry host"));
    }
    let path_ok = path.split('/').all(|segment| {
        !segment.is_empty()
            && segment
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
    });
    if !path.is_empty() && !path_ok {
        return Err(format!(
            "{location:?}: the path must be lower-case repository segments"
        ));
    }
    let host = match host.to_ascii_lowercase().as_str() {
        "index.docker.io" => "docker.io".to_owned(),
        other => other.to_owned(),
    };
    Ok((host, path.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::super::reference::{parse_spec, Target};
    use super::*;

    fn aliases(pairs: &[(&str, &str)]) -> Aliases {
        Aliases::new(
            pairs
                .iter()
                .map(|(a, c)| Alias::parse(a, c).unwrap())
                .collect(),
        )
    }

    fn canonical(aliases: &Aliases, reference: &str) -> String {
        let image = aliases.canonical(parse_spec(reference).unwrap());
        let Target::Tag(tag) = image.target else {
            panic!("tag expected")
        };
        format!("{}/{}:{tag}", image.registry, image.repository)
    }

    #[test]
    fn hosts_ports_and_prefixes_are_rewritten() {
        let a = aliases(&[
            ("registry-alt.example.com", "registry.example.com"),
            ("registry.example.com:443", "registry.example.com"),
            ("harbor.example.com/gitlab-proxy", "registry.example.com"),
            ("harbor.example.com/hub", "docker.io"),
            (
                "swap.example.com/registry.example.com",
                "registry.example.com",
            ),
        ]);
        let cases = [
            (
                "registry-alt.example.com/g/app:1",
                "registry.example.com/g/app:1",
            ),
            (
                "registry.example.com:443/g/app:1",
                "registry.example.com/g/app:1",
            ),
            (
                "harbor.example.com/gitlab-proxy/g/app:1",
                "registry.example.com/g/app:1",
            ),
            (
                "harbor.example.com/hub/nginx:1",
                "docker.io/library/nginx:1",
            ),
            (
                "swap.example.com/registry.example.com/g/app:1",
                "registry.example.com/g/app:1",
            ),
            (
                "harbor.example.com/other/app:1",
                "harbor.example.com/other/app:1",
            ),
            (
                "registry.example.com/g/app:1",
                "registry.example.com/g/app:1",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(canonical(&a, input), expected, "{input}");
        }
    }

    #[test]
    fn bad_aliases_are_refused() {
        assert!(Alias::parse("", "registry.example.com").is_err());
        assert!(Alias::parse("h.example.com/Upper", "registry.example.com").is_err());
        assert!(Alias::parse("registry.example.com", "registry.example.com/").is_err());
    }
}
