//! One upload session on a registry: opened by a POST (or a mount answered 202), asked
//! where it stands (GET: `Range` and a new `Location`), and cancelled (DELETE) with a
//! Location the registry still accepts.

use crate::error::{Error, Result};
use crate::name::Repository;
use crate::transport::{redact, Attempts, Request, Response, Session};
use url::Url;

/// The upload path of `repository`.
pub fn uploads_path(repository: &Repository) -> String {
    format!("/v2/{}/blobs/uploads/", repository.path())
}

/// An open upload session and what is known of it.
pub struct UploadSession<'s, 'c> {
    pub session: &'s Session<'c>,
    pub location: Url,
    /// Whether `location` is the registry's latest word. A request on the session that
    /// failed may have moved the registry on (distribution's `_state` query value carries
    /// the offset, and a Location with an old one is refused), so before anything else the
    /// session is asked for a new one.
    pub fresh: bool,
    /// Where the next request starts: what the registry holds, as far as its answers say.
    pub offset: u64,
    /// What the registry confirmed it holds in an answer to a request that sent it.
    pub confirmed: u64,
    /// `OCI-Chunk-Min-Length` of the POST: no chunk but the last may be shorter.
    pub min_chunk: Option<u64>,
}

/// What the session said when asked where it stands.
pub enum Status {
    /// The session is there and says it holds `0-END` (`range_end`), None without a
    /// usable Range.
    At(Option<u64>),
    /// 404: the session is gone (or, on distribution 2.8, no longer reachable with the
    /// Location we have).
    Gone,
    /// The registry does not answer upload status (go-containerregistry's registry says 400).
    Unsupported,
}

impl<'s, 'c> UploadSession<'s, 'c> {
    /// Opens a session: POST, 202, its Location and minimum chunk length.
    pub fn start(session: &'s Session<'c>, repository: &Repository) -> Result<Self> {
        let request = session
            .request("POST", &uploads_path(repository))?
            .header("Content-Length", "0");
        let response = session.send_expect(request, &[202])?;
        let opened = UploadSession::opened(session, &response, "POST")?;
        response.drain();
        Ok(opened)
    }

    /// The session a POST (or a mount) answered with 202.
    pub fn opened(session: &'s Session<'c>, response: &Response, method: &str) -> Result<Self> {
        Ok(UploadSession {
            session,
            location: location_of(response, method)?,
            fresh: true,
            offset: 0,
            confirmed: 0,
            min_chunk: response
                .header("oci-chunk-min-length")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|&n| n > 0),
        })
    }

    /// Asks where the session stands (GET its Location) and takes its new Location.
    /// `attempts` is `Cleanup` when the operation may already be cancelled.
    pub fn status(&mut self, attempts: Attempts) -> Result<Status> {
        let request = Request::new("GET", self.location.clone());
        let response = self.session.send_with(request, attempts)?;
        match response.status {
            200 | 202 | 204 => {
                if response.header("location").is_some() {
                    self.location = location_of(&response, "GET")?;
                    self.fresh = true;
                }
                let end = response.header("range").and_then(super::plan::range_end);
                response.drain();
                Ok(Status::At(end))
            }
            404 => {
                response.drain();
                Ok(Status::Gone)
            }
            _ => {
                response.drain();
                Ok(Status::Unsupported)
            }
        }
    }

    /// Cancels the session, also when the operation itself was cancelled. A Location that
    /// may be stale is refreshed first (GET), since registries refuse a DELETE with an old
    /// `_state`. Failures are ignored: the registry expires abandoned sessions.
    ///
    /// A registry may still be taking in the body of a request that rr broke off (a
    /// cancel) when it is asked, and then answers with a Location that is stale once it is
    /// done; its DELETE is refused as out of range (416, distribution v3) and the session
    /// is asked again after a short wait, a few times.
    pub fn cancel(mut self) {
        let mut wait = std::time::Duration::from_millis(50);
        for _ in 0..4 {
            // A session that says nothing may still accept the Location there is.
            if !self.fresh && !matches!(self.status(Attempts::Cleanup), Ok(Status::At(_))) {
                cancel_session(self.session, &self.location);
                return;
            }
            let request = Request::new("DELETE", self.location.clone());
            let Ok(response) = self.session.send_with(request, Attempts::Cleanup) else {
                return;
            };
            let status = response.status;
            response.drain();
            if status != 416 {
                return;
            }
            self.fresh = false;
            std::thread::sleep(wait);
            wait *= 2;
        }
    }
}

/// DELETEs the upload session at `location`, once, also when the operation was cancelled;
/// failures are ignored.
pub fn cancel_session(session: &Session<'_>, location: &Url) {
    if let Ok(response) =
        session.send_with(Request::new("DELETE", location.clone()), Attempts::Cleanup)
    {
        response.drain();
    }
}

/// The Location of `response`, resolved against the URL that answered.
pub fn location_of(response: &Response, method: &str) -> Result<Url> {
    let url = redact::url(&response.url);
    let value = response.header("location").ok_or_else(|| {
        Error::invalid_response(format!(
            "{method} {url}: the response has no Location header"
        ))
    })?;
    response.url.join(value.trim()).map_err(|e| {
        Error::invalid_response(format!("{method} {url}: unusable Location {value:?}: {e}"))
    })
}
