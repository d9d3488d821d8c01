//! The `registry-gc` binary: parse the command line and run it.

use std::process::ExitCode;

use clap::Parser;

/// jemalloc, for Rust and C (SQLite) alike: glibc's malloc kept what a GC run had freed in one
/// arena per thread (tokio workers, one thread per SQLite connection), and RSS grew with every run
/// (35 → 57 MiB over 20 runs, `scripts/bench-memory.sh`). jemalloc's background thread returns
/// freed pages within about a second (`.cargo/config.toml` sets the decay). Only the binary: the
/// library and its tests keep the system allocator.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = registry_gc::cli::Cli::parse();
    match registry_gc::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("registry-gc: {e:#}");
            ExitCode::FAILURE
        }
    }
}
