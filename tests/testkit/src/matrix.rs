//! Running one test against every registry implementation: a seeded registry per server,
//! shared by the tests of a process, and skips that are always said, never silent.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use crate::fixtures::Seeded;
use crate::registry::{Options, Registry};
use crate::server::Server;
use crate::shared::{register_cleanup, shared_seeded};
use crate::Mode;

type Shared = &'static (Registry, Seeded);

static OTHERS: OnceLock<Mutex<HashMap<(Server, Mode), Shared>>> = OnceLock::new();

/// An open registry of `server` seeded with [`Registry::seed_standard`], started on first
/// use and shared by every test of this process (distribution 2.8's is
/// [`shared_seeded`]`(Mode::Open)`). Treat it as read-only, as `shared_seeded` says.
pub fn shared_seeded_on(server: Server) -> &'static (Registry, Seeded) {
    shared_seeded_in(server, Mode::Open)
}

/// [`shared_seeded_on`] in `mode` (go-containerregistry's registry runs open only).
pub fn shared_seeded_in(server: Server, mode: Mode) -> &'static (Registry, Seeded) {
    if server == Server::Distribution28 {
        return shared_seeded(mode);
    }
    // Held while one starts, so that tests starting together share it.
    let mut started = OTHERS
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    started.entry((server, mode)).or_insert_with(|| {
        let reg = Registry::start_with(Options::new(server, mode));
        let seeded = reg.seed_standard();
        register_cleanup(reg.pid(), reg.dir().to_path_buf());
        Box::leak(Box::new((reg, seeded)))
    })
}

/// Records that `case` does not run on `server`, and why: on the terminal, and in the file named
/// by `$RR_TEST_SKIPS` (scripts/test.sh prints it after the tests), so that no skip is
/// silent.
pub fn skip(server: Server, case: &str, reason: &str) {
    let line = format!("skipped on {server}: {case}: {reason}");
    // The test harness captures `eprintln!`, not writes to the stderr handle: this shows.
    let _ = writeln!(std::io::stderr(), "{line}");
    if let Some(path) = std::env::var_os("RR_TEST_SKIPS") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}
