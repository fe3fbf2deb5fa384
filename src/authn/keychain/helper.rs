//! Running `docker-credential-<name> get`, the Docker credential-helper protocol.
//!
//! The key is written to the helper's stdin without a trailing newline; the helper answers
//! `{"ServerURL": …, "Username": …, "Secret": …}` on stdout. A non-zero exit whose output
//! says `credentials not found in native keychain` means "no credentials"; every other
//! failure is an error. Messages name the helper, the registry and the key, and never
//! include the helper's output (which may hold a secret).

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::config::credential_from;
use crate::authn::Credential;
use crate::error::{Error, ErrorKind, Result};

/// What helpers print when they hold nothing for the key.
const NOT_FOUND_MESSAGE: &str = "credentials not found in native keychain";
/// More output than this is read and discarded.
const OUTPUT_CAP: u64 = 1 << 20;

/// A helper's answer.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct HelperCredentials {
    pub username: String,
    pub secret: String,
}

impl HelperCredentials {
    /// `<token>` makes the secret an identity token; otherwise Basic, which needs both.
    pub(super) fn into_credential(self) -> Option<Credential> {
        credential_from(self.username, self.secret)
    }
}

struct Ctx<'a> {
    program: &'a str,
    registry: &'a str,
    key: &'a str,
}

impl Ctx<'_> {
    fn error(&self, what: impl std::fmt::Display) -> Error {
        if self.key == self.registry {
            Error::new(
                ErrorKind::Io,
                format!(
                    "credential helper {} for registry {}: {what}",
                    self.program, self.registry
                ),
            )
        } else {
            Error::new(
                ErrorKind::Io,
                format!(
                    "credential helper {} for registry {} (key {:?}): {what}",
                    self.program, self.registry, self.key
                ),
            )
        }
    }
}

/// Asks helper `name` for `key`. `Ok(None)` when it has no credentials for the key.
pub(super) fn get(
    path: Option<&OsStr>,
    name: &str,
    key: &str,
    registry: &str,
    timeout: Duration,
) -> Result<Option<HelperCredentials>> {
    let program = format!("docker-credential-{name}");
    let ctx = Ctx {
        program: &program,
        registry,
        key,
    };
    if name.is_empty() || name.contains(['/', '\0']) || name == "." || name == ".." {
        return Err(ctx.error("invalid helper name"));
    }
    let Some(exe) = find_in_path(path, &program) else {
        return Err(ctx.error("not found on PATH"));
    };
    let mut child = spawn(&exe).map_err(|e| ctx.error(format_args!("cannot run it: {e}")))?;

    // Feed the key from its own thread so a helper that does not read cannot block us.
    let stdin = child.stdin.take();
    let key_bytes = key.as_bytes().to_vec();
    let writer = thread::Builder::new()
        .name("rr-cred-helper-in".into())
        .spawn(move || {
            if let Some(mut stdin) = stdin {
                // A helper that exits without reading gives EPIPE: not our concern. The
                // SIGPIPE that comes with it must not reach a host process that did not
                // ignore it (C programs do not by default), so it is blocked here and
                // swallowed.
                sigpipe::block_in_this_thread();
                if let Err(e) = stdin.write_all(&key_bytes) {
                    if e.kind() == std::io::ErrorKind::BrokenPipe {
                        sigpipe::discard_pending();
                    }
                }
            }
        });
    if let Err(e) = writer {
        kill(&mut child);
        return Err(ctx.error(format_args!("cannot start a thread: {e}")));
    }
    let stdout = match child.stdout.take().map(read_all).transpose() {
        Ok(rx) => rx,
        Err(e) => {
            kill(&mut child);
            return Err(ctx.error(format_args!("cannot start a thread: {e}")));
        }
    };
    let stderr = match child.stderr.take().map(read_all).transpose() {
        Ok(rx) => rx,
        Err(e) => {
            kill(&mut child);
            return Err(ctx.error(format_args!("cannot start a thread: {e}")));
        }
    };

    let deadline = Instant::now() + timeout;
    let status = wait_until(&mut child, timeout).map_err(|e| ctx.error(e))?;
    // The pipes close when the helper exits, unless it left a process holding them.
    let grace = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(500));
    let collect = |rx: Option<mpsc::Receiver<Vec<u8>>>, until: Instant| -> Result<Vec<u8>> {
        match rx {
            None => Ok(Vec::new()),
            Some(rx) => rx
                .recv_timeout(until.saturating_duration_since(Instant::now()))
                .map_err(|_| ctx.error("its output was not closed in time")),
        }
    };
    let until = Instant::now() + grace;
    let out = collect(stdout, until)?;
    let err = collect(stderr, until)?;

    if !status.success() {
        let says = |b: &[u8]| String::from_utf8_lossy(b).contains(NOT_FOUND_MESSAGE);
        if says(&out) || says(&err) {
            return Ok(None);
        }
        return Err(ctx.error(format_args!("failed ({status})")));
    }
    parse_answer(&out).map_err(|why| ctx.error(why)).map(Some)
}

fn parse_answer(out: &[u8]) -> std::result::Result<HelperCredentials, &'static str> {
    const BAD: &str = "its answer is not the expected JSON object";
    let value: Value = serde_json::from_slice(out).map_err(|_| BAD)?;
    let Value::Object(obj) = value else {
        return Err(BAD);
    };
    let field = |name: &str| -> std::result::Result<String, &'static str> {
        let v = obj.get(name).or_else(|| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        });
        match v {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(BAD),
        }
    };
    Ok(HelperCredentials {
        username: field("Username")?,
        secret: field("Secret")?,
    })
}

/// The first executable regular file named `program` in the directories of `path`.
/// Empty entries (the current directory) are ignored.
fn find_in_path(path: Option<&OsStr>, program: &str) -> Option<PathBuf> {
    std::env::split_paths(path?)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(p: &Path) -> bool {
    p.is_file()
}

fn spawn(exe: &Path) -> std::io::Result<Child> {
    let mut attempts = 0u64;
    loop {
        let spawned = Command::new(exe)
            .arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        match spawned {
            // "Text file busy": the file was just written and another thread's fork still
            // holds it open for writing; that passes quickly.
            Err(e) if is_text_busy(&e) && attempts < 20 => {
                attempts += 1;
                thread::sleep(Duration::from_millis(5 * attempts));
            }
            other => return other,
        }
    }
}

#[cfg(unix)]
fn is_text_busy(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(libc::ETXTBSY)
}

#[cfg(not(unix))]
fn is_text_busy(_: &std::io::Error) -> bool {
    false
}

/// Reads a pipe to its end on a thread (keeping at most [`OUTPUT_CAP`] bytes).
fn read_all<R: Read + Send + 'static>(mut r: R) -> std::io::Result<mpsc::Receiver<Vec<u8>>> {
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name("rr-cred-helper-out".into())
        .spawn(move || {
            let mut buf = Vec::new();
            let _ = (&mut r).take(OUTPUT_CAP).read_to_end(&mut buf);
            let _ = std::io::copy(&mut r, &mut std::io::sink());
            let _ = tx.send(buf);
        })?;
    Ok(rx)
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits for the helper to exit, killing it when `timeout` has passed.
fn wait_until(child: &mut Child, timeout: Duration) -> std::result::Result<ExitStatus, String> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) => {}
            Err(e) => {
                kill(child);
                return Err(format!("waiting for it failed: {e}"));
            }
        }
        let now = Instant::now();
        if now >= deadline {
            kill(child);
            return Err(format!("timed out after {timeout:?}; killed"));
        }
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Keeping a helper's early exit from killing the host process with SIGPIPE. Only the
/// writer thread's signal mask changes.
#[cfg(unix)]
mod sigpipe {
    fn sigpipe_set() -> libc::sigset_t {
        // SAFETY: sigemptyset initialises the set before it is read.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGPIPE);
            set
        }
    }

    pub(super) fn block_in_this_thread() {
        let set = sigpipe_set();
        // SAFETY: a valid set; the old mask is not wanted.
        unsafe {
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        }
    }

    /// Consumes a SIGPIPE left pending by a failed write (blocked in this thread).
    pub(super) fn discard_pending() {
        let wanted = sigpipe_set();
        // SAFETY: valid sets; sigwait returns at once because the signal is pending.
        unsafe {
            let mut pending: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut pending);
            if libc::sigpending(&mut pending) == 0
                && libc::sigismember(&pending, libc::SIGPIPE) == 1
            {
                let mut got: libc::c_int = 0;
                libc::sigwait(&wanted, &mut got);
            }
        }
    }
}

#[cfg(not(unix))]
mod sigpipe {
    pub(super) fn block_in_this_thread() {}
    pub(super) fn discard_pending() {}
}
