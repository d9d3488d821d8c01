//! Registry client (Docker Registry HTTP API v2 / OCI distribution): list, resolve, push and remove
//! tags without ever taking a sibling tag down. Owns every HTTP call to a registry; must never log
//! credentials, and never delete a digest another kept tag may point at.

mod auth;
mod client;
mod digest;
mod error;
mod gitlab_v1;
pub mod manifest;
mod observe;
mod read;
mod realm;
mod remove;
mod retry;
mod session;
mod settings;
mod transport;
mod upload;
mod wire;

pub use auth::{parse_challenge, Challenge};
pub use client::{DeleteCapability, RegistryClient};
pub use digest::{split_reference, validate_repo, validate_tag, Digest};
pub use error::RegistryError;
pub use gitlab_v1::TagDetail;
pub use manifest::Format;
pub use observe::{RequestObserver, Unobserved};
pub use read::{FetchedManifest, ImageSummary};
pub use remove::{BatchCheck, Deleted, Dummy, ImageDeletion, Repoint};
pub use settings::RegistrySettings;
