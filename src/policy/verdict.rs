//! A rule's answer for one tag: delete, with why, or keep, with why. Shared by every rule file; a
//! leaf, so the rules never import each other for it.

use chrono::{DateTime, TimeDelta, Utc};

use super::reason::{DeleteReason, KeepReason};

/// `Ok` = the tag may be deleted, `Err` = it is kept; `?` therefore means "unless kept".
pub(super) type Verdict = Result<DeleteReason, KeepReason>;

/// `Ok(reason)` once `grace` has passed since `since` (exactly `grace` counts as passed).
pub(super) fn after_grace(
    reason: DeleteReason,
    since: DateTime<Utc>,
    grace: TimeDelta,
    now: DateTime<Utc>,
) -> Verdict {
    if now - since >= grace {
        Ok(reason)
    } else {
        Err(KeepReason::GraceNotPassed { pending: reason })
    }
}
