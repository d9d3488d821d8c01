//! The fault suite: the database running out of space, processes killed or stopped in the middle of
//! a garbage-collection run, and a registry behind a proxy that fails on purpose. Seeded, bounded,
//! loopback only; every process and server is stopped when its test ends.

mod cancelled;
mod disk_full;
mod kill;
mod registry_faults;
mod sigterm;
mod world;

use crate::support::db::Backend;

/// The seed of a seeded fault test: `RGC_FAULT_SEED` when set (to replay a failure), else `base`;
/// each backend gets its own. Printed, so a failure names it.
pub fn seed(base: u64, backend: Backend) -> u64 {
    let base = std::env::var("RGC_FAULT_SEED")
        .ok()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or(base);
    let seed = base + u64::from(backend == Backend::Postgres);
    eprintln!("fault seed {seed:#x} ({backend:?})");
    seed
}
