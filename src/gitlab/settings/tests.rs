//! Defaults, overrides, validation messages and redaction of `[gitlab]`.

use super::*;

fn parse(toml_text: &str) -> GitLabSettings {
    toml::from_str(toml_text).expect("valid settings")
}

#[test]
fn defaults_overrides_and_redaction() {
    let s = parse(
        r#"
url = "https://gitlab.example.com"
token = "glpat-hunter2"
[projects."group/App"]
shrink_ratio = 0.1
silence_warning = "3h"
[projects."7"]
enabled = false
"#,
    );
    assert_eq!(s.schedule, "0 */30 * * * *");
    assert_eq!((s.per_page, s.max_pages, s.retries), (100, 200, 3));
    let p = s.for_project(42, Some("group/app"));
    assert_eq!(p.shrink_ratio, 0.1);
    assert_eq!(p.silence_warning, TimeDelta::hours(3));
    assert!(p.enabled);
    assert!(!s.for_project(7, None).enabled);
    assert_eq!(s.for_project(8, Some("other")).shrink_ratio, 0.5);
    let mut errors = Vec::new();
    s.validate("gitlab", &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    let shown = toml::to_string(&s).unwrap();
    assert!(
        !shown.contains("hunter2") && shown.contains("[redacted]"),
        "{shown}"
    );
    assert!(!format!("{s:?}").contains("hunter2"));
}

#[test]
fn validation_names_the_key() {
    let mut s = parse("url = \"ftp://x\"\ntoken = \"t\"\nper_page = 500\nshrink_ratio = 2.0");
    s.projects.insert(
        "group/app".into(),
        ProjectOverrides {
            max_pages: Some(0),
            ..Default::default()
        },
    );
    s.schedule = "every day".into();
    let mut errors = Vec::new();
    s.validate("gitlab", &mut errors);
    let text = errors.join("\n");
    for key in [
        "gitlab.url:",
        "gitlab.per_page:",
        "gitlab.shrink_ratio:",
        "gitlab.schedule:",
        "gitlab.projects.\"group/app\".max_pages:",
    ] {
        assert!(text.contains(key), "{key} missing in {text}");
    }
}

#[test]
fn unknown_keys_are_refused() {
    let err = toml::from_str::<GitLabSettings>("url = \"https://g\"\ntoken = \"t\"\ntokn = 1")
        .unwrap_err();
    assert!(err.to_string().contains("tokn"), "{err}");
}
