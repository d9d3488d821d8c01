//! Who this process is, written so that another process can tell later whether it is still alive:
//! host name, pid, PID namespace, boot id and start time, from Linux's `/proc`. The GC lock stores
//! it with its lease so that a holder killed with `kill -9` is recognised as dead at once instead of
//! after the lease. Only reads `/proc`; where it cannot tell, it says so and the lease decides.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// A process, as another process on the same machine can check it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessIdentity {
    pub host: String,
    pub pid: u32,
    /// `pid:[…]` of `/proc/self/ns/pid`: pids mean something only within one namespace.
    pub pid_namespace: String,
    /// `/proc/sys/kernel/random/boot_id`: a new one after every reboot.
    pub boot_id: String,
    /// Start time in clock ticks after boot (`/proc/<pid>/stat` field 22): tells a reused pid apart.
    pub start_ticks: u64,
}

/// Whether a recorded process still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Alive,
    Dead,
    /// Another host or PID namespace, or no `/proc`: only a lease can tell.
    Unknown,
}

impl ProcessIdentity {
    /// This process.
    pub fn current() -> &'static ProcessIdentity {
        static CURRENT: OnceLock<ProcessIdentity> = OnceLock::new();
        CURRENT.get_or_init(|| {
            let pid = std::process::id();
            ProcessIdentity {
                host: read_trimmed("/proc/sys/kernel/hostname")
                    .or_else(|| std::env::var("HOSTNAME").ok())
                    .unwrap_or_default(),
                pid,
                pid_namespace: std::fs::read_link("/proc/self/ns/pid")
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                boot_id: read_trimmed("/proc/sys/kernel/random/boot_id").unwrap_or_default(),
                start_ticks: stat_of(pid).map_or(0, |s| s.start_ticks),
            }
        })
    }

    /// Whether this recorded process is still running, as far as this process can see.
    pub fn liveness(&self) -> Liveness {
        let me = ProcessIdentity::current();
        if self.host.is_empty() || self.host != me.host {
            return Liveness::Unknown;
        }
        if !self.boot_id.is_empty() && !me.boot_id.is_empty() && self.boot_id != me.boot_id {
            return Liveness::Dead;
        }
        if self.pid_namespace.is_empty() || self.pid_namespace != me.pid_namespace {
            return Liveness::Unknown;
        }
        match stat_of(self.pid) {
            None => Liveness::Dead,
            Some(stat) if stat.finished => Liveness::Dead,
            Some(stat) if self.start_ticks != 0 && stat.start_ticks != self.start_ticks => {
                Liveness::Dead
            }
            Some(_) => Liveness::Alive,
        }
    }
}

impl std::fmt::Display for ProcessIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} on {}", self.pid, self.host)
    }
}

fn read_trimmed(path: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// What `/proc/<pid>/stat` says about a process.
struct Stat {
    /// A zombie or dead task: it will never touch the lock again.
    finished: bool,
    start_ticks: u64,
}

fn stat_of(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state …`: comm may hold spaces and parentheses, so split after the last ')'.
    let after = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let state = fields.first()?;
    Some(Stat {
        finished: matches!(*state, "Z" | "X" | "x"),
        start_ticks: fields.get(19)?.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_finished_child_is_dead() {
        let me = ProcessIdentity::current();
        assert!(me.pid > 0 && me.start_ticks > 0, "{me:?}");
        assert_eq!(me.liveness(), Liveness::Alive);

        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let start_ticks = stat_of(pid).map_or(0, |s| s.start_ticks);
        let recorded = ProcessIdentity {
            pid,
            start_ticks,
            ..me.clone()
        };
        child.wait().unwrap();
        assert_eq!(recorded.liveness(), Liveness::Dead);

        let reused = ProcessIdentity {
            start_ticks: me.start_ticks + 1,
            ..me.clone()
        };
        assert_eq!(reused.liveness(), Liveness::Dead, "a reused pid");
        let rebooted = ProcessIdentity {
            boot_id: "another-boot".into(),
            ..me.clone()
        };
        assert_eq!(rebooted.liveness(), Liveness::Dead);
        let elsewhere = ProcessIdentity {
            host: "another-host".into(),
            ..me.clone()
        };
        assert_eq!(elsewhere.liveness(), Liveness::Unknown);
    }
}
