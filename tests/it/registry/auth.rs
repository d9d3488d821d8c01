//! Authentication: htpasswd basic auth (bcrypt) and the Bearer token flow with real signed JWTs.

use super::tags;
use crate::support::registry::{Grant, RegistryOptions, TestImage, TestRegistry, TokenIssuer};
use registry_gc::gc::{remove_tags, RemovalOutcome};
use registry_gc::registry::{Format, RegistryClient, RegistryError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_with_bcrypt_htpasswd() {
    let creds = Some(("ci-bot".to_string(), "s3cret-pass".to_string()));
    let reg = TestRegistry::start_with(RegistryOptions {
        htpasswd: creds,
        ..Default::default()
    })
    .await;
    let client = reg.client();
    client.ping().await.unwrap();
    let x = reg
        .push_image("team/app", "v1", &TestImage::random(Format::Docker, 1, 100))
        .await;
    super::tag_existing(&reg, "team/app", "v1-copy", &x).await;
    let report = remove_tags(&client, "team/app", &[("v1".into(), x.clone())], &[])
        .await
        .unwrap();
    assert_eq!(report.tags[0].outcome, RemovalOutcome::Removed);
    assert_eq!(
        tags(&client, "team/app").await,
        ["v1-copy".to_string()].into()
    );

    let anonymous = RegistryClient::new(registry_gc::registry::RegistrySettings::new(
        reg.url().parse().unwrap(),
    ))
    .unwrap();
    let err = anonymous.list_tags("team/app").await.unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err:?}");
    let wrong = RegistryClient::new(reg.settings_as("ci-bot", "wrong-pass")).unwrap();
    let err = wrong.ping().await.unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err:?}");
    assert!(
        !format!("{err} {err:?}").contains("s3cret-pass")
            && !format!("{err:?}").contains("wrong-pass")
    );
}

/// A token-auth registry whose `settings()` log in as `admin` (all actions); `pusher` lacks delete.
async fn token_registry() -> (TokenIssuer, TestRegistry) {
    let issuer = TokenIssuer::start(&[
        (
            "admin",
            Grant::new("admin-pass", &["pull", "push", "delete"]),
        ),
        ("pusher", Grant::new("pusher-pass", &["pull", "push"])),
    ])
    .await;
    let login = Some(("admin".to_string(), "admin-pass".to_string()));
    let options = RegistryOptions {
        token: Some(issuer.token_auth()),
        login,
        ..Default::default()
    };
    let reg = TestRegistry::start_with(options).await;
    (issuer, reg)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_auth_removes_with_delete_right_and_refuses_without() {
    let (issuer, reg) = token_registry().await;
    let admin = reg.client();
    admin.ping().await.unwrap();
    let x = reg
        .push_image("grp/api", "a", &TestImage::random(Format::Docker, 1, 200))
        .await;
    super::tag_existing(&reg, "grp/api", "b", &x).await;
    super::tag_existing(&reg, "grp/api", "c", &x).await;

    // Without `delete`: a clean, specific error and no change at all.
    let pusher = RegistryClient::new(reg.settings_as("pusher", "pusher-pass")).unwrap();
    let err = remove_tags(&pusher, "grp/api", &[("a".into(), x.clone())], &[])
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::MissingDeleteRight { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("lacks delete rights"), "{err}");
    assert_eq!(
        tags(&admin, "grp/api").await,
        ["a", "b", "c"].map(String::from).into()
    );
    assert_eq!(
        admin.resolve("grp/api", "a").await.unwrap(),
        Some(x.clone())
    );

    let report = remove_tags(&admin, "grp/api", &[("a".into(), x.clone())], &[])
        .await
        .unwrap();
    assert_eq!(report.tags[0].outcome, RemovalOutcome::Removed);
    assert_eq!(
        tags(&admin, "grp/api").await,
        ["b", "c"].map(String::from).into()
    );
    assert_eq!(admin.resolve("grp/api", "b").await.unwrap(), Some(x));
    // Tokens are cached per scope set: a handful, not one per request.
    assert!(
        (2..=12).contains(&issuer.issued()),
        "{} tokens issued",
        issuer.issued()
    );

    let stranger = RegistryClient::new(reg.settings_as("admin", "bad")).unwrap();
    let err = stranger.list_tags("grp/api").await.unwrap_err();
    assert!(matches!(err, RegistryError::Token { .. }), "{err:?}");
}
