//! A small HTTP proxy on a random 127.0.0.1 port, recording what it relays so that a
//! test can prove requests went through it: CONNECT tunnels (how https goes through a
//! proxy) and forward requests in absolute form (`GET http://host:port/path`, how plain
//! http does). Names under [`crate::PROXY_ONLY_DOMAIN`] resolve to 127.0.0.1 here and
//! nowhere else, so a registry reached by such a name can only be reached through the
//! proxy (clients never proxy loopback addresses from the environment).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// One request the proxy relayed (or tried to).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relayed {
    /// `CONNECT`, `GET`, `HEAD`, ...
    pub method: String,
    /// CONNECT: `host:port` as asked; a forward request: the absolute URI as sent.
    pub target: String,
    /// CONNECT: 200 when the tunnel was opened; a forward request: the upstream's
    /// status. 502 when the upstream could not be reached, 400 for a request the proxy
    /// does not understand.
    pub status: u16,
}

struct Shared {
    log: Mutex<Vec<Relayed>>,
    stop: AtomicBool,
}

/// The proxy. Stopped on drop.
pub struct HttpProxy {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    port: u16,
}

impl HttpProxy {
    /// Starts the proxy on a random 127.0.0.1 port.
    pub fn start() -> HttpProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("rr-testkit: cannot start the proxy: {e}"));
        let port = listener.local_addr().expect("proxy address").port();
        let shared = Arc::new(Shared {
            log: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("rr-testkit-proxy-{port}"))
                .spawn(move || {
                    for conn in listener.incoming() {
                        if shared.stop.load(Ordering::SeqCst) {
                            return;
                        }
                        let Ok(conn) = conn else { continue };
                        let shared = Arc::clone(&shared);
                        std::thread::spawn(move || serve(&shared, conn));
                    }
                })
                .expect("spawn proxy thread")
        };
        HttpProxy {
            shared,
            thread: Some(thread),
            port,
        }
    }

    /// `http://127.0.0.1:PORT`, for HTTP(S)_PROXY or a per-registry proxy setting.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Everything relayed so far, oldest first.
    pub fn relayed(&self) -> Vec<Relayed> {
        self.shared
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Forgets what was relayed.
    pub fn clear(&self) {
        self.shared
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Stops accepting; idempotent. Open tunnels end when their peers close.
    pub fn stop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.shared.stop.store(true, Ordering::SeqCst);
            let _ = TcpStream::connect(("127.0.0.1", self.port));
            let _ = t.join();
        }
    }
}

impl Drop for HttpProxy {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for HttpProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpProxy")
            .field("url", &self.url())
            .finish()
    }
}

/// Where the proxy connects for `host`: 127.0.0.1 for the proxy-only names.
fn resolve(host: &str) -> &str {
    let lower = host.to_ascii_lowercase();
    let domain = crate::PROXY_ONLY_DOMAIN;
    if lower == domain || lower.ends_with(&format!(".{domain}")) {
        "127.0.0.1"
    } else {
        host
    }
}

/// `host:port` into its parts (IPv6 in brackets).
fn split_authority(authority: &str, default_port: u16) -> Option<(String, u16)> {
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.ends_with(']') => (h, p.parse().ok()?),
        _ => (authority, default_port),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (!host.is_empty()).then(|| (host.to_string(), port))
}

fn connect(host: &str, port: u16) -> io::Result<TcpStream> {
    let s = TcpStream::connect((resolve(host), port))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    Ok(s)
}

fn record(shared: &Shared, method: &str, target: &str, status: u16) {
    shared
        .log
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Relayed {
            method: method.to_string(),
            target: target.to_string(),
            status,
        });
}

fn answer(conn: &mut impl Write, status: u16, reason: &str) {
    let _ = write!(
        conn,
        "HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let _ = conn.flush();
}

/// Copies `from` to `to` until EOF, then closes `to` for writing.
fn pump(mut from: impl Read, to: TcpStream) {
    let mut to_w = &to;
    let _ = io::copy(&mut from, &mut to_w);
    let _ = to.shutdown(Shutdown::Write);
}

/// One client connection: one CONNECT tunnel or one forwarded request.
fn serve(shared: &Shared, conn: TcpStream) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(60)));
    let Ok(write_half) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(conn);
    let mut first = String::new();
    if reader.read_line(&mut first).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        if line.is_empty() {
            break;
        }
        headers.push(line);
    }
    let mut client = write_half;
    if method == "CONNECT" {
        let Some((host, port)) = split_authority(&target, 443) else {
            record(shared, &method, &target, 400);
            return answer(&mut client, 400, "Bad Request");
        };
        let upstream = match connect(&host, port) {
            Ok(u) => u,
            Err(_) => {
                record(shared, &method, &target, 502);
                return answer(&mut client, 502, "Bad Gateway");
            }
        };
        record(shared, &method, &target, 200);
        if client
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .is_err()
        {
            return;
        }
        tunnel(reader, client, upstream);
        return;
    }
    // A forward request: `METHOD http://host[:port]/path HTTP/1.1`.
    let Some(rest) = target.strip_prefix("http://") else {
        record(shared, &method, &target, 400);
        return answer(&mut client, 400, "Bad Request");
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let Some((host, port)) = split_authority(authority, 80) else {
        record(shared, &method, &target, 400);
        return answer(&mut client, 400, "Bad Request");
    };
    let mut upstream = match connect(&host, port) {
        Ok(u) => u,
        Err(_) => {
            record(shared, &method, &target, 502);
            return answer(&mut client, 502, "Bad Gateway");
        }
    };
    // One request per connection: the upstream closes after answering, and says so to
    // the client, so the client never sends a second request down this tunnel.
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    for h in &headers {
        let name = h
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !matches!(
            name.as_str(),
            "connection" | "proxy-connection" | "proxy-authorization" | "keep-alive"
        ) {
            head.push_str(h);
            head.push_str("\r\n");
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    if upstream.write_all(head.as_bytes()).is_err() {
        record(shared, &method, &target, 502);
        return answer(&mut client, 502, "Bad Gateway");
    }
    let Ok(up_read) = upstream.try_clone() else {
        return;
    };
    let mut up_reader = BufReader::new(up_read);
    // The request body (if any) goes up while the answer comes down.
    let body_thread = {
        let upstream = upstream.try_clone();
        let buffered = reader.buffer().to_vec();
        let rest = reader.into_inner();
        std::thread::spawn(move || {
            if let Ok(mut up) = upstream {
                if up.write_all(&buffered).is_ok() {
                    pump(rest, up);
                }
            }
        })
    };
    let mut status_line = String::new();
    if up_reader.read_line(&mut status_line).unwrap_or(0) == 0 {
        record(shared, &method, &target, 502);
        answer(&mut client, 502, "Bad Gateway");
        let _ = upstream.shutdown(Shutdown::Both);
        let _ = body_thread.join();
        return;
    }
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    record(shared, &method, &target, status);
    if client.write_all(status_line.as_bytes()).is_ok() {
        let _ = client.write_all(up_reader.buffer());
        let rest = up_reader.into_inner();
        pump(rest, client.try_clone().expect("clone client stream"));
    }
    let _ = client.shutdown(Shutdown::Both);
    let _ = upstream.shutdown(Shutdown::Both);
    let _ = body_thread.join();
}

/// Relays bytes both ways until both sides are done; `reader` may hold bytes the client
/// sent after the CONNECT head.
fn tunnel(reader: BufReader<TcpStream>, client: TcpStream, upstream: TcpStream) {
    let buffered = reader.buffer().to_vec();
    let client_in = reader.into_inner();
    let Ok(up_in) = upstream.try_clone() else {
        return;
    };
    let up_out = upstream;
    let t = std::thread::spawn(move || {
        let mut up = &up_out;
        if up.write_all(&buffered).is_ok() {
            pump(
                client_in,
                up_out.try_clone().expect("clone upstream stream"),
            );
        }
    });
    pump(up_in, client);
    let _ = t.join();
}
