//! `registry-gc cluster images [--json]`: what the daemon sees in use, per cluster, with the objects
//! that use each image, and whether protection is available — an operator's check before turning
//! deletion on. Formatting, plus starting a source once for the command; never changes anything.

use std::fmt::Write;

use serde::Serialize;

use super::images::{ClusterImages, ClusterIndex, ClusterStatus, InUse};
use super::settings::ClusterSettings;
use super::source::KubernetesProtection;

/// Reads the configured clusters once (waiting up to the sync timeout) and renders what is in use.
pub async fn images_command(settings: &ClusterSettings, json: bool) -> Result<String, String> {
    let source = KubernetesProtection::start(settings)?;
    let images = source.images().await;
    Ok(if json {
        render_json(&images)
    } else {
        render_text(&images)
    })
}

/// One cluster as the JSON output shows it: its health and its images.
#[derive(Serialize)]
struct ClusterOut<'a> {
    #[serde(flatten)]
    status: &'a ClusterStatus,
    #[serde(flatten)]
    index: &'a ClusterIndex,
}

#[derive(Serialize)]
struct Out<'a> {
    taken_at: chrono::DateTime<chrono::Utc>,
    /// Whether a run may delete (nothing in use is ever deleted either way).
    available: bool,
    problems: Vec<String>,
    clusters: Vec<ClusterOut<'a>>,
}

/// The snapshot as JSON: health, images with their users, unparsable references, per cluster.
pub fn render_json(images: &ClusterImages) -> String {
    let problems = images.problems();
    let out = Out {
        taken_at: images.taken_at,
        available: problems.is_empty(),
        problems,
        clusters: images
            .clusters
            .iter()
            .zip(images.index.iter())
            .map(|(status, index)| ClusterOut { status, index })
            .collect(),
    };
    serde_json::to_string_pretty(&out).expect("plain data serializes")
}

/// The snapshot for a terminal: one block per cluster, each image followed by its users.
pub fn render_text(images: &ClusterImages) -> String {
    let mut out = String::new();
    let problems = images.problems();
    if problems.is_empty() {
        out.push_str("cluster protection: available\n");
    } else {
        out.push_str("cluster protection: UNAVAILABLE, a run deletes nothing\n");
    }
    for (status, index) in images.clusters.iter().zip(images.index.iter()) {
        out.push('\n');
        cluster_block(&mut out, status, index);
    }
    out
}

fn cluster_block(out: &mut String, status: &ClusterStatus, index: &ClusterIndex) {
    let health = if status.up { "up" } else { "DOWN" };
    let objects: usize = status.kinds.iter().map(|k| k.objects).sum();
    let _ = write!(out, "cluster {}: {health}, {objects} objects", status.name);
    if let Some(at) = status.last_sync {
        let _ = write!(
            out,
            ", last sync {}",
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
    }
    out.push('\n');
    for problem in &status.problems {
        let _ = writeln!(out, "  problem: {problem}");
    }
    for kind in status.kinds.iter().filter(|k| k.skipped.is_some()) {
        let _ = writeln!(
            out,
            "  skipped: {} ({})",
            kind.kind,
            kind.skipped.as_deref().unwrap_or("")
        );
    }
    for image in &index.images {
        let name = match &image.image {
            InUse::Tag {
                registry,
                repository,
                tag,
            } => format!("{registry}/{repository}:{tag}"),
            InUse::Digest { digest } => digest.clone(),
        };
        let _ = writeln!(out, "  {name}");
        if matches!(image.image, InUse::Digest { .. }) {
            let _ = writeln!(out, "    written as {}", image.written_as.join(", "));
        }
        for user in &image.users.shown {
            let _ = writeln!(out, "    {user}");
        }
        if image.users.total > image.users.shown.len() {
            let _ = writeln!(
                out,
                "    … and {} more",
                image.users.total - image.users.shown.len()
            );
        }
    }
    let unparsable: usize = index.unparsable_by_kind.values().sum();
    if unparsable > 0 {
        let _ = writeln!(out, "  unparsable references (never matched): {unparsable}");
        for u in &index.unparsable {
            let _ = writeln!(out, "    {:?} ({}): {}", u.reference, u.error, u.user);
        }
    }
}
