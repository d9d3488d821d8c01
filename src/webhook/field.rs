//! Bounds on the values a payload may carry, checked while it is parsed so the error names the
//! field (`object_attributes.sha: …`): commit SHAs are 40 or 64 hex characters, names and paths
//! have a length limit and no NUL byte. What passes here the database can store on both backends
//! (Postgres refuses NUL in text and index rows over ~2.7 KB). Messages never echo the value.

use serde::de::Error;
use serde::{Deserialize, Deserializer};

/// Longest branch, tag or ref name accepted, in bytes (Git allows more; no real ref comes close).
pub const MAX_NAME: usize = 1024;
/// Longest project path (`path_with_namespace`) accepted, in bytes.
pub const MAX_PATH: usize = 1024;
/// Longest short word (status, source, state) accepted, in bytes.
pub const MAX_WORD: usize = 255;

/// Whether `sha` is a commit SHA: SHA-1 (40) or SHA-256 (64) hexadecimal characters.
pub fn is_sha(sha: &str) -> bool {
    matches!(sha.len(), 40 | 64) && sha.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `Ok` when `text` has no NUL byte and at most `max` bytes; else what is wrong with it.
pub fn check_text(text: &str, max: usize) -> Result<(), String> {
    if text.len() > max {
        return Err(format!("longer than {max} bytes ({} bytes)", text.len()));
    }
    if text.contains('\0') {
        return Err("contains a NUL byte".into());
    }
    Ok(())
}

fn bounded<'de, D: Deserializer<'de>>(d: D, max: usize) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    check_text(&text, max).map_err(D::Error::custom)?;
    Ok(text)
}

fn bounded_opt<'de, D: Deserializer<'de>>(d: D, max: usize) -> Result<Option<String>, D::Error> {
    let text = Option::<String>::deserialize(d)?;
    if let Some(t) = &text {
        check_text(t, max).map_err(D::Error::custom)?;
    }
    Ok(text)
}

/// A commit SHA.
pub fn sha<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    if !is_sha(&text) {
        return Err(D::Error::custom(
            "not a commit SHA (40 or 64 hexadecimal characters)",
        ));
    }
    Ok(text)
}

/// An optional commit SHA (`null` or missing is `None`).
pub fn opt_sha<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let text = Option::<String>::deserialize(d)?;
    match text {
        Some(t) if !is_sha(&t) => Err(D::Error::custom(
            "not a commit SHA (40 or 64 hexadecimal characters)",
        )),
        other => Ok(other),
    }
}

/// A branch, tag or ref name.
pub fn name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    bounded(d, MAX_NAME)
}

/// An optional branch name.
pub fn opt_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    bounded_opt(d, MAX_NAME)
}

/// A project path.
pub fn path<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    bounded(d, MAX_PATH)
}

/// A short word (pipeline status).
pub fn word<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    bounded(d, MAX_WORD)
}

/// An optional short word (pipeline source, merge request state).
pub fn opt_word<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    bounded_opt(d, MAX_WORD)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shas_are_hex_of_both_lengths() {
        assert!(is_sha(&"a".repeat(40)));
        assert!(is_sha(&"0123456789ABCDEF".repeat(4)));
        assert!(!is_sha(&"a".repeat(41)));
        assert!(!is_sha(&format!("{}é", "a".repeat(38))));
        assert!(!is_sha(&"g".repeat(40)));
    }

    #[test]
    fn text_bounds() {
        assert!(check_text("main", 8).is_ok());
        assert!(check_text("ma\0in", 8).unwrap_err().contains("NUL"));
        assert!(check_text(&"x".repeat(9), 8)
            .unwrap_err()
            .contains("8 bytes"));
    }
}
