//! Helpers shared by the write-path tests: clients, layer files, upload-session checks.
#![allow(dead_code)]

use rr::remote::Client;
use rr_testkit::Registry;
use std::io::Write;
use std::path::{Path, PathBuf};

pub fn client() -> Client {
    let c = Client::new();
    c.set_keychain(false);
    c
}

/// `size` pseudo-random bytes seeded by `seed` (xorshift: the same bytes on every run).
pub fn random_bytes(seed: u64, size: usize) -> Vec<u8> {
    let mut data = Vec::with_capacity(size + 8);
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    while data.len() < size {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    data.truncate(size);
    data
}

/// A tar archive with one file of `size` pseudo-random bytes seeded by `seed`.
pub fn tar_bytes(seed: u64, size: usize) -> Vec<u8> {
    let data = random_bytes(seed, size);
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(size as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    builder
        .append_data(&mut header, format!("file-{seed}.bin"), data.as_slice())
        .unwrap();
    builder.into_inner().unwrap()
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

pub fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(bytes, 3).unwrap()
}

pub fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Upload sessions the registry still holds open for `repo`. distribution keeps one
/// directory per session under `_uploads`; cancelling a session removes its `data` file
/// (and leaves the rest for the purger), completing it removes the directory.
///
/// go-containerregistry's registry keeps its sessions in memory: for it, the sessions the
/// access log shows unclosed are counted instead.
pub fn open_upload_sessions(reg: &Registry, repo: &str) -> usize {
    if reg.server().is_ggcr() {
        return sessions_left_behind(reg, repo).len();
    }
    let dir = reg
        .storage_dir()
        .join("docker/registry/v2/repositories")
        .join(repo)
        .join("_uploads");
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().join("data").exists())
                .count()
        })
        .unwrap_or(0)
}

/// Requests the registry answered on `/v2/<repo>/...`.
pub fn requests_for(reg: &Registry, repo: &str) -> Vec<rr_testkit::LoggedRequest> {
    let prefix = format!("/v2/{repo}/");
    reg.requests()
        .into_iter()
        .filter(|r| r.uri.starts_with(&prefix))
        .collect()
}

pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("rr-test-")
        .tempdir_in(if Path::new("/dev/shm").is_dir() {
            "/dev/shm"
        } else {
            "/tmp"
        })
        .unwrap()
}

/// Upload sessions of `repo` that the client neither committed (PUT 201) nor cancelled
/// (a DELETE the registry accepted: 2xx; a refused one, e.g. with a stale `_state`, leaves
/// the session), from the access log. A POST that opened a session (202) and was never
/// followed by a request on it counts as one too. (go-containerregistry's registry logs no
/// status for a request that succeeded: status 0 counts as the success.)
pub fn sessions_left_behind(reg: &Registry, repo: &str) -> Vec<String> {
    sessions_not_closed(reg, repo, true)
}

/// Like `sessions_left_behind`, but a DELETE counts whatever the registry answered: the
/// sessions the client did not even try to cancel.
pub fn sessions_never_cancelled(reg: &Registry, repo: &str) -> Vec<String> {
    sessions_not_closed(reg, repo, false)
}

fn sessions_not_closed(reg: &Registry, repo: &str, delete_must_succeed: bool) -> Vec<String> {
    let requests = requests_for(reg, repo);
    let uploads = format!("/v2/{repo}/blobs/uploads/");
    let opened = requests
        .iter()
        .filter(|r| r.method == "POST" && matches!(r.status, 202 | 0))
        .count();
    let mut seen: Vec<String> = Vec::new();
    let mut closed: Vec<String> = Vec::new();
    for r in &requests {
        let Some(rest) = r.uri.strip_prefix(&uploads) else {
            continue;
        };
        let uuid = rest.split('?').next().unwrap_or("").to_string();
        if uuid.is_empty() {
            continue;
        }
        if !seen.contains(&uuid) {
            seen.push(uuid.clone());
        }
        let succeeded = |ok: u16| r.status == ok || r.status == 0;
        if (r.method == "DELETE"
            && (!delete_must_succeed || (200..300).contains(&r.status) || r.status == 0))
            || (r.method == "PUT" && succeeded(201))
        {
            closed.push(uuid);
        }
    }
    let mut left: Vec<String> = seen.into_iter().filter(|u| !closed.contains(u)).collect();
    let followed = left.len() + closed.len();
    for _ in followed..opened {
        left.push("(a session never used after its POST)".to_string());
    }
    left
}

/// Checks that `repo` on `reg` holds no upload session (none open, none left without a
/// successful DELETE), on the servers that can say; `case` names the check in a skip.
pub fn check_no_session(reg: &Registry, repo: &str, case: &str) {
    if reg.server().is_ggcr() {
        rr_testkit::skip(
            reg.server(),
            &format!("{case} (open sessions)"),
            "its sessions live in memory, its log has no statuses, and it has no upload \
             cancel (a DELETE on a session answers 400)",
        );
        return;
    }
    assert_eq!(
        open_upload_sessions(reg, repo),
        0,
        "{}: {case}: {:#?}",
        reg.server(),
        requests_for(reg, repo)
    );
    let left = sessions_left_behind(reg, repo);
    assert!(left.is_empty(), "{}: {case}: {left:?}", reg.server());
}

/// A fault proxy in front of `reg` that does `fault` to every request of `method` (None:
/// any) whose path contains `path`.
pub fn proxy_always(
    reg: &Registry,
    method: Option<&'static str>,
    path: &str,
    fault: rr_testkit::Fault,
) -> rr_testkit::FaultProxy {
    rr_testkit::FaultProxy::start(
        &reg.host(),
        vec![rr_testkit::Rule::new(method, path, fault, usize::MAX)],
    )
}
