//! `HexId`: a commit sha or manifest digest held as bytes when it has a canonical hex form
//! (40 or 64 lowercase hex, optionally after `sha256:`), else as the text. A million recorded tags
//! carry a sha and a digest each; as `String`s the two took ~180 bytes per record, packed 80.
//! It reads, prints, compares, hashes, orders and serializes exactly as the text it was made from.

use std::cmp::Ordering;
use std::fmt;

use serde::{Serialize, Serializer};

const DIGEST_PREFIX: &str = "sha256:";
/// Longest packed text: `sha256:` and 64 hex.
const MAX_PACKED: usize = DIGEST_PREFIX.len() + 64;

/// A commit sha (`0a1b…`, 40 or 64 hex) or a manifest digest (`sha256:…`), packed when canonical.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HexId(Repr);

/// Canonical forms only are packed, so equal texts always get equal representations.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    /// 40 lowercase hex (a SHA-1 commit).
    Sha1([u8; 20]),
    /// 64 lowercase hex (a SHA-256 commit).
    Sha256([u8; 32]),
    /// `sha256:` and 64 lowercase hex (a manifest digest).
    Digest([u8; 32]),
    /// Anything else, as given.
    Text(Box<str>),
}

/// The text of a [`HexId`], on the stack when it was packed.
pub struct HexText<'a> {
    buf: [u8; MAX_PACKED],
    len: usize,
    text: Option<&'a str>,
}

impl std::ops::Deref for HexText<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        match self.text {
            Some(text) => text,
            // Only ASCII hex and the prefix are ever written to `buf`.
            None => std::str::from_utf8(&self.buf[..self.len]).expect("ascii"),
        }
    }
}

impl HexId {
    /// Packs `text` when it is canonical, else keeps it as is.
    pub fn new(text: &str) -> Self {
        let repr = match text.strip_prefix(DIGEST_PREFIX) {
            Some(hex) => unhex(hex).map(Repr::Digest),
            None => unhex::<20>(text)
                .map(Repr::Sha1)
                .or_else(|| unhex(text).map(Repr::Sha256)),
        };
        HexId(repr.unwrap_or_else(|| Repr::Text(text.into())))
    }

    /// The text, without a heap allocation.
    pub fn text(&self) -> HexText<'_> {
        let mut out = HexText {
            buf: [0; MAX_PACKED],
            len: 0,
            text: None,
        };
        let (prefix, bytes): (&str, &[u8]) = match &self.0 {
            Repr::Sha1(b) => ("", b),
            Repr::Sha256(b) => ("", b),
            Repr::Digest(b) => (DIGEST_PREFIX, b),
            Repr::Text(text) => {
                out.text = Some(text);
                return out;
            }
        };
        out.buf[..prefix.len()].copy_from_slice(prefix.as_bytes());
        out.len = prefix.len();
        for byte in bytes {
            out.buf[out.len] = HEX[usize::from(byte >> 4)];
            out.buf[out.len + 1] = HEX[usize::from(byte & 0xf)];
            out.len += 2;
        }
        out
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `N` bytes from exactly `2N` lowercase hex digits.
fn unhex<const N: usize>(hex: &str) -> Option<[u8; N]> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    if hex.len() != 2 * N {
        return None;
    }
    let mut out = [0; N];
    for (slot, pair) in out.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        *slot = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

impl From<&str> for HexId {
    fn from(text: &str) -> Self {
        HexId::new(text)
    }
}

impl From<String> for HexId {
    fn from(text: String) -> Self {
        HexId::new(&text)
    }
}

impl From<&String> for HexId {
    fn from(text: &String) -> Self {
        HexId::new(text)
    }
}

impl fmt::Display for HexId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

impl fmt::Debug for HexId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.text(), f)
    }
}

impl PartialEq<str> for HexId {
    fn eq(&self, other: &str) -> bool {
        *self.text() == *other
    }
}

impl PartialEq<&str> for HexId {
    fn eq(&self, other: &&str) -> bool {
        *self.text() == **other
    }
}

impl PartialEq<String> for HexId {
    fn eq(&self, other: &String) -> bool {
        *self.text() == **other
    }
}

impl Ord for HexId {
    /// As the texts compare (packed bytes of one form order as their lowercase hex does).
    fn cmp(&self, other: &Self) -> Ordering {
        match (&self.0, &other.0) {
            (Repr::Sha1(a), Repr::Sha1(b)) => a.cmp(b),
            (Repr::Sha256(a), Repr::Sha256(b)) | (Repr::Digest(a), Repr::Digest(b)) => a.cmp(b),
            _ => (*self.text()).cmp(&*other.text()),
        }
    }
}

impl PartialOrd for HexId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Serialize for HexId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text())
    }
}

text_column!(HexId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_form_and_packs_the_canonical_ones() {
        let sha1 = "0123456789abcdef0123456789abcdef01234567";
        let sha256 = "ab".repeat(32);
        let digest = format!("sha256:{sha256}");
        for text in [
            sha1,
            &sha256,
            &digest,
            "sha256:ABC",
            "deadbeef",
            "",
            "sha512:00",
        ] {
            let id = HexId::new(text);
            assert_eq!(id.to_string(), text);
            assert_eq!(id, text);
            assert_eq!(format!("{id:?}"), format!("{text:?}"));
        }
        assert!(matches!(HexId::new(sha1).0, Repr::Sha1(_)));
        assert!(matches!(HexId::new(&digest).0, Repr::Digest(_)));
        assert!(matches!(HexId::new(&sha1.to_uppercase()).0, Repr::Text(_)));
        assert!(std::mem::size_of::<Option<HexId>>() <= 40);
    }

    #[test]
    fn orders_as_the_text() {
        let texts = [
            "sha256:".to_owned() + &"0f".repeat(32),
            "sha256:".to_owned() + &"f0".repeat(32),
            "sha256:a".to_owned(),
            "0123456789abcdef0123456789abcdef01234567".to_owned(),
            "ff".repeat(20),
            "zz".to_owned(),
        ];
        for a in &texts {
            for b in &texts {
                assert_eq!(HexId::new(a).cmp(&HexId::new(b)), a.cmp(b), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn serializes_as_the_text() {
        let id = HexId::new("0123456789abcdef0123456789abcdef01234567");
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"0123456789abcdef0123456789abcdef01234567\"");
        assert_eq!(serde_json::from_str::<HexId>(&json).unwrap(), id);
    }
}
