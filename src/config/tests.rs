use super::*;

const GOOD: &str = r#"
[server]
listen = "127.0.0.1:0"
admin_token = "admin-secret"

[database]
url = "postgres://gc:pw-in-url@127.0.0.1:5432/gc"

[[projects]]
path = "Group/App"
id = 42
webhook_tokens = ["tok-1", "tok-2"]

[[projects.images]]
name = "ci"
kind = "ci-commit"
image = "registry.example.com/group/app-ci:$CI_COMMIT_SHA"

[[projects.images]]
name = "prod"
kind = "prod-commit"
image = "registry.example.com/group/app:prod-$CI_COMMIT_SHA"
refs = ["^$CI_DEFAULT_BRANCH$"]
"#;

#[test]
fn loads_and_finds_projects() {
    let config = Config::from_toml(GOOD).unwrap();
    assert_eq!(config.projects.len(), 1);
    assert!(config.project(Some(42), None).is_some());
    assert!(config.project(None, Some("group/app")).is_some());
    assert!(
        config.project(Some(43), Some("group/app")).is_none(),
        "id wins over path"
    );
    let prod = &config.projects[0].images[1];
    assert!(prod.refs.matches("main", Some("main")));
    assert!(!prod.refs.matches("feature", Some("main")));
    assert!(!prod.refs.matches("main", None));
}

#[test]
fn redacted_output_has_no_secrets() {
    let config = Config::from_toml(GOOD).unwrap();
    let shown = format!("{}\n{:?}", config.to_redacted_toml(), config);
    for secret in ["admin-secret", "tok-1", "tok-2", "pw-in-url"] {
        assert!(!shown.contains(secret), "{secret} leaked:\n{shown}");
    }
    assert!(shown.contains("registry.example.com/group/app-ci:$CI_COMMIT_SHA"));
}

#[test]
fn errors_name_the_key() {
    let cases = [
        (GOOD.replace("ci-commit", "ci-sometimes"), "projects"),
        (
            GOOD.replace("$CI_COMMIT_SHA\"", "$CI_NOPE\""),
            "projects[0].images[0].image",
        ),
        (
            GOOD.replace("\"^$CI_DEFAULT_BRANCH$\"", "\"(\""),
            "projects[0].images[1].refs",
        ),
        (
            GOOD.replace("webhook_tokens = [\"tok-1\", \"tok-2\"]", ""),
            "projects[0].webhook_tokens",
        ),
        (GOOD.replace("postgres://", "mysql://"), "database.url"),
        (GOOD.replace("listen = ", "lisen = "), "lisen"),
        (
            format!("{GOOD}\n[[registries]]\nurl = \"https://r.example\"\npasword = \"x\"\n"),
            "pasword",
        ),
        (
            format!("{GOOD}\n[gc]\nschedule = \"every hour\"\n"),
            "gc.schedule",
        ),
        (
            GOOD.replace("name = \"prod\"", "name = \"ci\""),
            "duplicate rule name",
        ),
        (
            format!("{GOOD}\n[[projects]]\npath = \"group/app\"\nwebhook_tokens = [\"x\"]\n"),
            "projects[1]",
        ),
    ];
    for (text, expected) in cases {
        let err = Config::from_toml(&text).unwrap_err().to_string();
        assert!(err.contains(expected), "expected {expected:?} in:\n{err}");
    }
}

#[test]
fn defaults_are_sqlite_and_all_interfaces() {
    let config = Config::from_toml("").unwrap();
    assert_eq!(config.database.url.0, "sqlite://registry-gc.db");
    assert_eq!(config.server.listen.port(), 8080);
    assert_eq!(config.log.format, LogFormat::Human);
}

#[test]
fn example_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/registry-gc.example.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let config = Config::from_toml(&text).unwrap();
    assert!(!config.projects.is_empty());
    assert!(config.gc.dry_run, "the example must not delete");
    let image_default = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/registry-gc.toml");
    Config::from_toml(&std::fs::read_to_string(image_default).unwrap()).unwrap();
}
