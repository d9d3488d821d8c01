//! Operator commands: `registry tags`, `registry resolve`, `registry rm [--dry-run]`. Owns their
//! argument parsing and human output; removal goes through the same executor as garbage-collection
//! runs. Must never print credentials.

use std::collections::BTreeMap;

use anyhow::{bail, Context};
use futures::stream::{self, StreamExt, TryStreamExt};

use crate::config::Config;
use crate::gc::{remove_tags, RemovalOutcome, RemovalReport};
use crate::registry::{split_reference, Digest, RegistryClient, RegistrySettings};
use crate::secret::Secret;

/// `registry-gc registry ...` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum RegistryCommand {
    /// List the tags of a repository.
    Tags {
        /// Repository path, e.g. `group/project/app`.
        repo: String,
    },
    /// Show the digest, type and size a tag points at.
    Resolve {
        /// `REPO:TAG`.
        reference: String,
    },
    /// Remove tags (never their siblings): groups by repository, one batch per repository.
    Rm {
        /// Only show what would be removed.
        #[arg(long)]
        dry_run: bool,
        /// `REPO:TAG` references.
        #[arg(required = true)]
        references: Vec<String>,
    },
}

/// Ad-hoc connection flags, used when no config file names the registry.
#[derive(Debug, clap::Args)]
pub struct RegistryArgs {
    /// Registry base URL, e.g. `https://registry.example.com`.
    #[arg(long, env = "REGISTRY_GC_REGISTRY_URL")]
    pub url: Option<url::Url>,
    /// User name for basic auth or the token endpoint.
    #[arg(long, env = "REGISTRY_GC_REGISTRY_USERNAME")]
    pub username: Option<String>,
    /// Name of the environment variable holding the password or token.
    #[arg(long, default_value = "REGISTRY_GC_REGISTRY_PASSWORD")]
    pub password_env: String,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
}

impl RegistryArgs {
    /// Settings from the flags; the password is read from the named variable when a user is given.
    pub fn settings(&self) -> anyhow::Result<RegistrySettings> {
        let url = self
            .url
            .clone()
            .context("no registry given: pass --url or set REGISTRY_GC_REGISTRY_URL")?;
        let mut s = RegistrySettings::new(url);
        s.max_concurrency = self.concurrency;
        if let Some(user) = &self.username {
            let pass = std::env::var(&self.password_env).with_context(|| {
                format!("--username given but ${} is not set", self.password_env)
            })?;
            s = s.with_credentials(user.clone(), Secret::new(pass));
        }
        s.validate().map_err(anyhow::Error::msg)?;
        Ok(s)
    }
}

/// Runs one command against the registry the flags name, or the one `[[registries]]` entry.
pub async fn run(config: &Config, args: RegistryArgs, cmd: RegistryCommand) -> anyhow::Result<()> {
    let settings = if args.url.is_some() {
        args.settings()?
    } else {
        match config.registries.as_slice() {
            [one] => one.clone(),
            [] => bail!("no registry: pass --url or configure [[registries]]"),
            _ => bail!("several [[registries]] configured: pass --url to pick one"),
        }
    };
    let client = RegistryClient::new(settings)?;
    match cmd {
        RegistryCommand::Tags { repo } => {
            for tag in client.list_tags(&repo).await? {
                println!("{tag}");
            }
        }
        RegistryCommand::Resolve { reference } => {
            let (repo, tag) = split_reference(&reference)?;
            let Some(s) = client.summarize(&repo, &tag, true).await? else {
                bail!("{reference}: no such tag")
            };
            let created = s
                .created
                .map(|c| c.to_rfc3339())
                .unwrap_or_else(|| "-".into());
            println!(
                "{reference}\t{}\t{}\t{} bytes\tcreated {created}",
                s.digest, s.media_type, s.bytes
            );
        }
        RegistryCommand::Rm {
            dry_run,
            references,
        } => rm(&client, dry_run, &references).await?,
    }
    Ok(())
}

async fn rm(client: &RegistryClient, dry_run: bool, references: &[String]) -> anyhow::Result<()> {
    let mut by_repo: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in references {
        let (repo, tag) = split_reference(r)?;
        by_repo.entry(repo).or_default().push(tag);
    }
    let mut failures = 0;
    let concurrency = client.settings().max_concurrency.max(1);
    for (repo, tags) in by_repo {
        // What each tag points at now is the plan; the removal re-checks it before changing it.
        let start = client.requests_made();
        let resolved: Vec<(String, Option<Digest>)> = stream::iter(tags)
            .map(|tag| {
                let repo = &repo;
                async move { client.resolve(repo, &tag).await.map(|d| (tag, d)) }
            })
            .buffered(concurrency)
            .try_collect()
            .await?;
        let mut plan: Vec<(String, Digest)> = Vec::new();
        for (tag, digest) in resolved {
            match digest {
                Some(d) => plan.push((tag, d)),
                None => println!("kept    {repo}:{tag}\tno such tag"),
            }
        }
        if dry_run || plan.is_empty() {
            for (t, d) in &plan {
                println!("would remove {repo}:{t}\t{d}");
            }
            continue;
        }
        let resolving = client.requests_made() - start;
        let report = remove_tags(client, &repo, &plan, &[]).await?;
        failures += print_report(&report, resolving);
    }
    if failures > 0 {
        bail!("{failures} tag(s) could not be removed");
    }
    Ok(())
}

/// Prints one line per tag and a summary with every request sent (`resolving`: those that read
/// the tags before the removal); returns the number of failed tags.
fn print_report(report: &RemovalReport, resolving: u64) -> usize {
    let repo = &report.repo;
    let mut failures = 0;
    for t in &report.tags {
        let (word, why) = match &t.outcome {
            RemovalOutcome::Removed => ("removed", format!("was {}", t.planned)),
            RemovalOutcome::AlreadyGone => ("kept   ", "already gone".to_owned()),
            RemovalOutcome::SkippedMoved { observed } => {
                ("kept   ", format!("moved to {observed} since planned"))
            }
            RemovalOutcome::Failed { reason } => {
                failures += 1;
                ("FAILED ", reason.clone())
            }
            RemovalOutcome::LeftOnDummy { dummy } => {
                failures += 1;
                (
                    "FAILED ",
                    format!("points at dummy {dummy}, whose delete failed"),
                )
            }
        };
        println!("{word} {repo}:{}\t{why}", t.tag);
    }
    println!(
        "{repo}: {} removed, {} other tags checked, {} requests ({resolving} to read the tags, {} to remove them; {:?})",
        report.removed(),
        report.siblings_checked,
        resolving + report.requests,
        report.requests,
        report.capability
    );
    for error in &report.errors {
        println!("WARNING {error}");
    }
    failures
}
