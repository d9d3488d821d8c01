//! Humane durations for retention settings: `"90m"`, `"24h"`, `"30d"`, `"1h30m"`, `"never"`.
//! Parsing, formatting and the serde helpers that use them; no I/O.

use chrono::TimeDelta;
use serde::{de, Deserialize, Deserializer, Serializer};

/// The word that turns an optional duration off in config (`untracked_max_age = "never"`).
pub const NEVER: &str = "never";

/// Parses `"<n><unit>"` runs (units `s`, `m`, `h`, `d`, `w`), e.g. `"90m"` or `"1d12h"`.
pub fn parse(text: &str) -> Result<TimeDelta, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    let mut total: i64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "duration {text:?}: expected a number before {rest:?}"
            ));
        }
        let number: i64 = rest[..digits]
            .parse()
            .map_err(|_| format!("duration {text:?}: number too large"))?;
        let unit = rest[digits..]
            .chars()
            .next()
            .ok_or_else(|| format!("duration {text:?}: missing unit (s, m, h, d, w)"))?;
        let seconds = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 604_800,
            other => {
                return Err(format!(
                    "duration {text:?}: unknown unit {other:?} (s, m, h, d, w)"
                ))
            }
        };
        let part = number
            .checked_mul(seconds)
            .ok_or_else(|| format!("duration {text:?}: too large"))?;
        total = total
            .checked_add(part)
            .ok_or_else(|| format!("duration {text:?}: too large"))?;
        rest = &rest[digits + unit.len_utf8()..];
    }
    TimeDelta::try_seconds(total).ok_or_else(|| format!("duration {text:?}: too large"))
}

/// Formats in the largest unit that divides it exactly: `24h`, `30d`, `90m`, `45s`.
/// Whole days are written as days only from two days up, so a day reads `24h`.
pub fn format(delta: TimeDelta) -> String {
    let secs = delta.num_seconds();
    if secs != 0 && secs % 86_400 == 0 && secs / 86_400 >= 2 {
        format!("{}d", secs / 86_400)
    } else if secs != 0 && secs % 3_600 == 0 {
        format!("{}h", secs / 3_600)
    } else if secs != 0 && secs % 60 == 0 {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

/// `#[serde(with = "duration::humane")]` for a `TimeDelta` field.
pub mod humane {
    use super::*;

    /// Writes the humane form.
    pub fn serialize<S: Serializer>(delta: &TimeDelta, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format(*delta))
    }

    /// Reads the humane form.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<TimeDelta, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse(&text).map_err(de::Error::custom)
    }
}

/// `#[serde(with = "duration::humane_or_never")]` for an `Option<TimeDelta>`: `None` is `"never"`.
pub mod humane_or_never {
    use super::*;

    /// Writes the humane form, or `"never"`.
    pub fn serialize<S: Serializer>(
        delta: &Option<TimeDelta>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match delta {
            Some(delta) => serializer.serialize_str(&format(*delta)),
            None => serializer.serialize_str(NEVER),
        }
    }

    /// Reads the humane form, or `"never"`.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<TimeDelta>, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_or_never(&text).map_err(de::Error::custom)
    }
}

/// For overrides: a missing key stays `None`, `"never"` is `Some(None)`, `"30d"` is `Some(Some(30d))`.
pub mod override_or_never {
    use super::*;

    /// Writes a set override (`"never"` or the humane form); unset fields are skipped by the caller.
    pub fn serialize<S: Serializer>(
        value: &Option<Option<TimeDelta>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => humane_or_never::serialize(inner, serializer),
            None => serializer.serialize_none(),
        }
    }

    /// Reads the humane form, or `"never"`, wrapped as "present".
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Option<TimeDelta>>, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_or_never(&text).map(Some).map_err(de::Error::custom)
    }
}

/// `#[serde(with = "duration::optional")]` for an override field: absent or a humane duration.
pub mod optional {
    use super::*;

    /// Writes a set duration; unset fields are skipped by the caller.
    pub fn serialize<S: Serializer>(
        value: &Option<TimeDelta>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(delta) => humane::serialize(delta, serializer),
            None => serializer.serialize_none(),
        }
    }

    /// Reads a present humane duration.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<TimeDelta>, D::Error> {
        humane::deserialize(deserializer).map(Some)
    }
}

fn parse_or_never(text: &str) -> Result<Option<TimeDelta>, String> {
    if text.trim() == NEVER {
        Ok(None)
    } else {
        parse(text).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_humane_durations() {
        let cases = [
            ("1h", 3_600, "1h"),
            ("24h", 86_400, "24h"),
            ("30d", 2_592_000, "30d"),
            ("90m", 5_400, "90m"),
            ("1h30m", 5_400, "90m"),
            ("45s", 45, "45s"),
            ("2w", 1_209_600, "14d"),
            ("0s", 0, "0s"),
        ];
        for (text, seconds, formatted) in cases {
            let delta = parse(text).unwrap();
            assert_eq!(delta.num_seconds(), seconds, "{text}");
            assert_eq!(format(delta), formatted, "{text}");
        }
    }

    #[test]
    fn rejects_malformed_durations() {
        for bad in ["", "h", "10", "10x", "-1h", "1.5h", "99999999999999999999d"] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
    }
}
