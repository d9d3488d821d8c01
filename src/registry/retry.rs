//! How long to wait before trying a registry request again: exponential backoff with jitter,
//! `Retry-After`, and which failures are worth another try. Pure; sends nothing.

use std::time::Duration;

use super::error::RegistryError;

/// Exponential backoff with jitter: 100 ms · 2^attempt (max 5 s) plus up to half of that again.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let base = 100u64.saturating_mul(1 << attempt.min(6)).min(5_000);
    Duration::from_millis(base + rand::random_range(0..=base / 2))
}

/// `Retry-After` as seconds or an HTTP-date, capped at 60 s.
pub(crate) fn retry_after(value: Option<&str>) -> Option<Duration> {
    let v = value?.trim();
    let wait = match v.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = httpdate::parse_http_date(v).ok()?;
            at.duration_since(std::time::SystemTime::now())
                .unwrap_or_default()
        }
    };
    Some(wait.min(Duration::from_secs(60)))
}

/// Connection errors and 5xx: worth another try.
pub(crate) fn is_transient(e: &RegistryError) -> bool {
    match e {
        RegistryError::Transport { .. } => true,
        RegistryError::Status { status, .. } => *status >= 500,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(retry_after(Some("3")), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(Some("9999")), Some(Duration::from_secs(60)));
        let soon = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(10));
        let d = retry_after(Some(&soon)).unwrap();
        assert!(
            d <= Duration::from_secs(10) && d >= Duration::from_secs(8),
            "{d:?}"
        );
        assert_eq!(retry_after(Some("soon")), None);
        assert!(backoff(10) <= Duration::from_millis(7_500));
    }
}
