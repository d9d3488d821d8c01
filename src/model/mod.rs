//! The domain: what registry-gc knows about GitLab projects (refs, pipelines, merge requests, the
//! image tags each pipeline pushes), the changes that update it, and the image rules that say which
//! tags a pipeline pushes. Plain data and pure functions; nothing here does I/O, and every other
//! module may use it.

/// Reads a type from its text, in JSON and in both SQL backends, through `From<String>`.
macro_rules! text_column {
    ($name:ident) => {
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                Ok($name::from(<String as serde::Deserialize>::deserialize(
                    deserializer,
                )?))
            }
        }

        impl<DB: sqlx::Database> sqlx::Type<DB> for $name
        where
            String: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <String as sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <String as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $name
        where
            String: sqlx::Decode<'r, DB>,
        {
            fn decode(value: DB::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                Ok($name::from(<String as sqlx::Decode<'r, DB>>::decode(
                    value,
                )?))
            }
        }
    };
}

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
