//! Fault injection for the tests (cargo feature `fault-injection`): stop a run where a crash would
//! hurt most, to prove the next run finishes the work. Without the feature nothing here can fire.

/// Where a run may be stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CrashPoint {
    #[default]
    Never,
    /// After tags were re-pointed at the dummy, before the dummy is deleted.
    AfterRepoint,
}

/// The crash point the next runs stop at.
#[derive(Debug, Default)]
pub struct Faults {
    #[cfg(feature = "fault-injection")]
    crash: std::sync::Mutex<CrashPoint>,
}

impl Faults {
    /// Makes the next runs stop at `point`.
    #[cfg(feature = "fault-injection")]
    pub fn set(&self, point: CrashPoint) {
        *self.crash.lock().expect("faults lock") = point;
    }

    /// Whether a run must stop at `point` now.
    pub fn fires(&self, point: CrashPoint) -> bool {
        #[cfg(feature = "fault-injection")]
        {
            point != CrashPoint::Never && *self.crash.lock().expect("faults lock") == point
        }
        #[cfg(not(feature = "fault-injection"))]
        {
            let _ = point;
            false
        }
    }
}
