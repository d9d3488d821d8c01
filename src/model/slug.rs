//! `CI_COMMIT_REF_SLUG` exactly as GitLab computes it (`Gitlab::Utils.slugify`): lower-case, every
//! character outside `[a-z0-9]` becomes `-`, keep 63 characters, trim `-` at both ends.

/// The slug of a branch or tag name. Can be empty (`---`, `日本語`): not a usable image tag.
pub fn slugify(name: &str) -> String {
    let mut slug: String = name
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    let end = slug.trim_end_matches('-').len();
    slug.truncate(end);
    slug.trim_start_matches('-').to_owned()
}

#[cfg(test)]
mod tests {
    use super::slugify;

    #[test]
    fn reference_vectors() {
        let long_x = format!("{}/tail", "x".repeat(62));
        let cases: &[(&str, &str)] = &[
            ("main", "main"),
            ("Feature/ABC-123_foo", "feature-abc-123-foo"),
            ("release/v1.2.3", "release-v1-2-3"),
            ("-leading-and-trailing-", "leading-and-trailing"),
            ("---", ""),
            ("emoji-😀-x", "emoji---x"),
            (&long_x, &long_x[..62]),
            ("feature//x", "feature--x"),
            ("ünïcode-brañch", "n-code-bra-ch"),
            ("日本語", ""),
            ("", ""),
        ];
        for (name, slug) in cases {
            assert_eq!(slugify(name), *slug, "slug of {name:?}");
        }
        assert_eq!(slugify(&"a".repeat(70)), "a".repeat(63));
    }

    #[test]
    fn unicode_lowercase_can_produce_ascii() {
        // KELVIN SIGN lower-cases to ASCII 'k'; 'İ' lower-cases to 'i' + U+0307 (two chars).
        assert_eq!(slugify("\u{212A}elvin"), "kelvin");
        assert_eq!(slugify("\u{130}x"), "i-x");
    }

    #[test]
    fn truncation_happens_before_trimming() {
        // 62 chars, then '/' at position 63 becomes '-' and is trimmed: 62 chars remain.
        let name = format!("{}/{}", "b".repeat(62), "c".repeat(10));
        assert_eq!(slugify(&name).len(), 62);
        // Leading separators count toward the 63 before they are trimmed.
        let name = format!("--{}", "d".repeat(70));
        assert_eq!(slugify(&name), "d".repeat(61));
    }

    #[test]
    fn colliding_refs() {
        assert_eq!(slugify("Feature/X"), slugify("feature-x"));
        assert_eq!(slugify("feature_x"), "feature-x");
    }
}
