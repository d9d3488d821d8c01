//! Reconciliation progress in the store (`reconcile_state`) on both backends: watermarks only move
//! forward, a failure keeps them and the last success, a success clears the error, and a
//! reconciliation's changes land with its watermarks.

use chrono::{DateTime, TimeDelta, Utc};
use registry_gc::model::{Batch, Change, ProjectUpsert, RefKind, RefState, Source};
use registry_gc::store::ReconcileProgress;

use crate::support::db::{both_backends, TestDb};

both_backends! {
    async fn reconcile_state_moves_forward_only(backend: Backend) {
        let db = TestDb::new(backend).await;
        let store = registry_gc::store::open(&db.config).await.unwrap();
        store.migrate().await.unwrap();
        let base: DateTime<Utc> = "2026-11-20T00:00:00Z".parse().unwrap();
        let t = |h: i64| base + TimeDelta::hours(h);
        let project = ProjectUpsert { id: 42, path: "group/app".into(), default_branch: None };
        let source = Source::Webhook { delivery_key: "k".into(), event: "push".into() };
        store.apply(&Batch { source, received_at: t(0), project: project.clone(), changes: vec![] }).await.unwrap();
        assert_eq!(store.reconcile_state(42).await.unwrap(), None);

        let progress = |mr, pipelines, events, at| ReconcileProgress {
            project_id: 42, mr_watermark: mr, pipeline_watermark: pipelines, events_watermark: events, at,
        };
        let deleted = Change::RefDeleted { kind: RefKind::Branch, name: "gone".into(), at: t(30) };
        let found = Batch { source: Source::Reconciliation, received_at: t(30), project, changes: vec![deleted] };
        store.record_reconciliation(Some(&found), &progress(Some(t(10)), Some(t(20)), None, t(30))).await.unwrap();
        let first = store.reconcile_state(42).await.unwrap().unwrap();
        assert_eq!((first.mr_watermark, first.pipeline_watermark), (Some(t(10)), Some(t(20))));
        assert_eq!((first.last_success_at, first.events_watermark), (Some(t(30)), None));
        assert_eq!(store.refs(42).await.unwrap()[0].state, RefState::Deleted, "the changes landed with the marks");

        store.record_reconciliation(None, &progress(Some(t(5)), None, Some(t(25)), t(40))).await.unwrap();
        let second = store.reconcile_state(42).await.unwrap().unwrap();
        assert_eq!((second.mr_watermark, second.pipeline_watermark), (first.mr_watermark, first.pipeline_watermark), "an older or absent mark never moves it back");
        assert_eq!(second.events_watermark, Some(t(25)));

        store.record_reconcile_failure(42, t(50), "GitLab /api/v4/projects/42/repository/branches: HTTP 502").await.unwrap();
        let third = store.reconcile_state(42).await.unwrap().unwrap();
        assert_eq!((third.last_attempt_at, third.last_success_at), (Some(t(50)), Some(t(40))));
        assert_eq!(third.mr_watermark, second.mr_watermark);
        assert!(third.last_error.as_deref().unwrap().contains("HTTP 502"));
    }
}
