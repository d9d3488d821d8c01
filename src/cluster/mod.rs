//! Kubernetes cluster protection: which images the configured clusters run or can roll back to,
//! read by list-and-watch workers into a compact store, and handed to the policy as `Protections`
//! naming each user. When any cluster or kind is not listed and fresh, protection is unavailable
//! and a run deletes nothing. Reads the Kubernetes API only; must never delete or write anything.
//!
//! Flow: `settings` → `source` starts `workers` (`connect`, then `watch` per kind) → `extract`
//! (typed kinds) / `dynamic` (extra kinds) fill `store` → `images` parses (`reference`, `alias`)
//! and judges → `Protections`, `render` (CLI), `metrics`. See `docs/cluster-protection.md`.

mod alias;
mod connect;
mod dynamic;
mod extract;
mod images;
mod kinds;
mod metrics;
mod protection;
mod reference;
mod render;
pub mod settings;
mod source;
mod store;
mod watch;
mod workers;

pub use connect::Connection;
pub use images::{ClusterImages, ClusterIndex, ClusterStatus, ImageInUse, InUse, Unparsable};
pub use metrics::ClusterMetrics;
pub use protection::{NoClusterProtection, ProtectionSource, UnavailableProtection};
pub use render::{images_command, render_json, render_text};
pub use settings::{ClusterEntry, ClusterSettings, ExtraKind, HostAlias};
pub use source::KubernetesProtection;
pub use store::KindView;
