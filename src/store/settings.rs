//! How to reach the database: the `[database]` section. Owns the URL's redaction; must never
//! print a password, wherever in the URL it is.

use serde::{Deserialize, Serialize};

/// Where records are kept: `sqlite://PATH` (created if missing) or `postgres://…`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    pub url: DatabaseUrl,
    pub max_connections: u32,
    /// How long a request waits for a connection before answering 503.
    pub acquire_timeout_ms: u64,
    /// SQLite only: how long a writer waits for a lock.
    pub sqlite_busy_timeout_ms: u64,
    /// Tests only (feature `fault-injection`): SQLite's `max_page_count`, a disk that fills up.
    #[cfg(feature = "fault-injection")]
    #[serde(skip)]
    pub sqlite_max_page_count: Option<u32>,
    /// Postgres only: longest a statement may run (`statement_timeout`); keep it, with
    /// `acquire_timeout_ms`, below GitLab's 10 s webhook timeout.
    pub statement_timeout_ms: u64,
    /// Postgres only: longest a statement waits for a lock (`lock_timeout`).
    pub lock_timeout_ms: u64,
    /// `serve` only: how long to keep retrying migrations while the database is unreachable at
    /// start (readiness answers 503 meanwhile); then it exits with an error.
    pub startup_timeout_secs: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: DatabaseUrl("sqlite://registry-gc.db".into()),
            max_connections: 8,
            acquire_timeout_ms: 3000,
            sqlite_busy_timeout_ms: 2000,
            #[cfg(feature = "fault-injection")]
            sqlite_max_page_count: None,
            statement_timeout_ms: 5000,
            lock_timeout_ms: 3000,
            startup_timeout_secs: 120,
        }
    }
}

/// A database URL; its password is masked whenever it is shown.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(pub String);

impl DatabaseUrl {
    /// The URL with every secret replaced by `***`: the password, query parameters that carry one
    /// (`?password=…`), and the fragment. Redacted by parsing; a URL that does not parse the way it
    /// was meant (a password holding `#`, `/` or `?` unencoded) keeps only its scheme and what
    /// follows the last `@`, without query.
    pub fn redacted(&self) -> String {
        let raw = &self.0;
        match url::Url::parse(raw) {
            Ok(u) if !hides_userinfo(raw, &u) => redact_parsed(u),
            _ => redact_unparsed(raw),
        }
    }
}

/// The text has an `@` after the scheme but the parse found no user: the `@` sits in a path or
/// query, so a password may have been read as host, port or path.
fn hides_userinfo(raw: &str, parsed: &url::Url) -> bool {
    let after_scheme = raw.split_once("://").map_or("", |(_, rest)| rest);
    after_scheme.contains('@') && parsed.username().is_empty() && parsed.password().is_none()
}

fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["pass", "pwd", "secret", "token"]
        .iter()
        .any(|s| key.contains(s))
}

fn redact_parsed(mut u: url::Url) -> String {
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    if u.query_pairs().any(|(k, _)| is_secret_key(&k)) {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_secret_key(&k) {
                    "***".into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    if u.fragment().is_some() {
        u.set_fragment(Some("***"));
    }
    u.to_string()
}

fn redact_unparsed(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return "[unparsable database URL, redacted]".into();
    };
    let (userinfo, host) = match rest.rsplit_once('@') {
        Some((_, host)) => ("***@", host),
        None => ("", rest),
    };
    let end = host.find(['?', '#']).unwrap_or(host.len());
    let tail = if end < host.len() { "?***" } else { "" };
    format!("{scheme}://{userinfo}{}{tail}", &host[..end])
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

impl Serialize for DatabaseUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted())
    }
}

impl DatabaseUrl {
    /// `sqlite:` URLs use the embedded backend; everything else is Postgres.
    pub fn is_sqlite(&self) -> bool {
        self.0.starts_with("sqlite:")
    }

    /// Whether the scheme names a backend registry-gc has.
    pub fn is_supported(&self) -> bool {
        self.is_sqlite() || self.0.starts_with("postgres://") || self.0.starts_with("postgresql://")
    }
}

#[cfg(test)]
mod tests {
    use super::DatabaseUrl;

    #[test]
    fn every_form_of_password_is_redacted() {
        let cases = [
            (
                "postgres://gc:Plain1@db:5432/gc",
                "postgres://gc:***@db:5432/gc",
            ),
            (
                "postgres://gc@db/gc?password=Query2&sslmode=disable",
                "postgres://gc@db/gc?password=***&sslmode=disable",
            ),
            ("postgres://gc:pw#Hash3@db/gc", "postgres://***@db/gc"),
            ("postgres://gc:pw/Slash4@db/gc", "postgres://***@db/gc"),
            ("postgres://gc:pw%40Enc5@db/gc", "postgres://gc:***@db/gc"),
            ("postgres://gc:pw?Q6@db/gc", "postgres://***@db/gc"),
            (
                "postgresql://db/gc?user=gc&PassWord=Query7",
                "postgresql://db/gc?user=gc&PassWord=***",
            ),
            ("postgres://gc:pw@At8@db/gc", "postgres://gc:***@db/gc"),
            ("postgres://gc:5432/Slash9@db/gc", "postgres://***@db/gc"),
            (
                "postgres://db/gc?sslpassword=Ssl10#frag",
                "postgres://db/gc?sslpassword=***#***",
            ),
            ("sqlite://registry-gc.db", "sqlite://registry-gc.db"),
            (
                "sqlite:///var/lib/registry-gc/registry-gc.db",
                "sqlite:///var/lib/registry-gc/registry-gc.db",
            ),
        ];
        for (raw, shown) in cases {
            assert_eq!(DatabaseUrl(raw.into()).redacted(), shown, "{raw}");
        }
    }
}
