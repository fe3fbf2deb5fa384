//! Per-blob progress for C hosts: the event struct, its phases, and the callback that
//! receives them (set with `rr_client_set_blob_progress_callback`).

use crate::remote::{BlobEvent, BlobProgressSink, Phase};
use std::ffi::{c_char, c_void, CString};

/// Where a blob stands, in `rr_blob_progress.phase`. A blob's events go through
/// `RR_BLOB_WAITING`, then some of `RR_BLOB_CHECKING`, `RR_BLOB_MOUNTING`,
/// `RR_BLOB_UPLOADING` or `RR_BLOB_DOWNLOADING`, `RR_BLOB_VERIFYING`, and end with one of
/// `RR_BLOB_EXISTS`, `RR_BLOB_MOUNTED` or `RR_BLOB_DONE` (unless the operation fails or
/// is cancelled). An addition to the API contract.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rr_blob_phase {
    /// The operation's first event, naming no blob (`digest` NULL): `total` is known.
    RR_BLOB_STARTED = 0,
    /// Planned and not begun: every blob of the operation, in manifest order, before any
    /// starts (a host can draw all its lines at once).
    RR_BLOB_WAITING = 1,
    /// Asking the destination registry whether it has the blob (HEAD).
    RR_BLOB_CHECKING = 2,
    /// Asking the destination to mount it from another repository of the same registry.
    RR_BLOB_MOUNTING = 3,
    /// Sending its bytes; `blob_done` grows.
    RR_BLOB_UPLOADING = 4,
    /// Receiving its bytes; `blob_done` grows.
    RR_BLOB_DOWNLOADING = 5,
    /// Every byte is in and the digest is being checked.
    RR_BLOB_VERIFYING = 6,
    /// Final: the destination had the blob already; nothing was sent.
    RR_BLOB_EXISTS = 7,
    /// Final: mounted from another repository; nothing was sent.
    RR_BLOB_MOUNTED = 8,
    /// Final: sent or received, and verified.
    RR_BLOB_DONE = 9,
}

/// One progress event of `rr_blob_progress_fn`. Valid only during the call: copy what
/// you keep (`digest` in particular). An addition to the API contract.
#[repr(C)]
pub struct rr_blob_progress {
    /// `sizeof(rr_blob_progress)` as librr was built: fields are only ever added at the
    /// end, so a host built against an older rr.h reads the ones it knows.
    pub struct_size: usize,
    /// The operation the event belongs to: a number unique within the process (from 1),
    /// the same for every event of one call (`rr_write`, `rr_layout_write`,
    /// `rr_image_layer_save`, ...), so that operations running at once on one client can
    /// be told apart.
    pub operation: u64,
    /// The blob's digest; NULL for `RR_BLOB_STARTED`.
    pub digest: *const c_char,
    pub phase: rr_blob_phase,
    /// The blob's size and the bytes of it done (never decreasing, at most `blob_size`).
    pub blob_size: u64,
    pub blob_done: u64,
    /// The operation's bytes done and in total, as `rr_progress_fn` receives them.
    pub complete: u64,
    pub total: u64,
}

/// Per-blob progress callback: one event at a time per operation, on whichever thread
/// moves the blob. Return 0 to go on, non-zero to cancel the operation (it then returns
/// RR_ERR_CANCELLED). An addition to the API contract.
pub type rr_blob_progress_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, event: *const rr_blob_progress) -> i32>;

fn c_phase(phase: Phase) -> rr_blob_phase {
    use rr_blob_phase::*;
    match phase {
        Phase::Started => RR_BLOB_STARTED,
        Phase::Waiting => RR_BLOB_WAITING,
        Phase::Checking => RR_BLOB_CHECKING,
        Phase::Mounting => RR_BLOB_MOUNTING,
        Phase::Uploading => RR_BLOB_UPLOADING,
        Phase::Downloading => RR_BLOB_DOWNLOADING,
        Phase::Verifying => RR_BLOB_VERIFYING,
        Phase::Exists => RR_BLOB_EXISTS,
        Phase::Mounted => RR_BLOB_MOUNTED,
        Phase::Done => RR_BLOB_DONE,
    }
}

pub(crate) struct HostBlobProgress {
    f: unsafe extern "C" fn(*mut c_void, *const rr_blob_progress) -> i32,
    userdata: *mut c_void,
}

// The host promised (rr.h) that its callback may be called from any thread.
unsafe impl Send for HostBlobProgress {}
unsafe impl Sync for HostBlobProgress {}

impl HostBlobProgress {
    pub(crate) fn new(
        f: unsafe extern "C" fn(*mut c_void, *const rr_blob_progress) -> i32,
        userdata: *mut c_void,
    ) -> Self {
        HostBlobProgress { f, userdata }
    }
}

impl BlobProgressSink for HostBlobProgress {
    fn event(&self, e: &BlobEvent<'_>) -> bool {
        // Digests hold no NUL; one that did would be reported without its name.
        let digest = e.digest.and_then(|d| CString::new(d).ok());
        let event = rr_blob_progress {
            struct_size: std::mem::size_of::<rr_blob_progress>(),
            operation: e.operation,
            digest: digest.as_ref().map_or(std::ptr::null(), |d| d.as_ptr()),
            phase: c_phase(e.phase),
            blob_size: e.blob_size,
            blob_done: e.blob_done,
            complete: e.complete,
            total: e.total,
        };
        unsafe { (self.f)(self.userdata, &event) == 0 }
    }
}

/// The phase's name in lower case ("waiting", "checking", "mounting", "uploading",
/// "downloading", "verifying", "exists", "mounted", "done"; "started" for
/// `RR_BLOB_STARTED`), or NULL for a number that is no phase. The string is static:
/// never free it. Taken as a plain integer so that any value is safe to pass. An addition
/// to the API contract.
#[no_mangle]
pub extern "C" fn rr_blob_phase_name(phase: u32) -> *const c_char {
    super::guard_getter(std::ptr::null(), || {
        u8::try_from(phase)
            .ok()
            .and_then(Phase::from_u8)
            .map_or(std::ptr::null(), |p| p.c_name().as_ptr())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn every_phase_has_its_name_and_its_number() {
        for n in 0..=9u32 {
            let phase = Phase::from_u8(n as u8).unwrap();
            assert_eq!(c_phase(phase) as u32, n);
            let name = unsafe { CStr::from_ptr(rr_blob_phase_name(n)) };
            assert_eq!(name.to_str().unwrap(), phase.name());
        }
        assert!(rr_blob_phase_name(10).is_null());
        assert!(rr_blob_phase_name(u32::MAX).is_null());
        assert!(rr_blob_phase_name(256).is_null());
    }
}
