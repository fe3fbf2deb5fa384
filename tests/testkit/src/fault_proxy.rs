//! A fault-injecting HTTP proxy put in front of a real registry: it forwards every
//! request (one per connection, `Connection: close`) and, for requests that match a
//! rule, answers with the fault instead: error statuses (with `Retry-After`), connection
//! resets after K body bytes, truncated or corrupted bodies, stalls, and redirects to
//! another origin that records whether `Authorization` arrived; response headers a
//! registry does not send (rate limits); for uploads, what proxies and registries in the
//! wild do: request bodies over N bytes refused with 413 (answered without reading the
//! body, then the connection closed), PATCH chunks over N bytes refused with
//! `OCI-Chunk-Min-Length` advertised, request bodies cut off partway, answers lost after
//! the registry acted, and upload status answered with an off-by-one Range. Everything it
//! sees is recorded for the test to assert on.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// What to do to a matching request.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer with this status (and `Retry-After` when given), without forwarding.
    Status {
        status: u16,
        retry_after: Option<String>,
    },
    /// Forward, then close the connection after this many bytes of the response body.
    ResetAfter(usize),
    /// Forward, keep the headers (Content-Length included) and send only half the body.
    Truncate,
    /// Forward with the body byte at this offset inverted.
    FlipByte(usize),
    /// Forward the headers, then send nothing for this long before the body.
    StallAfterHeaders(Duration),
    /// Read the request, then send nothing for this long before forwarding it: a server
    /// that never answers (a stalled token exchange, a hung registry).
    StallBeforeAnswer(Duration),
    /// Forward, and hold the answer this long before sending it: a slow registry.
    DelayAnswer(Duration),
    /// Forward the headers, then the body one byte at a time with this pause before each:
    /// a server that trickles (each byte restarts an idle timeout).
    Trickle(Duration),
    /// Answer 307 to the same path on the proxy's second origin (another port), which
    /// serves it from the registry and records the request.
    RedirectToOtherOrigin,
    /// Forward with the query string removed: a mount POST reaches the registry as a
    /// plain upload POST, which it answers 202 with a session, as registries that do not
    /// mount do.
    DropQuery,
    /// Forward with the `Range` header removed: a registry or proxy that ignores ranges
    /// and answers every blob GET with the whole blob (200).
    DropRange,
    /// A request whose body is over this many bytes (`Content-Length`) is answered 413 at
    /// once, without reading the body, and the connection closed (nginx's
    /// `client_max_body_size`); smaller ones are forwarded.
    RefuseBodiesOver(u64),
    /// Upload POSTs are forwarded and their answer gets `OCI-Chunk-Min-Length:
    /// min_length`; a PATCH whose body is over `max` bytes is answered 413 at once as by
    /// `RefuseBodiesOver`; everything else is forwarded.
    RefuseChunksOver { max: u64, min_length: u64 },
    /// Forward the request line, headers and this share (in percent) of the body, then
    /// end the request there; once the registry has answered, close the client's
    /// connection without an answer: a body cut short partway.
    CutBodyAt(u8),
    /// Forward the whole request, then close the client's connection without the answer:
    /// the registry acted, the client does not know.
    DropAnswer,
    /// Forward, and answer with the `Range: 0-N` header of the answer made `0-(N+1)`: an
    /// upload status that counts the bytes held, as ECR and zot send, not the last byte.
    OffByOneRange,
    /// Forward, with these headers added to the response (replacing any of the same
    /// name): rate-limit headers, for instance.
    AddHeaders(Vec<(String, String)>),
    /// Answer with this status and these headers (and a JSON error body naming the code
    /// `TOOMANYREQUESTS` for 429, `UNAVAILABLE` otherwise), without forwarding.
    StatusWithHeaders {
        status: u16,
        headers: Vec<(String, String)>,
    },
}

impl Fault {
    /// `Status` without `Retry-After`.
    pub fn status(status: u16) -> Fault {
        Fault::Status {
            status,
            retry_after: None,
        }
    }

    /// `Status` with `Retry-After: retry_after`.
    pub fn status_retry_after(status: u16, retry_after: &str) -> Fault {
        Fault::Status {
            status,
            retry_after: Some(retry_after.to_string()),
        }
    }

    /// `AddHeaders` from `(name, value)` pairs.
    pub fn add_headers(headers: &[(&str, &str)]) -> Fault {
        Fault::AddHeaders(owned(headers))
    }

    /// `StatusWithHeaders` from `(name, value)` pairs.
    pub fn status_with_headers(status: u16, headers: &[(&str, &str)]) -> Fault {
        Fault::StatusWithHeaders {
            status,
            headers: owned(headers),
        }
    }
}

fn owned(headers: &[(&str, &str)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// A fault applied to requests whose method matches (or any, when None) and whose
/// path-and-query contains `path_contains`, for the first `times` such requests.
#[derive(Clone, Debug)]
pub struct Rule {
    pub method: Option<&'static str>,
    pub path_contains: String,
    pub fault: Fault,
    pub times: usize,
    /// When set, only requests whose body (`Content-Length`) is over this many bytes match.
    pub bodies_over: Option<u64>,
}

impl Rule {
    pub fn new(
        method: Option<&'static str>,
        path_contains: &str,
        fault: Fault,
        times: usize,
    ) -> Rule {
        Rule {
            method,
            path_contains: path_contains.to_string(),
            fault,
            times,
            bodies_over: None,
        }
    }

    /// The rule for requests whose body is over `bytes` only (e.g. a large layer's PATCH,
    /// not a small config's).
    pub fn bodies_over(mut self, bytes: u64) -> Rule {
        self.bodies_over = Some(bytes);
        self
    }
}

/// One request the proxy (or its second origin) received.
#[derive(Clone, Debug)]
pub struct SeenRequest {
    pub method: String,
    pub path: String,
    pub authorization: bool,
    pub range: Option<String>,
    /// The request's `Content-Length` and `Content-Range`.
    pub content_length: Option<u64>,
    pub content_range: Option<String>,
    /// The fault applied, if any.
    pub fault: Option<String>,
    /// True when it arrived at the redirect target (the second origin).
    pub at_redirect_target: bool,
}

struct State {
    upstream: SocketAddr,
    rules: Mutex<Vec<Rule>>,
    seen: Mutex<Vec<SeenRequest>>,
    redirect_port: u16,
    stop: AtomicBool,
}

/// The running proxy. Dropping it stops accepting connections.
pub struct FaultProxy {
    addr: SocketAddr,
    redirect_addr: SocketAddr,
    state: Arc<State>,
}

impl FaultProxy {
    /// A proxy on 127.0.0.1 (random port) in front of `upstream` (`host:port`).
    pub fn start(upstream: &str, rules: Vec<Rule>) -> FaultProxy {
        let upstream: SocketAddr = upstream.parse().expect("upstream is host:port");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fault proxy");
        let redirect = TcpListener::bind("127.0.0.1:0").expect("bind redirect target");
        let addr = listener.local_addr().unwrap();
        let redirect_addr = redirect.local_addr().unwrap();
        let state = Arc::new(State {
            upstream,
            rules: Mutex::new(rules),
            seen: Mutex::new(Vec::new()),
            redirect_port: redirect_addr.port(),
            stop: AtomicBool::new(false),
        });
        for (listener, is_target) in [(listener, false), (redirect, true)] {
            let state = state.clone();
            thread::spawn(move || {
                for conn in listener.incoming() {
                    if state.stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(conn) = conn else { continue };
                    let state = state.clone();
                    thread::spawn(move || {
                        let _ = handle(conn, &state, is_target);
                    });
                }
            });
        }
        FaultProxy {
            addr,
            redirect_addr,
            state,
        }
    }

    /// `127.0.0.1:<port>`: use it as the registry host.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// The redirect target's `127.0.0.1:<port>`.
    pub fn redirect_host(&self) -> String {
        self.redirect_addr.to_string()
    }

    pub fn seen(&self) -> Vec<SeenRequest> {
        self.state.seen.lock().unwrap().clone()
    }

    pub fn clear_seen(&self) {
        self.state.seen.lock().unwrap().clear();
    }

    /// Replaces the rules (e.g. between phases of a test).
    pub fn set_rules(&self, rules: Vec<Rule>) {
        *self.state.rules.lock().unwrap() = rules;
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the accept loops so they see the flag.
        let _ = TcpStream::connect(self.addr);
        let _ = TcpStream::connect(self.redirect_addr);
    }
}

struct Head {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The first line and the headers of a request or response.
type MessageHead = (String, Vec<(String, String)>);

fn read_head(reader: &mut impl BufRead) -> io::Result<Option<MessageHead>> {
    let mut first = String::new();
    if reader.read_line(&mut first)? == 0 {
        return Ok(None);
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "headers cut short",
            ));
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        if let Some((n, v)) = line.split_once(':') {
            headers.push((n.trim().to_string(), v.trim().to_string()));
        }
    }
    Ok(Some((first.trim_end().to_string(), headers)))
}

fn take_rule(state: &State, head: &Head) -> Option<Fault> {
    let length: u64 = head
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut rules = state.rules.lock().unwrap();
    let rule = rules.iter_mut().find(|r| {
        r.times > 0
            && r.method.is_none_or(|m| m == head.method)
            && head.path.contains(&r.path_contains)
            && r.bodies_over.is_none_or(|min| length > min)
    })?;
    rule.times -= 1;
    Some(rule.fault.clone())
}

fn handle(mut client: TcpStream, state: &State, at_redirect_target: bool) -> io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(60)))?;
    // A TLS ClientHello (the client trying https first) is refused at once, so that the
    // client falls back to plain http without waiting.
    let mut first_byte = [0u8; 1];
    if client.peek(&mut first_byte)? == 0 || first_byte[0] == 0x16 {
        let _ = client.shutdown(Shutdown::Both);
        return Ok(());
    }
    let mut reader = BufReader::new(client.try_clone()?);
    let Some((first, headers)) = read_head(&mut reader)? else {
        return Ok(());
    };
    let mut parts = first.split(' ');
    let head = Head {
        method: parts.next().unwrap_or("").to_string(),
        path: parts.next().unwrap_or("").to_string(),
        headers,
    };
    let length: u64 = head
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if head
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        client.write_all(
            b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
        return Ok(());
    }
    let fault = if at_redirect_target {
        None
    } else {
        take_rule(state, &head)
    };
    state.seen.lock().unwrap().push(SeenRequest {
        method: head.method.clone(),
        path: head.path.clone(),
        authorization: head.header("authorization").is_some(),
        range: head.header("range").map(String::from),
        content_length: head.header("content-length").and_then(|v| v.parse().ok()),
        content_range: head.header("content-range").map(String::from),
        fault: fault.as_ref().map(|f| format!("{f:?}")),
        at_redirect_target,
    });

    match &fault {
        Some(Fault::Status {
            status,
            retry_after,
        }) => {
            // The request body is read and dropped so the client sees the answer.
            io::copy(&mut (&mut reader).take(length), &mut io::sink())?;
            let body = format!(
                "{{\"errors\":[{{\"code\":\"UNAVAILABLE\",\"message\":\"injected {status}\"}}]}}"
            );
            let mut resp = format!(
                "HTTP/1.1 {status} Injected\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            if let Some(ra) = retry_after {
                resp.push_str(&format!("Retry-After: {ra}\r\n"));
            }
            resp.push_str("\r\n");
            resp.push_str(&body);
            client.write_all(resp.as_bytes())?;
            return Ok(());
        }
        Some(Fault::RefuseBodiesOver(max)) if length > *max => {
            return refuse_body(client, length, *max);
        }
        Some(Fault::RefuseChunksOver { max, .. }) if head.method == "PATCH" && length > *max => {
            return refuse_body(client, length, *max);
        }
        Some(Fault::StatusWithHeaders { status, headers }) => {
            io::copy(&mut (&mut reader).take(length), &mut io::sink())?;
            let code = if *status == 429 {
                "TOOMANYREQUESTS"
            } else {
                "UNAVAILABLE"
            };
            let body = format!(
                "{{\"errors\":[{{\"code\":\"{code}\",\"message\":\"injected {status}\"}}]}}"
            );
            let mut resp = format!(
                "HTTP/1.1 {status} Injected\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (n, v) in headers {
                resp.push_str(&format!("{n}: {v}\r\n"));
            }
            resp.push_str("\r\n");
            if head.method != "HEAD" {
                resp.push_str(&body);
            }
            client.write_all(resp.as_bytes())?;
            return Ok(());
        }
        Some(Fault::StallBeforeAnswer(d)) => {
            io::copy(&mut (&mut reader).take(length), &mut io::sink())?;
            thread::sleep(*d);
            let _ = client.shutdown(Shutdown::Both);
            return Ok(());
        }
        Some(Fault::RedirectToOtherOrigin) => {
            io::copy(&mut (&mut reader).take(length), &mut io::sink())?;
            let resp = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:{}{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                state.redirect_port, head.path
            );
            client.write_all(resp.as_bytes())?;
            return Ok(());
        }
        _ => {}
    }

    // Forward: same request line and headers (Host kept, so that the registry's Location
    // headers point back at the proxy), one request per connection.
    let mut upstream = TcpStream::connect(state.upstream)?;
    let path = match fault {
        Some(Fault::DropQuery) => head.path.split('?').next().unwrap_or_default(),
        _ => head.path.as_str(),
    };
    let mut out = format!("{} {path} HTTP/1.1\r\n", head.method);
    for (n, v) in &head.headers {
        if n.eq_ignore_ascii_case("connection") {
            continue;
        }
        if matches!(fault, Some(Fault::DropRange)) && n.eq_ignore_ascii_case("range") {
            continue;
        }
        if at_redirect_target && n.eq_ignore_ascii_case("host") {
            out.push_str(&format!("Host: {}\r\n", state.upstream));
            continue;
        }
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str("Connection: close\r\n\r\n");
    upstream.write_all(out.as_bytes())?;
    if let Some(Fault::CutBodyAt(percent)) = fault {
        // The registry gets the first part of the body and then the end of the request;
        // the client's connection closes once the registry has dealt with what it got, so
        // that a status request after it sees the session as the cut left it.
        let part = length * u64::from(percent.min(100)) / 100;
        io::copy(&mut (&mut reader).take(part), &mut upstream)?;
        let _ = upstream.shutdown(Shutdown::Write);
        let _ = io::copy(&mut upstream, &mut io::sink());
        let _ = client.shutdown(Shutdown::Both);
        return Ok(());
    }
    io::copy(&mut (&mut reader).take(length), &mut upstream)?;
    if let Some(Fault::DropAnswer) = fault {
        let _ = io::copy(&mut upstream, &mut io::sink());
        let _ = client.shutdown(Shutdown::Both);
        return Ok(());
    }

    let mut up_reader = BufReader::new(upstream);
    let Some((status_line, resp_headers)) = read_head(&mut up_reader)? else {
        return Ok(());
    };
    if let Some(Fault::DelayAnswer(d)) = &fault {
        thread::sleep(*d);
    }
    let added: &[(String, String)] = match &fault {
        Some(Fault::AddHeaders(h)) => h,
        _ => &[],
    };
    let mut resp = format!("{status_line}\r\n");
    for (n, v) in &resp_headers {
        if n.eq_ignore_ascii_case("connection")
            || added.iter().any(|(a, _)| a.eq_ignore_ascii_case(n))
        {
            continue;
        }
        if n.eq_ignore_ascii_case("range") && matches!(fault, Some(Fault::OffByOneRange)) {
            resp.push_str(&format!("{n}: {}\r\n", off_by_one(v)));
            continue;
        }
        resp.push_str(&format!("{n}: {v}\r\n"));
    }
    if let Some(Fault::RefuseChunksOver { min_length, .. }) = &fault {
        if head.method == "POST" && head.path.contains("/blobs/uploads/") {
            resp.push_str(&format!("OCI-Chunk-Min-Length: {min_length}\r\n"));
        }
    }
    for (n, v) in added {
        resp.push_str(&format!("{n}: {v}\r\n"));
    }
    resp.push_str("Connection: close\r\n\r\n");
    client.write_all(resp.as_bytes())?;
    let body_len: Option<u64> = resp_headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok());
    if head.method == "HEAD" {
        return Ok(());
    }
    if matches!(fault, None | Some(Fault::DropRange)) {
        // Nothing to do to the body: it passes as it comes, at the upstream's pace (a
        // slow link behind the proxy stays slow in front of it).
        match body_len {
            Some(n) => io::copy(&mut (&mut up_reader).take(n), &mut client)?,
            None => io::copy(&mut up_reader, &mut client)?,
        };
        client.flush()?;
        return Ok(());
    }
    let mut body = Vec::new();
    match body_len {
        Some(n) => {
            (&mut up_reader).take(n).read_to_end(&mut body)?;
        }
        None => {
            up_reader.read_to_end(&mut body)?;
        }
    }
    match fault {
        Some(Fault::ResetAfter(k)) => {
            client.write_all(&body[..k.min(body.len())])?;
            client.flush()?;
            let _ = client.shutdown(Shutdown::Both);
        }
        Some(Fault::Truncate) => {
            client.write_all(&body[..body.len() / 2])?;
            client.flush()?;
            let _ = client.shutdown(Shutdown::Both);
        }
        Some(Fault::FlipByte(at)) => {
            if let Some(b) = body.get_mut(at) {
                *b = !*b;
            }
            client.write_all(&body)?;
        }
        Some(Fault::StallAfterHeaders(d)) => {
            client.flush()?;
            thread::sleep(d);
            let _ = client.write_all(&body);
        }
        Some(Fault::Trickle(d)) => {
            client.flush()?;
            for byte in &body {
                thread::sleep(d);
                if client.write_all(std::slice::from_ref(byte)).is_err() {
                    return Ok(());
                }
                let _ = client.flush();
            }
        }
        _ => client.write_all(&body)?,
    }
    client.flush()?;
    Ok(())
}

/// Answers 413 to a request whose body is too large, without reading the body, and closes
/// the connection (the unread body makes the close a reset, as a client still sending
/// sees it from nginx).
fn refuse_body(mut client: TcpStream, length: u64, max: u64) -> io::Result<()> {
    let body = format!(
        "{{\"errors\":[{{\"code\":\"SIZE_INVALID\",\"message\":\"request body of {length} bytes is over the {max}-byte limit\"}}]}}"
    );
    let resp = format!(
        "HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = client.write_all(resp.as_bytes());
    let _ = client.flush();
    let _ = client.shutdown(Shutdown::Both);
    Ok(())
}

/// `0-N` made `0-(N+1)`; anything else as it is.
fn off_by_one(range: &str) -> String {
    match range.trim().split_once('-') {
        Some((start, end)) => match end.trim().parse::<u64>() {
            Ok(end) => format!("{start}-{}", end + 1),
            Err(_) => range.to_string(),
        },
        None => range.to_string(),
    }
}
