//! GitLab timestamps: four formats appear in payloads (RFC 3339, Rails `to_s` in UTC or with an
//! offset, ISO 8601 with an offset). Unparsable means unknown, never a failed event.

use chrono::{DateTime, Datelike, NaiveDateTime, Utc};

/// Parses any of GitLab's timestamp formats; `None` for anything else.
pub fn parse_gitlab_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    if let Some(naive) = text.strip_suffix(" UTC") {
        if let Ok(t) = NaiveDateTime::parse_from_str(naive, "%Y-%m-%d %H:%M:%S%.f") {
            return Some(t.and_utc());
        }
    }
    [
        "%Y-%m-%d %H:%M:%S%.f %z",
        "%Y-%m-%d %H:%M:%S%.f %:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
    ]
    .iter()
    .find_map(|fmt| DateTime::parse_from_str(text, fmt).ok())
    .map(|t| t.with_timezone(&Utc))
}

/// Deserializes an optional GitLab timestamp leniently: missing, null or unparsable → `None`. A
/// timestamp that parses to a year outside 1..=9999 is an error naming the field: both databases
/// store such times differently (or not at all), and no GitLab event comes from then.
pub fn lenient<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let value: Option<serde_json::Value> = serde::Deserialize::deserialize(d)?;
    let parsed = value
        .as_ref()
        .and_then(serde_json::Value::as_str)
        .and_then(parse_gitlab_time);
    match parsed {
        Some(t) if !(1..=9999).contains(&t.year()) => Err(serde::de::Error::custom(
            "timestamp out of range (years 1 to 9999)",
        )),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_gitlab_time;

    #[test]
    fn all_four_formats() {
        let expect = |s: &str, rfc: &str| {
            assert_eq!(
                parse_gitlab_time(s).map(|t| t.to_rfc3339()),
                Some(rfc.to_owned()),
                "{s}"
            );
        };
        expect("2016-08-12 15:23:28 UTC", "2016-08-12T15:23:28+00:00");
        expect("2026-07-28 15:09:25 -0700", "2026-07-28T22:09:25+00:00");
        expect("2013-12-03T17:23:34Z", "2013-12-03T17:23:34+00:00");
        expect("2013-12-03T17:23:34.123Z", "2013-12-03T17:23:34.123+00:00");
        expect("2011-12-12T14:27:31+02:00", "2011-12-12T12:27:31+00:00");
        expect("2026-07-28 15:09:25 +05:30", "2026-07-28T09:39:25+00:00");
    }

    #[test]
    fn out_of_range_years_are_errors() {
        #[derive(serde::Deserialize)]
        struct T {
            #[serde(default, deserialize_with = "super::lenient")]
            at: Option<chrono::DateTime<chrono::Utc>>,
        }
        for text in [
            "-5000-01-01 00:00:00 +0000",
            "0000-06-01T00:00:00Z",
            "+12345-01-01 00:00:00 +0000",
        ] {
            let body = serde_json::json!({ "at": text });
            let err = serde_json::from_value::<T>(body).err();
            assert!(
                err.is_some_and(|e| e.to_string().contains("out of range")),
                "{text}"
            );
        }
        let ok: T =
            serde_json::from_value(serde_json::json!({"at": "0001-01-01T00:00:00Z"})).unwrap();
        assert!(ok.at.is_some());
    }

    #[test]
    fn garbage_is_none() {
        for s in ["", "yesterday", "2016-13-45 99:00:00 UTC", "1700000000"] {
            assert_eq!(parse_gitlab_time(s), None, "{s}");
        }
    }
}
