//! Store behaviour that webhooks alone do not show: ordering, out-of-order merge request events,
//! re-created refs, migrations that can run twice. On SQLite and on Postgres.

use chrono::{DateTime, Duration, Utc};
use registry_gc::model::*;
use registry_gc::store::{Applied, SharedStore};

use crate::support::db::{both_backends, TestDb};

async fn open(db: &TestDb) -> SharedStore {
    let store = registry_gc::store::open(&db.config).await.unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.expect("migrating twice is a no-op");
    store
}

fn at(minutes: i64) -> DateTime<Utc> {
    "2026-11-20T10:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::minutes(minutes)
}

fn batch(key: &str, minutes: i64, changes: Vec<Change>) -> Batch {
    Batch {
        source: Source::Webhook {
            delivery_key: key.into(),
            event: "test".into(),
        },
        received_at: at(minutes),
        project: ProjectUpsert {
            id: 7,
            path: "Group/Thing".into(),
            default_branch: Some("main".into()),
        },
        changes,
    }
}

fn mr(state: MrState, updated: i64) -> Change {
    Change::MergeRequest {
        record: MergeRequestRecord {
            project_id: 7,
            iid: 3,
            id: Some(33),
            source_branch: "topic".into(),
            target_branch: "main".into(),
            state,
            merged_at: (state == MrState::Merged).then(|| at(updated)),
            closed_at: (state == MrState::Closed).then(|| at(updated)),
            updated_at: Some(at(updated)),
        },
        authoritative: true,
    }
}

both_backends! {
    async fn merge_request_events_out_of_order(backend: Backend) {
        let db = TestDb::new(backend).await;
        let store = open(&db).await;
        store.apply(&batch("a", 0, vec![mr(MrState::Opened, 0)])).await.unwrap();
        store.apply(&batch("b", 1, vec![mr(MrState::Merged, 30)])).await.unwrap();
        // The "opened" event of minute 10 arrives late: it must not undo the merge.
        store.apply(&batch("c", 2, vec![mr(MrState::Opened, 10)])).await.unwrap();
        let mrs = store.merge_requests(7).await.unwrap();
        assert_eq!(mrs[0].state, MrState::Merged);
        assert_eq!(mrs[0].merged_at, Some(at(30)));
        // Closed then reopened: closed_at is cleared.
        store.apply(&batch("d", 3, vec![mr(MrState::Closed, 40)])).await.unwrap();
        store.apply(&batch("e", 4, vec![mr(MrState::Opened, 50)])).await.unwrap();
        let mrs = store.merge_requests(7).await.unwrap();
        assert_eq!((mrs[0].state, mrs[0].closed_at, mrs[0].merged_at), (MrState::Opened, None, None));
        assert_eq!(store.project_by_path("group/thing").await.unwrap().unwrap().id, 7, "path lookup ignores case");
    }

    async fn refs_deleted_and_recreated(backend: Backend) {
        let db = TestDb::new(backend).await;
        let store = open(&db).await;
        let push = |sha: &str, created: bool, minutes: i64| Change::RefPushed {
            kind: RefKind::Branch, name: "topic".into(), sha: sha.into(), created, protected: None, at: at(minutes),
        };
        store.apply(&batch("1", 0, vec![push("aaa", true, 0)])).await.unwrap();
        store.apply(&batch("2", 5, vec![Change::RefDeleted { kind: RefKind::Branch, name: "topic".into(), at: at(5) }])).await.unwrap();
        let refs = store.refs(7).await.unwrap();
        assert_eq!((refs[0].state, refs[0].deleted_at), (RefState::Deleted, Some(at(5))));
        store.apply(&batch("3", 9, vec![push("bbb", true, 9)])).await.unwrap();
        let refs = store.refs(7).await.unwrap();
        assert_eq!(refs[0].state, RefState::Live);
        assert_eq!((refs[0].created_at, refs[0].deleted_at), (Some(at(9)), None));
        assert_eq!(refs[0].last_sha.as_deref(), Some("bbb"));
        assert_eq!(store.apply(&batch("3", 9, vec![push("ccc", false, 10)])).await.unwrap(), Applied::Duplicate);
        assert_eq!(store.refs(7).await.unwrap()[0].last_sha.as_deref(), Some("bbb"), "a duplicate changes nothing");
    }

    async fn project_state_collects_everything(backend: Backend) {
        let db = TestDb::new(backend).await;
        let store = open(&db).await;
        let pipeline = PipelineRecord {
            project_id: 7, id: 900, iid: Some(9), ref_name: "topic".into(), tag: false, sha: "abc".into(),
            source: Some("push".into()), status: PipelineStatus::Success, merge_request_iid: None,
            created_at: Some(at(0)), finished_at: Some(at(4)), updated_at: at(5),
        };
        let tag = ImageTagRecord {
            project_id: 7, repository: "group/thing-ci".into(), tag: "abc".into(), kind: TagKind::CiCommit,
            rule: "ci".into(), ref_kind: RefKind::Branch, ref_name: "topic".into(), sha: "abc".into(),
            pipeline_id: 900, first_seen: at(5), last_seen: at(5), digest: None,
        };
        store.apply(&batch("p", 5, vec![Change::Pipeline(pipeline.clone()), Change::ImageTag(tag.clone())])).await.unwrap();
        let mut later = tag.clone();
        later.last_seen = at(8);
        store.apply(&batch("q", 8, vec![Change::ImageTag(later)])).await.unwrap();
        let state = store.project_state(7).await.unwrap();
        assert_eq!(state.pipelines, vec![pipeline]);
        assert_eq!(state.image_tags.len(), 1);
        assert_eq!((state.image_tags[0].first_seen, state.image_tags[0].last_seen), (at(5), at(8)));
        assert_eq!(state.refs[0].last_pipeline_at, Some(at(0)));
        assert_eq!(state.project.unwrap().default_branch.as_deref(), Some("main"));
    }

    async fn old_delivery_keys_are_pruned(backend: Backend) {
        let db = TestDb::new(backend).await;
        let store = open(&db).await;
        let push = |minutes: i64| Change::RefDeleted { kind: RefKind::Branch, name: "gone".into(), at: at(minutes) };
        assert_eq!(store.apply(&batch("old", 0, vec![push(0)])).await.unwrap(), Applied::Recorded { changes: 1 });
        assert_eq!(store.apply(&batch("new", 60, vec![push(60)])).await.unwrap(), Applied::Recorded { changes: 1 });
        assert_eq!(store.prune_deliveries(at(30)).await.unwrap(), 1);
        // The pruned key is forgotten, the recent one still deduplicates.
        assert_eq!(store.apply(&batch("old", 61, vec![push(61)])).await.unwrap(), Applied::Recorded { changes: 1 });
        assert_eq!(store.apply(&batch("new", 62, vec![push(62)])).await.unwrap(), Applied::Duplicate);
    }

    async fn a_reconciliation_never_undoes_a_newer_webhook(backend: Backend) {
        let db = TestDb::new(backend).await;
        let store = open(&db).await;
        let push = |sha: &str, minutes: i64| Change::RefPushed {
            kind: RefKind::Branch, name: "topic".into(), sha: sha.into(), created: true, protected: None, at: at(minutes),
        };
        // The reconciliation read the branch list at minute 10 (topic missing, confirmed by a 404),
        // but a push re-created topic at minute 12, before the reconciliation's batch was applied.
        store.apply(&batch("1", 0, vec![push("aaa", 0)])).await.unwrap();
        store.apply(&batch("2", 12, vec![push("bbb", 12)])).await.unwrap();
        let found = Batch {
            source: Source::Reconciliation,
            received_at: at(13),
            project: batch("x", 13, vec![]).project,
            changes: vec![Change::RefDeleted { kind: RefKind::Branch, name: "topic".into(), at: at(10) }],
        };
        store.apply(&found).await.unwrap();
        let refs = store.refs(7).await.unwrap();
        assert_eq!((refs[0].state, refs[0].last_sha.as_deref()), (RefState::Live, Some("bbb")), "the newer push stands");
        // A pipeline status read from the API before a newer webhook status does not regress it.
        let pipeline = |status: PipelineStatus, minutes: i64| PipelineRecord {
            project_id: 7, id: 900, iid: Some(9), ref_name: "topic".into(), tag: false, sha: "bbb".into(),
            source: Some("push".into()), status, merge_request_iid: None,
            created_at: Some(at(12)), finished_at: None, updated_at: at(minutes),
        };
        store.apply(&batch("3", 20, vec![Change::Pipeline(pipeline(PipelineStatus::Success, 20))])).await.unwrap();
        let stale = Batch { changes: vec![Change::Pipeline(pipeline(PipelineStatus::Running, 15))], ..found };
        store.apply(&stale).await.unwrap();
        assert_eq!(store.pipelines(7).await.unwrap()[0].status, PipelineStatus::Success);
    }
}
