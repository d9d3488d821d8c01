//! Whole-image deletion by digest, as a run carries it out: a DELETE by digest takes every tag on
//! the image down, so a kept tag that moved onto the image after planning (the same content built
//! again, a rollback re-tag) must keep the image.

use registry_gc::clock::SystemClock;
use registry_gc::gc::{Executor, Faults, MemoryJournal, Sibling, TagOutcome};
use registry_gc::model::{JournalAction, JournalEntry, JournalState};
use registry_gc::registry::{Digest, Format};
use tokio_util::sync::CancellationToken;

use super::{tag_existing, tags};
use crate::support::registry::{TestImage, TestRegistry};

fn delete_entry(tag: &str, digest: &Digest) -> JournalEntry {
    JournalEntry {
        id: 0,
        run_id: 0,
        project_id: 0,
        repository: "app".into(),
        tag: tag.into(),
        action: JournalAction::DeleteImage,
        reason_code: "ci-commit-finished".into(),
        reason: "pipeline finished".into(),
        planned_digest: digest.to_string(),
        dummy_digest: None,
        observed_digest: None,
        state: JournalState::Planned,
        detail: None,
        updated_at: chrono::Utc::now(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_tag_moved_onto_the_image_keeps_it() {
    let reg = TestRegistry::start().await;
    let client = reg.client();
    let old = reg
        .push_image("app", "sha-a", &TestImage::random(Format::Docker, 1, 256))
        .await;
    let gone = reg
        .push_image("app", "sha-b", &TestImage::random(Format::Docker, 1, 256))
        .await;
    let main_planned = reg
        .push_image("app", "main", &TestImage::random(Format::Docker, 1, 256))
        .await;
    // Planned: the images of sha-a and sha-b go whole; main is kept on its own image. Then, before
    // the run carries the plan out, main is pointed at sha-a's image.
    tag_existing(&reg, "app", "main", &old).await;

    let journal = MemoryJournal::default();
    let executor = Executor {
        client: &client,
        journal: &journal,
        clock: &SystemClock,
        repository: "app",
        concurrency: 4,
        faults: &Faults::default(),
        stop: &CancellationToken::new(),
    };
    let planned = [delete_entry("sha-a", &old), delete_entry("sha-b", &gone)];
    let siblings = [Sibling {
        tag: "main".into(),
        digest: Some(main_planned.to_string()),
    }];
    let summary = executor.execute(&planned, &siblings).await.unwrap();

    assert_eq!(
        client.resolve("app", "main").await.unwrap(),
        Some(old.clone()),
        "main kept"
    );
    assert_eq!(
        client.resolve("app", "sha-b").await.unwrap(),
        None,
        "the other image deleted"
    );
    assert_eq!(
        tags(&client, "app").await,
        ["main", "sha-a"].map(String::from).into()
    );
    let total = |outcome| {
        summary
            .by_reason
            .values()
            .map(|o| o.get(&outcome).copied().unwrap_or(0))
            .sum::<usize>()
    };
    assert_eq!(
        (total(TagOutcome::Removed), total(TagOutcome::Skipped)),
        (1, 1),
        "{summary:?}"
    );
}
