//! Registries never outlive their owner.

use std::path::Path;
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use rr_testkit::{Mode, Registry};

/// Running and not a zombie.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, r)| r.trim_start().chars().next());
            !matches!(state, Some('Z') | Some('X') | None)
        }
        Err(_) => false,
    }
}

fn wait_dead(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

#[test]
fn stop_and_drop_kill_the_registry_and_remove_the_temp_dir() {
    let mut reg = Registry::start(Mode::Open);
    let pid = reg.pid();
    assert!(pid > 0 && alive(pid));
    assert!(reg.is_running());
    reg.stop();
    assert!(!alive(pid));
    assert_eq!(reg.pid(), 0);
    reg.stop(); // idempotent
    let dir = reg.dir().to_path_buf();
    drop(reg);
    assert!(!dir.exists());

    let reg = Registry::start(Mode::Open);
    let pid = reg.pid();
    drop(reg);
    assert!(!alive(pid));
}

#[test]
fn a_panicking_test_leaks_nothing() {
    let (tx, rx) = channel();
    let t = std::thread::spawn(move || {
        let reg = Registry::start(Mode::Token);
        tx.send((
            reg.pid(),
            reg.dir().to_path_buf(),
            reg.token_realm().unwrap(),
        ))
        .unwrap();
        panic!("deliberate panic with a live registry");
    });
    assert!(t.join().is_err());
    let (pid, dir, realm) = rx.recv().unwrap();
    assert!(!alive(pid), "registry {pid} survived the panic");
    assert!(!Path::new(&dir).exists());
    // The token server is gone too.
    assert!(matches!(
        ureq::get(&realm).call(),
        Err(ureq::Error::Transport(_))
    ));
}

#[test]
fn a_registry_outlives_the_thread_that_started_it() {
    // PR_SET_PDEATHSIG fires when the forking *thread* exits; the harness
    // forks from a process-lifetime thread so shared registries survive.
    let reg = std::thread::spawn(|| Registry::start(Mode::Open))
        .join()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let pid = reg.pid();
    assert!(alive(pid));
    let status = match reg.agent().get(&reg.url("/v2/")).call() {
        Ok(r) => r.status(),
        Err(e) => panic!("{e}"),
    };
    assert_eq!(status, 200);
    drop(reg);
    assert!(wait_dead(pid));
}
