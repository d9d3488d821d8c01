//! Bounding text that came from outside (payload values, paths, error messages) before it reaches
//! a log line or an answer: cut on a character boundary, never by byte index, so it cannot panic.
//! Depends on nothing else in the crate.

use std::borrow::Cow;

/// Longest user-supplied value written to a log line, in bytes.
pub const LOG_LIMIT: usize = 200;

/// `text` cut to at most `max` bytes on a character boundary, with `…[N bytes]` saying how long it
/// was when it had to be cut.
pub fn clip(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let end = (0..=max)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    Cow::Owned(format!("{}…[{} bytes]", &text[..end], text.len()))
}

/// [`clip`] to [`LOG_LIMIT`], for log fields.
pub fn for_log(text: &str) -> Cow<'_, str> {
    clip(text, LOG_LIMIT)
}

/// The first `n` characters (not bytes) of `text`.
pub fn first_chars(text: &str, n: usize) -> &str {
    match text.char_indices().nth(n) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_on_character_boundaries() {
        assert_eq!(clip("short", 10), "short");
        let cut = clip("ééééé", 5);
        assert!(cut.starts_with("éé…"), "{cut}");
        assert!(cut.ends_with("[10 bytes]"), "{cut}");
        assert_eq!(clip("😀", 2), "…[4 bytes]");
        assert_eq!(first_chars("abc😀def", 4), "abc😀");
        assert_eq!(first_chars("ab", 8), "ab");
    }
}
