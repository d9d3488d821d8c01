//! Registry client (Docker Registry HTTP API v2 / OCI distribution): list, resolve, push and remove
//! tags without ever taking a sibling tag down. Owns every HTTP call to a registry; must never log
//! credentials, and never delete a digest another kept tag may point at.

mod auth;
mod batch;
pub mod cli;
mod client;
mod digest;
mod error;
pub mod manifest;
mod read;
mod remove;
mod settings;
mod transport;
mod upload;

pub use auth::{parse_challenge, Challenge};
pub use batch::{RemovalReport, Strategy, TagOutcome, TagResult};
pub use client::RegistryClient;
pub use digest::{split_reference, validate_repo, validate_tag, Digest};
pub use error::RegistryError;
pub use manifest::Format;
pub use read::{FetchedManifest, ImageSummary};
pub use remove::{BatchCheck, DeleteCapability, Deleted, Dummy, ImageDeletion, Repoint};
pub use settings::RegistrySettings;
