//! One open watch of the fake API server: replays the logged events after the requested
//! resourceVersion, follows new ones, sends a BOOKMARK when idle, ends with an `ERROR` 410 event
//! once the history is compacted past it, and ends at the request's `timeoutSeconds`.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::json;
use tokio::sync::watch;

use super::{status, Api, BOOKMARK_EVERY};

/// One open watch: replays logged events after `after`, then follows new ones, with bookmarks.
pub(super) struct Cursor {
    pub(super) api: Arc<Mutex<Api>>,
    pub(super) changes: watch::Receiver<u64>,
    pub(super) plural: String,
    pub(super) namespace: Option<String>,
    pub(super) after: u64,
    pub(super) gone: bool,
    pub(super) silent: bool,
    pub(super) deadline: Instant,
}

impl Cursor {
    pub(super) async fn next_line(&mut self) -> Option<String> {
        loop {
            let left = self.deadline.checked_duration_since(Instant::now())?;
            if self.gone {
                // Once: the 410 event, then the stream ends.
                self.deadline = Instant::now();
                let version = self.after;
                let compacted = self.api.lock().unwrap().compacted_before;
                let message = format!("too old resource version: {version} ({compacted})");
                return Some(
                    json!({"type": "ERROR", "object": status(410, "Expired", &message)})
                        .to_string(),
                );
            }
            if !self.silent {
                if let Some(line) = self.pending() {
                    return Some(line);
                }
            }
            tokio::select! {
                _ = self.changes.changed() => {}
                _ = tokio::time::sleep(left.min(BOOKMARK_EVERY)) => {
                    if !self.silent && Instant::now() < self.deadline {
                        return Some(self.bookmark());
                    }
                }
            }
        }
    }

    /// The next logged event for this watch, or a 410 when the history was compacted meanwhile.
    fn pending(&mut self) -> Option<String> {
        let api = self.api.lock().unwrap();
        if self.after < api.compacted_before {
            self.gone = true;
            return None;
        }
        let (version, _, line) = api.collections[&self.plural]
            .log
            .iter()
            .find(|(v, ns, _)| {
                *v > self.after && self.namespace.as_ref().is_none_or(|n| n == ns)
            })?;
        self.after = *version;
        Some(line.clone())
    }

    /// A bookmark at the last resourceVersion this watch delivered.
    fn bookmark(&self) -> String {
        let api = self.api.lock().unwrap();
        let collection = &api.collections[&self.plural];
        let object = json!({"kind": collection.kind, "apiVersion": collection.group_version,
            "metadata": {"resourceVersion": self.after.to_string()}});
        json!({"type": "BOOKMARK", "object": object}).to_string()
    }
}
