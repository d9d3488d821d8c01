//! `RegistrySettings`: how to reach one registry (URL, credentials, timeouts, limits).
//! Owns defaults and validation; must never print the password (it is a redacted `Secret`).

use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use url::Url;

/// Settings for one registry; the daemon config holds a list of them (`[[registries]]`), matched by host.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrySettings {
    /// Base URL, `http://` or `https://`, e.g. `https://registry.gitlab.example.com`.
    #[serde(with = "url_text")]
    pub url: Url,
    /// User for basic auth or for the token endpoint (GitLab: a user name or any name with a PAT).
    #[serde(default)]
    pub username: Option<String>,
    /// Password or access token; serialized as `[redacted]`.
    #[serde(default)]
    pub password: Option<Secret>,
    /// Time allowed for one HTTP request, seconds.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_secs: u64,
    /// Time allowed to open a connection, seconds.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    /// Requests in flight at once against this registry.
    #[serde(default = "default_concurrency")]
    pub max_concurrency: usize,
    /// Retries after the first attempt for idempotent requests (connection errors, 5xx, 429).
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Lifetime assumed for a token that states none and is not a readable JWT, seconds.
    #[serde(default = "default_token_lifetime")]
    pub token_lifetime_secs: u64,
    /// The token realm on another host the credentials may be sent to (GitLab:
    /// `https://gitlab.example.com/jwt/auth`); a realm on the registry's own host needs none.
    #[serde(
        default,
        with = "opt_url_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub token_realm: Option<Url>,
}

/// (De)serializes a URL as its text.
mod url_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use url::Url;

    pub fn serialize<S: Serializer>(u: &Url, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(u.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Url, D::Error> {
        let text = String::deserialize(d)?;
        Url::parse(&text)
            .map_err(|e| serde::de::Error::custom(format!("invalid url {text:?}: {e}")))
    }
}

/// (De)serializes an optional URL as its text.
mod opt_url_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use url::Url;

    pub fn serialize<S: Serializer>(u: &Option<Url>, s: S) -> Result<S::Ok, S::Error> {
        match u {
            Some(u) => super::url_text::serialize(u, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Url>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| {
                Url::parse(&text)
                    .map_err(|e| serde::de::Error::custom(format!("invalid url {text:?}: {e}")))
            })
            .transpose()
    }
}

fn default_request_timeout() -> u64 {
    30
}
fn default_connect_timeout() -> u64 {
    5
}
fn default_concurrency() -> usize {
    8
}
fn default_retries() -> u32 {
    3
}
fn default_token_lifetime() -> u64 {
    60
}

impl RegistrySettings {
    /// Settings with defaults for `url` and no credentials.
    pub fn new(url: Url) -> Self {
        RegistrySettings {
            url,
            username: None,
            password: None,
            request_timeout_secs: default_request_timeout(),
            connect_timeout_secs: default_connect_timeout(),
            max_concurrency: default_concurrency(),
            retries: default_retries(),
            token_lifetime_secs: default_token_lifetime(),
            token_realm: None,
        }
    }

    /// Same settings with basic credentials.
    pub fn with_credentials(mut self, username: impl Into<String>, password: Secret) -> Self {
        self.username = Some(username.into());
        self.password = Some(password);
        self
    }

    /// `host[:port]` of the registry, the key the daemon matches image references against.
    pub fn host(&self) -> String {
        match (self.url.host_str(), self.url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => String::new(),
        }
    }

    /// Checks the settings; called by the client constructor.
    pub fn validate(&self) -> Result<(), String> {
        if !matches!(self.url.scheme(), "http" | "https") {
            return Err(format!(
                "registry url must be http or https, got {}",
                self.url
            ));
        }
        if self.url.host_str().is_none() {
            return Err("registry url has no host".into());
        }
        if !self.url.username().is_empty() || self.url.password().is_some() {
            return Err("put registry credentials in username/password, not in the url".into());
        }
        if self.password.is_some() != self.username.is_some() {
            return Err("registry username and password must be given together".into());
        }
        if self.password.is_some() {
            super::realm::transport_allowed(&self.url, &self.url)?;
        }
        if let Some(realm) = &self.token_realm {
            super::realm::transport_allowed(&self.url, realm)
                .map_err(|e| format!("token_realm: {e}"))?;
        }
        if self.max_concurrency == 0 || self.max_concurrency > 1024 {
            return Err("max_concurrency must be between 1 and 1024".into());
        }
        if self.request_timeout_secs == 0 || self.connect_timeout_secs == 0 {
            return Err("timeouts must be at least one second".into());
        }
        Ok(())
    }

    pub(crate) fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    pub(crate) fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_redaction() {
        let s: RegistrySettings = serde_json::from_str(
            r#"{"url":"https://reg.example:5050","username":"bot","password":"hunter2"}"#,
        )
        .unwrap();
        assert_eq!(s.max_concurrency, 8);
        assert_eq!(s.token_lifetime_secs, 60);
        assert_eq!(s.host(), "reg.example:5050");
        assert!(s.validate().is_ok());
        let out = serde_json::to_string(&s).unwrap();
        assert!(
            !out.contains("hunter2") && out.contains("[redacted]"),
            "{out}"
        );
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn rejects_bad_urls() {
        let s = RegistrySettings::new(Url::parse("ftp://x").unwrap());
        assert!(s.validate().is_err());
        let s = RegistrySettings::new(Url::parse("http://u:p@x").unwrap());
        assert!(s.validate().unwrap_err().contains("credentials"));
        let plain = RegistrySettings::new(Url::parse("http://registry.internal:5000").unwrap())
            .with_credentials("bot", crate::secret::Secret::new("pw"));
        assert!(plain.validate().unwrap_err().contains("HTTPS"));
        let local = RegistrySettings::new(Url::parse("http://127.0.0.1:5000").unwrap())
            .with_credentials("bot", crate::secret::Secret::new("pw"));
        assert!(local.validate().is_ok());
    }
}
