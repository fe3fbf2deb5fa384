//! Process-wide seeded registries, one per mode, for tests that only read.

use std::sync::OnceLock;

use crate::fixtures::Seeded;
use crate::registry::Registry;
use crate::Mode;

static SHARED: [OnceLock<(Registry, Seeded)>; 4] = [
    OnceLock::new(),
    OnceLock::new(),
    OnceLock::new(),
    OnceLock::new(),
];

/// A registry of `mode` seeded with [`Registry::seed_standard`], started on
/// first use and shared by every test of this process. Treat it as
/// read-only (push to other repositories at most); tests that delete or
/// overwrite should start their own.
///
/// Statics are never dropped, so an `atexit` handler kills these registries
/// and removes their temp dirs when the process exits normally; if it is
/// killed instead, the registries die with it (`PR_SET_PDEATHSIG`) and a
/// later [`Registry::start`] sweeps the temp dirs.
pub fn shared_seeded(mode: Mode) -> &'static (Registry, Seeded) {
    let slot = Mode::ALL
        .iter()
        .position(|m| *m == mode)
        .expect("mode in Mode::ALL");
    SHARED[slot].get_or_init(|| {
        static AT_EXIT: std::sync::Once = std::sync::Once::new();
        // SAFETY: registering a plain extern "C" fn.
        AT_EXIT.call_once(|| unsafe {
            libc::atexit(cleanup_at_exit);
        });
        let reg = Registry::start(mode);
        let seeded = reg.seed_standard();
        (reg, seeded)
    })
}

extern "C" fn cleanup_at_exit() {
    let _ = std::panic::catch_unwind(|| {
        for slot in &SHARED {
            if let Some((reg, _)) = slot.get() {
                let pid = reg.pid() as libc::pid_t;
                if pid > 0 {
                    // SAFETY: plain syscalls on our own child.
                    unsafe {
                        libc::kill(pid, libc::SIGKILL);
                        libc::waitpid(pid, std::ptr::null_mut(), 0);
                    }
                }
                let _ = std::fs::remove_dir_all(reg.dir());
            }
        }
    });
}
