//! GitLab REST API: the client, and what registry-gc derives from its answers: reconciliation of
//! recorded refs, merge requests and pipelines (`reconcile`), adoption of existing projects
//! (`import`), and the health of the project hook (`hooks`). The derivations are pure; only
//! `client`, `transport`, `page` and `fetch` do I/O. `service` is the one part that writes: it
//! applies the findings through the store, as webhook deliveries are applied. Nothing here deletes.

pub mod api;
pub mod client;
mod error;
pub mod fetch;
pub mod finding;
pub mod hooks;
pub mod import;
mod page;
pub mod reconcile;
pub mod service;
pub mod settings;
mod transport;

pub use client::{BranchLookup, GitLabClient, ProjectApi};
pub use error::GitLabError;
pub use page::Listing;
pub use service::{Imported, ProjectReconciled, Reconciler};
pub use settings::{GitLabSettings, ProjectOverrides, ProjectSettings};
pub use transport::Budget;
