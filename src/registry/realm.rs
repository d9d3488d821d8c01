//! Where registry credentials may go. Pure rules over URLs: the configured password is sent only
//! to the registry itself or to a token realm on the registry's host (or the one realm configured
//! as `token_realm`), and never over plain HTTP unless the registry itself is plain HTTP on
//! loopback. A response from another origin is never followed with credentials.

use url::{Host, Url};

/// Whether `url` names this machine (`localhost`, 127.0.0.0/8, ::1).
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Plain HTTP is acceptable for credentials only when the registry is plain HTTP on loopback and
/// the target is on loopback too (a registry and its token server on one test machine).
pub(crate) fn transport_allowed(registry: &Url, target: &Url) -> Result<(), String> {
    match target.scheme() {
        "https" => Ok(()),
        "http" if registry.scheme() == "http" && is_loopback(registry) && is_loopback(target) => {
            Ok(())
        }
        _ => Err(format!(
            "{}://{}: credentials go only over HTTPS (plain HTTP only to a registry on loopback)",
            target.scheme(),
            target.host_str().unwrap_or_default()
        )),
    }
}

/// Whether the registry's password may be sent as Basic auth to the token realm `realm`: on the
/// registry's own host (any port), or exactly the configured `token_realm`; and over a transport
/// [`transport_allowed`] accepts.
pub(crate) fn realm_allowed(
    registry: &Url,
    realm: &Url,
    token_realm: Option<&Url>,
) -> Result<(), String> {
    let same_host = realm.host() == registry.host();
    let configured =
        token_realm.is_some_and(|t| t.origin() == realm.origin() && t.path() == realm.path());
    if !same_host && !configured {
        return Err(format!(
            "the token realm {}://{}{} is not on the registry's host; set token_realm in its \
             [[registries]] entry to send credentials there",
            realm.scheme(),
            realm.host_str().unwrap_or_default(),
            realm.path()
        ));
    }
    transport_allowed(registry, realm)
}

/// A `Location` for an upload, kept on the registry's origin: a different origin's location keeps
/// only its path and query (as GitLab does), so credentials never leave for another origin.
pub(crate) fn on_origin(registry: &Url, mut location: Url) -> Url {
    if location.origin() != registry.origin() {
        let _ = location.set_scheme(registry.scheme());
        let _ = location.set_host(registry.host_str());
        let _ = location.set_port(registry.port());
    }
    location
}

/// Redirects followed by the registry's HTTP client: within the origin of the first request; to
/// another origin only for a blob download over HTTPS (its content is checked against its digest,
/// and the client drops `Authorization` when the origin changes). Anything else is answered as the
/// redirect itself, which callers treat as an error.
pub(crate) fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous()[0].clone();
        if attempt.previous().len() > 5 {
            return attempt.error("too many redirects");
        }
        let same_origin = attempt.url().origin() == first.origin();
        let blob = first.path().contains("/blobs/sha256:") && attempt.url().scheme() == "https";
        if same_origin || blob {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn credentials_stay_with_the_registry() {
        let reg = url("https://registry.example.com");
        let ok = |realm: &str, configured: Option<&str>| {
            let configured = configured.map(url);
            realm_allowed(&reg, &url(realm), configured.as_ref())
        };
        assert!(ok("https://registry.example.com:5050/jwt/auth", None).is_ok());
        assert!(
            ok("http://registry.example.com:8080/jwt/auth", None).is_err(),
            "plain HTTP"
        );
        assert!(
            ok("https://gitlab.example.com/jwt/auth", None).is_err(),
            "another host"
        );
        let gitlab = Some("https://gitlab.example.com/jwt/auth");
        assert!(ok("https://gitlab.example.com/jwt/auth?x=1", gitlab).is_ok());
        assert!(ok("https://gitlab.example.com/other", gitlab).is_err());
        assert!(ok(
            "http://gitlab.example.com/jwt/auth",
            Some("http://gitlab.example.com/jwt/auth")
        )
        .is_err());

        let local = url("http://127.0.0.1:5000");
        assert!(realm_allowed(&local, &url("http://127.0.0.1:5001/token"), None).is_ok());
        assert!(realm_allowed(&local, &url("http://127.0.0.2:5001/token"), None).is_err());
        let plain = url("http://registry.internal:5000");
        assert!(transport_allowed(&plain, &plain).is_err());
    }

    #[test]
    fn upload_locations_stay_on_the_registry_origin() {
        let reg = url("https://registry.example.com:5050");
        let moved = on_origin(
            &reg,
            url("http://evil.example:9/v2/a/blobs/uploads/u?_state=x"),
        );
        assert_eq!(
            moved.as_str(),
            "https://registry.example.com:5050/v2/a/blobs/uploads/u?_state=x"
        );
        let same = url("https://registry.example.com:5050/v2/a/blobs/uploads/u");
        assert_eq!(on_origin(&reg, same.clone()), same);
    }
}
