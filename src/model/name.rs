//! `Name`: a shared, immutable string for the names that repeat across records (repository, image
//! rule, ref, pipeline source). [`ProjectState::share_names`] makes equal names one allocation, so a
//! million records of a few thousand repositories hold a pointer each instead of a string each.
//! It reads, prints, compares, hashes and serializes exactly as the text.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use serde::{Serialize, Serializer};

use super::ProjectState;

/// A shared string; cloning it copies a pointer.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Name(Arc<str>);

impl Name {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The shared string itself (for plan entries that keep it).
    pub fn shared(&self) -> &Arc<str> {
        &self.0
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Name {
    fn from(text: &str) -> Self {
        Name(Arc::from(text))
    }
}

impl From<String> for Name {
    fn from(text: String) -> Self {
        Name(Arc::from(text))
    }
}

impl From<&String> for Name {
    fn from(text: &String) -> Self {
        Name(Arc::from(text.as_str()))
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<Name> for &str {
    fn eq(&self, other: &Name) -> bool {
        **self == *other.0
    }
}

impl PartialEq<Name> for String {
    fn eq(&self, other: &Name) -> bool {
        **self == *other.0
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

text_column!(Name);

/// Hands out one shared [`Name`] per distinct text.
#[derive(Debug, Default)]
pub struct Names(HashSet<Name>);

impl Names {
    /// The shared name for `text`.
    pub fn get(&mut self, text: &str) -> Name {
        if let Some(name) = self.0.get(text) {
            return name.clone();
        }
        let name = Name::from(text);
        self.0.insert(name.clone());
        name
    }

    /// Replaces `name` by the shared one with the same text (freeing its own copy).
    pub fn share(&mut self, name: &mut Name) {
        match self.0.get(name.as_str()) {
            Some(shared) => *name = shared.clone(),
            None => {
                self.0.insert(name.clone());
            }
        }
    }
}

impl ProjectState {
    /// Makes equal repository, rule, ref and source names of the records one allocation each.
    /// Records read row by row carry a copy per row; planning a big project holds them all.
    pub fn share_names(&mut self) {
        let mut names = Names::default();
        for t in &mut self.image_tags {
            names.share(&mut t.repository);
            names.share(&mut t.rule);
            names.share(&mut t.ref_name);
        }
        for p in &mut self.pipelines {
            names.share(&mut p.ref_name);
            if let Some(source) = &mut p.source {
                names.share(source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_share_one_allocation() {
        let mut names = Names::default();
        let (a, b) = (names.get("g/app-ci"), names.get("g/app-ci"));
        assert!(Arc::ptr_eq(a.shared(), b.shared()));
        let mut own = Name::from("g/app-ci".to_owned());
        names.share(&mut own);
        assert!(Arc::ptr_eq(own.shared(), a.shared()));
        assert_eq!(a, "g/app-ci");
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"g/app-ci\"");
        assert_eq!(format!("{a:?}"), "\"g/app-ci\"");
    }
}
