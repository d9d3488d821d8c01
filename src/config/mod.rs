//! Configuration: TOML file, then `REGISTRY_GC__SECTION__KEY` environment overrides, then validation.

mod secret;

pub use secret::Secret;
