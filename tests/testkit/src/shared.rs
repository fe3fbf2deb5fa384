//! Process-wide seeded registries, one per mode, for tests that only read.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

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
        let reg = Registry::start(mode);
        let seeded = reg.seed_standard();
        register_cleanup(reg.pid(), reg.dir().to_path_buf());
        (reg, seeded)
    })
}

/// Registries kept in statics: killed, and their temp dirs removed, at exit.
static AT_EXIT_LIST: Mutex<Vec<(u32, PathBuf)>> = Mutex::new(Vec::new());

/// Has the registry process `pid` killed and `dir` removed when the process exits
/// normally (statics are never dropped).
pub(crate) fn register_cleanup(pid: u32, dir: PathBuf) {
    static AT_EXIT: std::sync::Once = std::sync::Once::new();
    // SAFETY: registering a plain extern "C" fn.
    AT_EXIT.call_once(|| unsafe {
        libc::atexit(cleanup_at_exit);
    });
    AT_EXIT_LIST
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((pid, dir));
}

extern "C" fn cleanup_at_exit() {
    let _ = std::panic::catch_unwind(|| {
        let list = AT_EXIT_LIST.lock().unwrap_or_else(|p| p.into_inner());
        for (pid, dir) in list.iter() {
            let pid = *pid as libc::pid_t;
            if pid > 0 {
                // SAFETY: plain syscalls on our own child.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, std::ptr::null_mut(), 0);
                }
            }
            let _ = std::fs::remove_dir_all(dir);
        }
    });
}
