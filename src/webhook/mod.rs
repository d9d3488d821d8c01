//! GitLab webhooks: payload types, `CI_COMMIT_REF_SLUG`, timestamps, and the translation of one
//! delivery into the store changes it implies. Verifying and answering deliveries is `http`'s job.

pub mod events;
pub mod field;
pub mod payload;
pub mod time;
