//! The `registry-gc` binary: parse the command line and run it.

use std::process::ExitCode;

use clap::Parser;

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
