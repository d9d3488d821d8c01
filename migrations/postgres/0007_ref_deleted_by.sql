-- Who found that a ref was deleted: 'webhook' (a push hook) or 'reconciliation' (the GitLab API),
-- so the plan can say so. Unknown (NULL) for deletions recorded before this migration.
ALTER TABLE refs ADD COLUMN deleted_by TEXT;
