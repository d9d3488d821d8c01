//! A small tmpfs mounted for one test (the disk-full cases), unmounted when dropped. Mounting needs
//! CAP_SYS_ADMIN: without it the test fails and says how to run only the page-limit variant.

use std::path::Path;
use std::process::Command;

/// A mounted tmpfs of a fixed size.
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `bytes` bytes on a fresh temp dir; `None` when the environment says it
    /// cannot (`RGC_TEST_NO_TMPFS=1`); panics when mounting fails otherwise.
    pub fn mount(bytes: u64) -> Option<Tmpfs> {
        if std::env::var_os("RGC_TEST_NO_TMPFS").is_some() {
            eprintln!("RGC_TEST_NO_TMPFS is set: the real disk-full test is not run");
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "cannot mount a tmpfs ({}); run as root / with CAP_SYS_ADMIN, or set RGC_TEST_NO_TMPFS=1 \
             to rely on the max_page_count variant alone",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Some(Tmpfs { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}
