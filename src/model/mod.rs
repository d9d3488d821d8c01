//! The domain: what registry-gc knows about GitLab projects (refs, pipelines, merge requests, the
//! image tags each pipeline pushes), the changes that update it, and the image rules that say which
//! tags a pipeline pushes. Plain data and pure functions; nothing here does I/O, and every other
//! module may use it.

mod change;
mod hex_id;
pub mod image;
mod name;
mod records;
mod rules;
mod slug;

pub use change::*;
pub use hex_id::{HexId, HexText};
pub use name::{Name, Names};
pub use records::*;
pub use rules::{expected_tags, ImageRule, ProjectFacts, RefFilter};
pub use slug::slugify;
