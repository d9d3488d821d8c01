//! Try the registry operator commands before they are wired into the main binary:
//! `cargo run --example registry -- --url http://127.0.0.1:5000 tags my/repo`.

use clap::Parser;
use registry_gc::registry::cli::{run, RegistryArgs, RegistryCommand};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: RegistryArgs,
    #[command(subcommand)]
    cmd: RegistryCommand,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    run(cli.cmd, cli.args.settings()?).await
}
