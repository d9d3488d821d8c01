//! Extra kinds read through the dynamic API (Argo Rollouts, Knative Services, ControllerRevisions):
//! configured field paths into the object's JSON, each leading to a pod spec or an image string.
//! Reads JSON only; must never fail on an object whose shape differs (it then names no image).

use serde_json::Value;

use super::extract::ObjectImages;
use crate::policy::Usage;

/// One step of a path: a field, and whether to step into every element of the list it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Step {
    field: String,
    each: bool,
}

/// A dotted path such as `spec.template.spec` or `spec.containers[].image`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    text: String,
    steps: Vec<Step>,
}

impl FieldPath {
    /// Parses a path; fields are `[A-Za-z0-9_-]+`, optionally followed by `[]`.
    pub fn parse(text: &str) -> Result<FieldPath, String> {
        let mut steps = Vec::new();
        for part in text.split('.') {
            let (field, each) = match part.strip_suffix("[]") {
                Some(field) => (field, true),
                None => (part, false),
            };
            let ok = !field.is_empty()
                && field
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !ok {
                return Err(format!("{text:?}: {part:?} is not a field name"));
            }
            steps.push(Step {
                field: field.to_owned(),
                each,
            });
        }
        Ok(FieldPath {
            text: text.to_owned(),
            steps,
        })
    }

    /// The values the path leads to in `object` (none when a field is missing).
    fn find<'v>(&self, object: &'v Value) -> Vec<&'v Value> {
        let mut current = vec![object];
        for step in &self.steps {
            let mut next = Vec::new();
            for value in current {
                match (value.get(&step.field), step.each) {
                    (Some(Value::Array(items)), true) => next.extend(items.iter()),
                    (Some(found), false) => next.push(found),
                    _ => {}
                }
            }
            current = next;
        }
        current
    }
}

/// Adds the images `paths` lead to in `object`: a string is an image, an object is a pod spec.
pub fn images(object: &Value, paths: &[FieldPath], found: &mut ObjectImages) {
    for path in paths {
        for value in path.find(object) {
            match value {
                Value::String(image) if !image.trim().is_empty() => {
                    let usage = Usage::Field {
                        path: path.text.clone(),
                    };
                    found.images.push((usage, image.clone()));
                }
                Value::Object(_) => pod_spec(value, &mut found.images),
                _ => {}
            }
        }
    }
}

/// A pod spec in JSON form. Unlike the typed reader it accepts containers without a name
/// (Knative's templates allow that).
fn pod_spec(spec: &Value, out: &mut Vec<(Usage, String)>) {
    type Slot = fn(String) -> Usage;
    let lists: [(&str, Slot); 3] = [
        ("containers", |container| Usage::Container { container }),
        ("initContainers", |container| Usage::InitContainer {
            container,
        }),
        ("ephemeralContainers", |container| {
            Usage::EphemeralContainer { container }
        }),
    ];
    for (field, usage) in lists {
        for c in spec
            .get(field)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(image) = text(c.get("image")) {
                let name = text(c.get("name")).unwrap_or_default();
                out.push((usage(name.to_owned()), image.to_owned()));
            }
        }
    }
    for v in spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let reference = v.get("image").and_then(|i| text(i.get("reference")));
        if let Some(reference) = reference {
            let volume = text(v.get("name")).unwrap_or_default().to_owned();
            out.push((Usage::ImageVolume { volume }, reference.to_owned()));
        }
    }
}

/// A non-empty string value.
fn text(value: Option<&Value>) -> Option<&str> {
    value
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn found(object: Value, paths: &[&str]) -> Vec<(Usage, String)> {
        let paths: Vec<FieldPath> = paths.iter().map(|p| FieldPath::parse(p).unwrap()).collect();
        let mut out = ObjectImages::default();
        images(&object, &paths, &mut out);
        out.images
    }

    #[test]
    fn pod_specs_and_strings_are_found() {
        let rollout = json!({"spec": {"template": {"spec": {
            "containers": [{"name": "web", "image": "r.example.com/g/app:1"}, {"image": "side:2"}],
            "initContainers": [{"name": "init", "image": "init:3"}]
        }}}, "status": {"images": [{"image": "s:4"}, {"image": ""}]}});
        let images = found(
            rollout,
            &[
                "spec.template.spec",
                "status.images[].image",
                "spec.missing",
            ],
        );
        let strings: Vec<&str> = images.iter().map(|(_, i)| i.as_str()).collect();
        assert_eq!(
            strings,
            ["r.example.com/g/app:1", "side:2", "init:3", "s:4"]
        );
        assert_eq!(
            images[3].0,
            Usage::Field {
                path: "status.images[].image".into()
            }
        );
    }

    #[test]
    fn bad_paths_are_refused() {
        for bad in ["", "spec..template", "spec.te mplate", "[]"] {
            assert!(FieldPath::parse(bad).is_err(), "{bad:?}");
        }
    }
}
