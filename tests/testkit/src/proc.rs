//! Child processes that cannot outlive the test process.
//!
//! Children are forked from one long-lived spawner thread with
//! `PR_SET_PDEATHSIG = SIGKILL`. The death signal fires when the *forking
//! thread* exits, so forking from short-lived test threads would kill a
//! registry that is shared between tests; the spawner thread lives as long as
//! the process, so children die exactly when the process does (even on
//! SIGKILL of the test binary). Normal shutdown is `kill_and_wait`.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Mutex, OnceLock};

type Job = (Command, Sender<io::Result<Child>>);

static SPAWNER: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();

fn spawner() -> &'static Mutex<Sender<Job>> {
    SPAWNER.get_or_init(|| {
        let (tx, rx) = channel::<Job>();
        std::thread::Builder::new()
            .name("rr-testkit-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("cannot start the rr-testkit spawner thread");
        Mutex::new(tx)
    })
}

/// Spawns `cmd` so that it gets SIGKILL when this process dies.
pub(crate) fn spawn_tied(mut cmd: Command) -> io::Result<Child> {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let (tx, rx) = channel();
    spawner()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send((cmd, tx))
        .map_err(|_| io::Error::other("rr-testkit spawner thread is gone"))?;
    rx.recv()
        .map_err(|_| io::Error::other("rr-testkit spawner thread is gone"))?
}

/// SIGKILLs the child by PID (if still running) and reaps it.
pub(crate) fn kill_and_wait(child: &mut Child) {
    if let Ok(None) = child.try_wait() {
        let _ = child.kill();
    }
    let _ = child.wait();
}
