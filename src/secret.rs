//! Secrets in configuration: given inline, or read from an environment variable or a file.
//! A `Secret` never prints its value: `Debug`, `Display` and `Serialize` all redact it.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use subtle::ConstantTimeEq;

/// A secret string (token, password) loaded from config.
///
/// In TOML it is either a plain string, `{ env = "VAR" }` or `{ file = "/path" }`; a file's trailing
/// newline is dropped. Resolution happens while the config is read, so a missing variable or file is a
/// config error naming the key.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(SecretString::from(value.into()))
    }

    /// The value, for the one place that must send it (an HTTP header, a DB URL).
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Constant-time comparison with a presented value.
    pub fn matches(&self, presented: &[u8]) -> bool {
        self.expose().as_bytes().ct_eq(presented).into()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(\"[redacted]\")")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SecretSource {
    Inline(String),
    Env { env: String },
    File { file: std::path::PathBuf },
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let value = match SecretSource::deserialize(d).map_err(|_| {
            D::Error::custom("expected a string, { env = \"VAR\" } or { file = \"/path\" }")
        })? {
            SecretSource::Inline(v) => v,
            SecretSource::Env { env } => std::env::var(&env)
                .map_err(|_| D::Error::custom(format!("environment variable {env} is not set")))?,
            SecretSource::File { file } => std::fs::read_to_string(&file)
                .map_err(|e| D::Error::custom(format!("cannot read {}: {e}", file.display())))?
                .trim_end_matches(['\r', '\n'])
                .to_owned(),
        };
        if value.is_empty() {
            return Err(D::Error::custom("secret is empty"));
        }
        Ok(Secret::new(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Holder {
        s: Secret,
    }

    #[test]
    fn inline_file_and_env_sources() {
        let h: Holder = serde_json::from_str(r#"{"s":"abc"}"#).unwrap();
        assert_eq!(h.s.expose(), "abc");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tok");
        std::fs::write(&path, "from-file\n").unwrap();
        let json = serde_json::json!({ "s": { "file": path } });
        let h: Holder = serde_json::from_value(json).unwrap();
        assert_eq!(h.s.expose(), "from-file");

        let err = serde_json::from_str::<Holder>(r#"{"s":{"env":"RGC_SURELY_UNSET_VAR"}}"#)
            .err()
            .unwrap();
        assert!(err.to_string().contains("RGC_SURELY_UNSET_VAR"), "{err}");
    }

    #[test]
    fn never_printed() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"[redacted]\"");
        assert!(s.matches(b"hunter2"));
        assert!(!s.matches(b"hunter3"));
        assert!(!s.matches(b"hunter"));
    }
}
