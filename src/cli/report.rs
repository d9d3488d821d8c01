//! Plans as people read them: one line per action and per kept tag, with the reason, then totals.

use std::fmt::Write;

use crate::gc::{GcError, ProjectPlan};
use crate::policy::Action;

fn short(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    &hex[..hex.len().min(12)]
}

/// A readable table of every project's plan (or why it could not be planned).
pub fn render(plans: &[Result<ProjectPlan, GcError>]) -> String {
    let mut out = String::new();
    for plan in plans {
        match plan {
            Ok(p) => render_one(&mut out, p),
            Err(e) => {
                let _ = writeln!(out, "! {e} (nothing would be deleted there)\n");
            }
        }
    }
    out
}

fn render_one(out: &mut String, p: &ProjectPlan) {
    let _ = writeln!(out, "project {} (id {})", p.project, p.project_id);
    let _ = writeln!(
        out,
        "  {:<8} {:<60} {:<12} REASON",
        "ACTION", "IMAGE", "DIGEST"
    );
    for action in &p.plan.actions {
        let verb = match action {
            Action::Untag { .. } => "untag",
            Action::DeleteImage { .. } => "delete",
        };
        for (tag, reason) in action.tags() {
            let image = format!("{}:{tag}", action.repository());
            let _ = writeln!(
                out,
                "  {verb:<8} {image:<60} {:<12} {reason}",
                short(&action.digest().text())
            );
        }
    }
    for kept in &p.plan.kept {
        let image = format!("{}:{}", kept.repository, kept.tag);
        let digest = kept.digest.as_ref().map(ToString::to_string);
        let digest = digest.as_deref().map(short).unwrap_or("-");
        let _ = writeln!(
            out,
            "  {:<8} {image:<60} {digest:<12} {}",
            "keep", kept.reason
        );
    }
    let t = &p.plan.totals;
    let _ = writeln!(
        out,
        "  total: {} tags to remove ({} untag, {} images deleted, {} bytes unreferenced{}), {} kept\n",
        t.tags_removed,
        t.untags,
        t.digests_deleted,
        t.bytes_unreferenced,
        if t.digests_size_unknown > 0 { format!(", {} sizes unknown", t.digests_size_unknown) } else { String::new() },
        t.tags_kept
    );
}
