//! Host-supplied HTTP (`rr_client_set_transport`): the library builds each request and
//! hands it to the host's function, which performs exactly one exchange and fills in the
//! response; the body is then read lazily through the host's reader and closed once.

use super::client::rr_client;
use super::{guard, guard_getter, handle, rr_status, str_arg};
use crate::error::{Error, ErrorKind, Result};
use crate::transport::{redact, Exchange, Request, Response};
use std::ffi::{c_char, c_void, CString};
use std::io::Read;
use std::sync::Arc;

/// Reads up to `cap` bytes of a response body into `buf`: returns the count (> 0), 0 at
/// the end of the body, or a negative value on failure.
pub type rr_body_read_fn = Option<unsafe extern "C" fn(*mut c_void, *mut u8, usize) -> i64>;
/// Releases a response body; called exactly once per body the host set.
pub type rr_body_close_fn = Option<unsafe extern "C" fn(*mut c_void)>;
/// Performs one HTTP exchange: returns 0 after filling in `resp`, non-zero on failure.
pub type rr_transport_fn =
    Option<unsafe extern "C" fn(*mut c_void, *mut rr_http_request, *mut rr_http_response) -> i32>;

type TransportFn =
    unsafe extern "C" fn(*mut c_void, *mut rr_http_request, *mut rr_http_response) -> i32;
type ReadFn = unsafe extern "C" fn(*mut c_void, *mut u8, usize) -> i64;
type CloseFn = unsafe extern "C" fn(*mut c_void);

/// A request the library built, valid only during the transport callback.
pub struct rr_http_request {
    method: CString,
    url: CString,
    headers: Vec<(CString, CString)>,
    body_length: i64,
    body: Option<Box<dyn Read + Send>>,
    /// The library's own error from reading the body (e.g. a cancelled upload), kept so
    /// that the exchange reports it rather than the host's view of it.
    body_error: Option<Error>,
}

struct HostBody {
    read: ReadFn,
    close: Option<CloseFn>,
    userdata: *mut c_void,
}

/// The response the host fills in during the transport callback.
pub struct rr_http_response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Option<HostBody>,
    /// The first header the host gave that was not UTF-8 (or otherwise unusable).
    bad_header: Option<String>,
}

impl Drop for HostBody {
    fn drop(&mut self) {
        if let Some(close) = self.close.take() {
            // SAFETY: the host gave this function and userdata for this body.
            unsafe { close(self.userdata) }
        }
    }
}

/// A host body as a reader for the core; closing happens when it is dropped.
struct HostReader {
    body: HostBody,
    url: String,
    done: bool,
}

// The host promised (rr.h) that its functions may be called from any thread.
unsafe impl Send for HostReader {}

impl Read for HostReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        // SAFETY: buf is valid for buf.len() bytes; the host contract bounds the write.
        let n = unsafe { (self.body.read)(self.body.userdata, buf.as_mut_ptr(), buf.len()) };
        if n < 0 {
            self.done = true;
            return Err(Error::callback(format!(
                "the host transport's body reader failed ({n}) for {}",
                self.url
            ))
            .into_io());
        }
        if n as u64 > buf.len() as u64 {
            self.done = true;
            return Err(Error::callback(format!(
                "the host transport's body reader returned {n} bytes for a {}-byte buffer ({})",
                buf.len(),
                self.url
            ))
            .into_io());
        }
        if n == 0 {
            self.done = true;
        }
        Ok(n as usize)
    }
}

pub(crate) struct HostTransport {
    f: TransportFn,
    userdata: *mut c_void,
}

unsafe impl Send for HostTransport {}
unsafe impl Sync for HostTransport {}

fn c_text(s: &str, what: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::invalid_argument(format!("{what} holds a NUL byte")))
}

impl Exchange for HostTransport {
    fn exchange(&self, request: &Request) -> Result<Response> {
        let url_text = redact::url(&request.url);
        let mut headers = Vec::with_capacity(request.headers.len() + 1);
        for (name, value) in &request.headers {
            headers.push((
                c_text(name, "a header name")?,
                c_text(value, "a header value")?,
            ));
        }
        let length = request.body.len();
        let has_length_header = request
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-length"));
        let sends_body = !matches!(request.method, "GET" | "HEAD" | "DELETE") || length != Some(0);
        if sends_body && !has_length_header {
            if let Some(len) = length {
                headers.push((c_text("Content-Length", "")?, c_text(&len.to_string(), "")?));
            }
        }
        let body = if length == Some(0) {
            None
        } else {
            Some(request.body.open()?)
        };
        let mut req = rr_http_request {
            method: c_text(request.method, "the method")?,
            url: c_text(request.url.as_str(), "the URL")?,
            headers,
            body_length: length.map_or(-1, |l| l as i64),
            body,
            body_error: None,
        };
        let mut resp = rr_http_response {
            status: 0,
            headers: Vec::new(),
            body: None,
            bad_header: None,
        };
        // SAFETY: both handles live on this stack frame for the whole call.
        let rc = unsafe { (self.f)(self.userdata, &mut req, &mut resp) };
        if let Some(e) = req.body_error.take() {
            return Err(e);
        }
        if rc != 0 {
            return Err(Error::callback(format!(
                "the host transport failed ({rc}) for {} {url_text}",
                request.method
            )));
        }
        if let Some(bad) = resp.bad_header.take() {
            return Err(Error::callback(format!(
                "the host transport gave an unusable response header for {} {url_text}: {bad}",
                request.method
            )));
        }
        if !(100..=599).contains(&resp.status) {
            return Err(Error::callback(format!(
                "the host transport set no valid status for {} {url_text} (got {})",
                request.method, resp.status
            )));
        }
        let body: Box<dyn Read + Send> = match resp.body.take() {
            Some(body) => Box::new(HostReader {
                body,
                url: url_text,
                done: false,
            }),
            None => Box::new(std::io::empty()),
        };
        Ok(Response {
            status: resp.status,
            headers: std::mem::take(&mut resp.headers),
            url: request.url.clone(),
            body,
        })
    }
}

/// Makes every request of the client go through `fn`: one exchange per call, redirects
/// not followed by the host (the library follows them), every header built by the
/// library (Authorization included) and to be sent as given. The request and response
/// handles are valid only during the call; a body set with `rr_http_response_set_body`
/// is read until its end (or until the library no longer needs it) and then closed
/// exactly once, also on failures. `fn` may be called from several threads at once and
/// must be thread-safe; `userdata` is passed back untouched and must stay valid while the
/// client (or anything made through it) is in use. NULL `fn` restores the built-in
/// transport.
///
/// # Safety
/// `client` NULL or live; `fn` NULL or a function following the contract above.
#[no_mangle]
pub unsafe extern "C" fn rr_client_set_transport(
    client: *mut rr_client,
    r#fn: rr_transport_fn,
    userdata: *mut c_void,
) -> rr_status {
    guard("rr_client_set_transport", || {
        let client = &handle(client, "client")?.client;
        client.set_transport(r#fn.map(|f| {
            Arc::new(HostTransport { f, userdata }) as Arc<dyn crate::transport::Exchange>
        }));
        Ok(())
    })
}

/// The request method (`"GET"`, `"PUT"`, ...). Belongs to `req`; NULL when `req` is NULL.
///
/// # Safety
/// `req` NULL or the request handed to the transport callback, during the call.
#[no_mangle]
pub unsafe extern "C" fn rr_http_request_method(req: *const rr_http_request) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        req.as_ref().map_or(std::ptr::null(), |r| r.method.as_ptr())
    })
}

/// The absolute URL to send the request to. Belongs to `req`; NULL when `req` is NULL.
///
/// # Safety
/// `req` NULL or the request handed to the transport callback, during the call.
#[no_mangle]
pub unsafe extern "C" fn rr_http_request_url(req: *const rr_http_request) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        req.as_ref().map_or(std::ptr::null(), |r| r.url.as_ptr())
    })
}

/// How many headers the request has (each to be sent as given); 0 when `req` is NULL.
///
/// # Safety
/// `req` NULL or the request handed to the transport callback, during the call.
#[no_mangle]
pub unsafe extern "C" fn rr_http_request_header_count(req: *const rr_http_request) -> usize {
    guard_getter(0, || req.as_ref().map_or(0, |r| r.headers.len()))
}

/// The name of header `i`; NULL when `req` is NULL or `i` is out of range. Belongs to `req`.
///
/// # Safety
/// `req` NULL or the request handed to the transport callback, during the call.
#[no_mangle]
pub unsafe extern "C" fn rr_http_request_header_name(
    req: *const rr_http_request,
    i: usize,
) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        req.as_ref()
            .and_then(|r| r.headers.get(i))
            .map_or(std::ptr::null(), |(n, _)| n.as_ptr())
    })
}

/// The value of header `i`; NULL when `req` is NULL or `i` is out of range. Belongs to
/// `req`.
///
/// # Safety
/// `req` NULL or the request handed to the transport callback, during the call.
#[no_mangle]
pub unsafe extern "C" fn rr_http_request_header_value(
    req: *const rr_http_request,
    i: usize,
) -> *const c_char {
    guard_getter(std::ptr::null(), || {
        req.as_ref()
            .and_then(|r| r.headers.get(i))
            .map_or(std::ptr::null(), |(_, v)| v.as_ptr())
    })
}

/// The length of the request body: -1 when unknown (send it chunked), 0 when there is
/// none. Also 0 when `req` is NULL.
///
/// # Safety
/// `req` NULL or the request handed to the transport callback, during the call.
#[no_mangle]
pub unsafe extern "C" fn rr_http_request_body_length(req: *const rr_http_request) -> i64 {
    guard_getter(0, || req.as_ref().map_or(0, |r| r.body_length))
}

/// Reads the next bytes of the request body into `buf` (at most `cap`): returns the count
/// (> 0), 0 at the end of the body, or -1 on failure (the exchange then fails with the
/// library's reason, e.g. RR_ERR_CANCELLED; the host should abort the request). The body
/// can be read once per callback.
///
/// # Safety
/// `req` NULL or the request handed to the transport callback, during the call; `buf`
/// valid for `cap` bytes of writing.
#[no_mangle]
pub unsafe extern "C" fn rr_http_request_read_body(
    req: *mut rr_http_request,
    buf: *mut u8,
    cap: usize,
) -> i64 {
    guard_getter(-1, || {
        let Some(r) = req.as_mut() else { return -1 };
        if r.body_error.is_some() {
            return -1;
        }
        let Some(body) = r.body.as_mut() else {
            return 0;
        };
        if cap == 0 {
            return 0;
        }
        if buf.is_null() {
            return -1;
        }
        let slice = std::slice::from_raw_parts_mut(buf, cap.min(i64::MAX as usize));
        loop {
            match body.read(slice) {
                Ok(n) => return n as i64,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    r.body_error = Some(Error::from_io(
                        &e,
                        ErrorKind::Io,
                        "reading the request body",
                    ));
                    return -1;
                }
            }
        }
    })
}

/// Sets the response status (100 to 599). RR_ERR_INVALID_ARGUMENT otherwise.
///
/// # Safety
/// `resp` NULL or the response handed to the transport callback, during the call.
#[no_mangle]
pub unsafe extern "C" fn rr_http_response_set_status(
    resp: *mut rr_http_response,
    status: u16,
) -> rr_status {
    guard("rr_http_response_set_status", || {
        let resp = resp
            .as_mut()
            .ok_or_else(|| Error::invalid_argument("resp is NULL"))?;
        if !(100..=599).contains(&status) {
            return Err(Error::invalid_argument(format!(
                "HTTP status {status} is out of range"
            )));
        }
        resp.status = status;
        Ok(())
    })
}

/// Adds a response header (call once per header line, repeated names included; leave out
/// hop-by-hop headers). Both strings are copied. A name or value that is not UTF-8 is
/// RR_ERR_INVALID_ARGUMENT and also fails the exchange (RR_ERR_CALLBACK).
///
/// # Safety
/// `resp` NULL or the response handed to the transport callback, during the call; `name`
/// and `value` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rr_http_response_add_header(
    resp: *mut rr_http_response,
    name: *const c_char,
    value: *const c_char,
) -> rr_status {
    guard("rr_http_response_add_header", || {
        let resp = resp
            .as_mut()
            .ok_or_else(|| Error::invalid_argument("resp is NULL"))?;
        let parsed = str_arg(name, "name").and_then(|n| Ok((n, str_arg(value, "value")?)));
        match parsed {
            Ok((n, v)) if !n.is_empty() && !n.contains(char::is_whitespace) => {
                resp.headers.push((n.to_string(), v.trim().to_string()));
                Ok(())
            }
            Ok((n, _)) => {
                let msg = format!("header name {n:?} is empty or holds white space");
                resp.bad_header.get_or_insert_with(|| msg.clone());
                Err(Error::invalid_argument(msg))
            }
            Err(e) => {
                resp.bad_header.get_or_insert_with(|| e.message.clone());
                Err(e)
            }
        }
    })
}

/// Sets the response body: `read` is called until it returns 0 or a negative value, or
/// until the library no longer needs the body; `close` (may be NULL) is then called
/// exactly once with `body_userdata`. For a HEAD, or a response without a body, set none.
/// Setting a body twice closes the first one at once. `read` and `close` may be called
/// from another thread than the one that ran the transport callback (never two calls on
/// one body at the same time), and after the callback has returned.
///
/// # Safety
/// `resp` NULL or the response handed to the transport callback, during the call; the
/// functions must follow the contract above.
#[no_mangle]
pub unsafe extern "C" fn rr_http_response_set_body(
    resp: *mut rr_http_response,
    read: rr_body_read_fn,
    close: rr_body_close_fn,
    body_userdata: *mut c_void,
) -> rr_status {
    guard("rr_http_response_set_body", || {
        let resp = match resp.as_mut() {
            Some(r) => r,
            None => {
                if let Some(close) = close {
                    close(body_userdata);
                }
                return Err(Error::invalid_argument("resp is NULL"));
            }
        };
        let Some(read) = read else {
            if let Some(close) = close {
                close(body_userdata);
            }
            return Err(Error::invalid_argument("read is NULL"));
        };
        resp.body = Some(HostBody {
            read,
            close,
            userdata: body_userdata,
        });
        Ok(())
    })
}
