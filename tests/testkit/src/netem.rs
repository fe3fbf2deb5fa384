//! A network emulator: a user-space TCP proxy on 127.0.0.1 that puts a wide-area link
//! between a client and a server on loopback (the kernel here has no netem qdisc).
//!
//! - **Delay.** Every chunk read (at most [`CHUNK`] bytes) is stamped when it arrives
//!   and written to the other side no earlier than that stamp plus RTT/2, from a queue per
//!   direction: a window in flight is delayed once, not per byte, as on a real path.
//!   Jitter (uniform in `0..jitter`, per chunk) never reorders bytes: a chunk's release
//!   time is at least the previous chunk's.
//! - **Handshake.** A client's `connect()` on loopback returns at once, so the proxy
//!   charges the handshake instead: nothing the client sends is forwarded before
//!   accept + RTT (and then RTT/2 on the way), so a fresh connection's first response byte
//!   comes about 2 RTT after `connect()`, a reused connection's about 1 RTT after the
//!   request. The upstream connection is opened at once.
//! - **Bandwidth.** Token buckets in bits per second, one per connection and direction
//!   and one per direction shared by every connection, each with a burst of one chunk.
//!   A chunk waits for both (the connection's first) before it is stamped: the link
//!   serializes, then propagates. A sender whose bytes were already waiting when the
//!   proxy's thread got to them may catch up on up to 50 ms the thread lost to late
//!   wake-ups, so that a loaded machine does not lower the rate (an idle link saves up
//!   one chunk only).
//! - **Memory.** Each direction holds at most max(2 × bandwidth-delay product, 256 KiB)
//!   (the per-connection rate, else the total, else 1 GiB/s); when full it stops reading
//!   from the sender and TCP's own back-pressure does the rest.
//! - **Closing.** A FIN is forwarded in order, after the delayed data (`shutdown(Write)`
//!   once the queue drains); a reset or any error closes both sides at once (each peer
//!   sees a FIN, not a reset, and what was in flight is dropped). Dropping the
//!   [`NetEm`] stops accepting and closes every connection.
//! - **Request log.** The HTTP/1.1 framing of both directions is followed (heads; bodies
//!   by `Content-Length` or chunked; no body for HEAD, 1xx, 204, 304) to record one
//!   [`ExchangeRecord`] per request: when its first byte reached the proxy, when its
//!   answer's last byte was released to the client, bytes each way. Times are durations
//!   since [`epoch`], one clock for every `NetEm` of the process. A connection whose
//!   bytes are not HTTP/1.1 (TLS) is proxied just the same and records nothing.
//! - [`critical_path`] turns a log into the longest chain of requests that waited for
//!   each other; [`log`] writes and reads logs as JSON lines (one clock for several
//!   emulators and processes).
//!
//! Not emulated: TCP slow start and receive windows (in flight is bounded only by the
//! buffer above), loss, and per-packet overhead (a 100 Mbit/s link carries 100 Mbit/s of
//! payload).

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub mod log;

/// The largest chunk read and released at once, and the buckets' burst.
pub const CHUNK: usize = 16 * 1024;
/// The smallest per-direction buffer.
const MIN_BUFFER: u64 = 256 * 1024;
/// The rate the buffer is sized for when no rate is set: 1 GiB/s, in bits.
const UNLIMITED_BITS_PER_SEC: u64 = 8 << 30;
/// The longest request or response head followed; anything longer is not HTTP to us.
const MAX_HEAD: usize = 64 * 1024;
/// The longest chunk-size or trailer line followed.
const MAX_LINE: usize = 4096;

/// The emulated path between client and server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Link {
    /// Round-trip time: RTT/2 is added each way, and one RTT for the handshake.
    pub rtt: Duration,
    /// Each connection's rate, in each direction, in bits per second.
    pub per_connection_bits_per_sec: Option<u64>,
    /// The rate all connections share, in each direction, in bits per second.
    pub total_bits_per_sec: Option<u64>,
    /// Each chunk gets a further delay uniform in `0..jitter` (never reordering).
    pub jitter: Duration,
}

impl Link {
    /// A link of this RTT, without bandwidth limits or jitter.
    pub fn rtt(rtt: Duration) -> Link {
        Link {
            rtt,
            ..Link::default()
        }
    }

    /// The link with this per-connection rate, in Mbit/s (10^6 bits per second).
    pub fn per_connection_mbit(mut self, mbit: u64) -> Link {
        self.per_connection_bits_per_sec = Some(mbit * 1_000_000);
        self
    }

    /// The link with this total rate, in Mbit/s.
    pub fn total_mbit(mut self, mbit: u64) -> Link {
        self.total_bits_per_sec = Some(mbit * 1_000_000);
        self
    }

    /// The link with this jitter.
    pub fn jitter(mut self, jitter: Duration) -> Link {
        self.jitter = jitter;
        self
    }

    /// A link from command-line values: RTT and jitter in milliseconds, rates in Mbit/s
    /// (10^6 bits per second; fractions allowed), each a finite number ≥ 0: the flags of
    /// `rr-netem` and `rr-testkit serve --netem-*`.
    pub fn from_flags(
        rtt_ms: f64,
        rate_mbit: Option<f64>,
        total_mbit: Option<f64>,
        jitter_ms: Option<f64>,
    ) -> Result<Link, String> {
        let check = |what: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(v)
            } else {
                Err(format!("{what}: not a number ≥ 0: {v}"))
            }
        };
        let ms = |v: f64| Duration::from_secs_f64(v / 1000.0);
        let bits = |v: f64| (v * 1e6).round().max(1.0) as u64;
        Ok(Link {
            rtt: ms(check("rtt", rtt_ms)?),
            per_connection_bits_per_sec: rate_mbit.map(|v| check("rate", v)).transpose()?.map(bits),
            total_bits_per_sec: total_mbit.map(|v| check("total", v)).transpose()?.map(bits),
            jitter: ms(check("jitter", jitter_ms.unwrap_or(0.0))?),
        })
    }

    /// The most bytes each direction of a connection holds:
    /// max(2 × bandwidth-delay product, 256 KiB).
    pub fn buffer_limit(&self) -> usize {
        let rate = self
            .per_connection_bits_per_sec
            .or(self.total_bits_per_sec)
            .unwrap_or(UNLIMITED_BITS_PER_SEC);
        let bdp = (rate as f64 / 8.0 * self.rtt.as_secs_f64()) as u64;
        (2 * bdp).max(MIN_BUFFER) as usize
    }
}

struct Epoch {
    instant: Instant,
    unix: Duration,
}

fn the_epoch() -> &'static Epoch {
    static EPOCH: OnceLock<Epoch> = OnceLock::new();
    EPOCH.get_or_init(|| Epoch {
        instant: Instant::now(),
        unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default(),
    })
}

/// The instant every [`ExchangeRecord`] time of this process counts from (set on first
/// use).
pub fn epoch() -> Instant {
    the_epoch().instant
}

/// [`epoch`] as wall-clock time since the Unix epoch: add it to a record's times to
/// compare logs of two processes.
pub fn epoch_unix() -> Duration {
    the_epoch().unix
}

/// `t` as a duration since [`epoch`].
pub fn since_epoch(t: Instant) -> Duration {
    t.saturating_duration_since(epoch())
}

/// One HTTP request through the emulator and its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExchangeRecord {
    /// The connection, unique in the process.
    pub conn: u64,
    /// The request's place on its connection: 0 for the first (which paid for the
    /// handshake).
    pub seq: u32,
    pub method: String,
    /// The request target, as sent (path and query).
    pub path: String,
    /// The final status; 0 when no complete answer came before the connection closed.
    pub status: u16,
    /// When the request's first byte reached the proxy from the client (since [`epoch`]).
    pub start: Duration,
    /// When the answer's last byte was released to the client (since [`epoch`]); the
    /// connection's end when there was no complete answer.
    pub end: Duration,
    /// The request's bytes (head and body).
    pub bytes_up: u64,
    /// The answer's bytes (heads, interim answers included, and body); of an answer cut
    /// off by the connection's close (status 0), what had passed of it.
    pub bytes_down: u64,
}

/// The longest chain of requests each of which started after the one before it ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CriticalPath {
    /// Requests on the chain.
    pub requests: usize,
    /// Requests on the chain that were the first on their connection: each paid one more
    /// round trip (the handshake).
    pub setups: usize,
    /// `requests + setups`.
    pub round_trips: usize,
    /// The chain, in order.
    pub chain: Vec<ExchangeRecord>,
}

/// The chain of requests, each starting after the previous one ended (less `slack`, a
/// millisecond or two to absorb measuring noise), with the most round trips (each request
/// one, plus one for a request that opened its connection), the most requests among
/// equals.
///
/// Seen from timestamps alone, this is a lower bound of the round trips that had to wait
/// for each other: requests on it did not overlap, so no client could have had them in
/// flight together, and `round_trips × RTT` is a floor of the operation's time. Requests
/// that merely happened one after the other (a client with one connection doing
/// independent things in sequence) count too: the bound says what the client did, not what
/// it could have done.
pub fn critical_path(records: &[ExchangeRecord], slack: Duration) -> CriticalPath {
    let mut order: Vec<&ExchangeRecord> = records.iter().collect();
    order.sort_by_key(|r| (r.start, r.end, r.conn, r.seq));
    let weight = |r: &ExchangeRecord| if r.seq == 0 { 2 } else { 1 };
    // best[i]: (round trips, requests) of the best chain ending with order[i].
    let mut best: Vec<(usize, usize)> = Vec::with_capacity(order.len());
    let mut prev: Vec<Option<usize>> = Vec::with_capacity(order.len());
    for (i, r) in order.iter().enumerate() {
        let mut here = (weight(r), 1);
        let mut from = None;
        for j in 0..i {
            if order[j].end <= r.start + slack {
                let (t, n) = best[j];
                let candidate = (t + weight(r), n + 1);
                if candidate > here {
                    here = candidate;
                    from = Some(j);
                }
            }
        }
        best.push(here);
        prev.push(from);
    }
    let Some(last) = (0..order.len()).max_by_key(|&i| (best[i], std::cmp::Reverse(i))) else {
        return CriticalPath::default();
    };
    let mut chain = Vec::new();
    let mut at = Some(last);
    while let Some(i) = at {
        chain.push(order[i].clone());
        at = prev[i];
    }
    chain.reverse();
    let setups = chain.iter().filter(|r| r.seq == 0).count();
    CriticalPath {
        requests: chain.len(),
        setups,
        round_trips: chain.len() + setups,
        chain,
    }
}

/// The chain of requests that decided when the last one ended: from the request that
/// ended last, each time the request that ended last before it started (less `slack`).
/// Unlike [`critical_path`], which counts round trips, this follows time: a pull whose
/// small layers ran one after another beside a large one has the large one on it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BindingPath {
    /// Requests on the chain, first to last.
    pub chain: Vec<ExchangeRecord>,
    /// Round trips on it: one per request, one more for each that opened its connection.
    pub round_trips: usize,
    /// Bytes up and down of the requests on it.
    pub bytes: u64,
}

impl BindingPath {
    /// What the chain takes on `link` at the least: its round trips, and each request's
    /// bytes at the per-connection rate (requests on it did not overlap).
    pub fn floor(&self, link: &Link) -> Duration {
        let rtt = link.rtt.as_secs_f64();
        let rate = [link.per_connection_bits_per_sec, link.total_bits_per_sec]
            .into_iter()
            .flatten()
            .min();
        let transfer = rate.map_or(0.0, |rate| self.bytes as f64 * 8.0 / rate as f64);
        Duration::from_secs_f64(self.round_trips as f64 * rtt + transfer)
    }
}

/// See [`BindingPath`].
pub fn binding_path(records: &[ExchangeRecord], slack: Duration) -> BindingPath {
    let Some(mut at) = records.iter().max_by_key(|r| (r.end, r.start)) else {
        return BindingPath::default();
    };
    let mut chain = vec![at.clone()];
    while let Some(before) = records
        .iter()
        .filter(|r| r.end <= at.start + slack && r.start < at.start)
        .max_by_key(|r| (r.end, r.start))
    {
        chain.push(before.clone());
        at = before;
    }
    chain.reverse();
    let round_trips = chain.iter().map(|r| if r.seq == 0 { 2 } else { 1 }).sum();
    let bytes = chain.iter().map(|r| r.bytes_up + r.bytes_down).sum();
    BindingPath {
        chain,
        round_trips,
        bytes,
    }
}

/// The running emulator. Dropping it stops accepting and closes every connection.
pub struct NetEm {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

struct Shared {
    upstream: Vec<SocketAddr>,
    link: Link,
    stop: AtomicBool,
    /// The shared buckets, client to server and server to client.
    total: [Option<Mutex<TokenBucket>>; 2],
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    log: Mutex<Vec<ExchangeRecord>>,
}

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

impl NetEm {
    /// An emulator on 127.0.0.1 (a random port) in front of `upstream` (`host:port`).
    pub fn start(upstream: &str, link: Link) -> NetEm {
        let upstream: Vec<SocketAddr> = upstream
            .to_socket_addrs()
            .unwrap_or_else(|e| panic!("netem: upstream {upstream:?}: {e}"))
            .collect();
        assert!(!upstream.is_empty(), "netem: upstream resolves to nothing");
        epoch();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind netem");
        let addr = listener.local_addr().expect("netem address");
        let now = Instant::now();
        let bucket = |rate: Option<u64>| rate.map(|r| Mutex::new(TokenBucket::new(r, now)));
        let shared = Arc::new(Shared {
            upstream,
            total: [
                bucket(link.total_bits_per_sec),
                bucket(link.total_bits_per_sec),
            ],
            link,
            stop: AtomicBool::new(false),
            conns: Mutex::new(HashMap::new()),
            log: Mutex::new(Vec::new()),
        });
        let accepting = shared.clone();
        thread::Builder::new()
            .name("netem-accept".into())
            .spawn(move || accept_loop(listener, accepting))
            .expect("spawn netem accept thread");
        NetEm { addr, shared }
    }

    /// `127.0.0.1:<port>`: use it as the server's address.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn link(&self) -> &Link {
        &self.shared.link
    }

    /// The exchanges recorded so far, by start time.
    pub fn requests(&self) -> Vec<ExchangeRecord> {
        let mut v = lock(&self.shared.log).clone();
        v.sort_by_key(|r| (r.start, r.conn, r.seq));
        v
    }

    /// The exchanges recorded so far, by start time, and an empty log: nothing recorded
    /// in between is lost.
    pub fn take_requests(&self) -> Vec<ExchangeRecord> {
        let mut v = std::mem::take(&mut *lock(&self.shared.log));
        v.sort_by_key(|r| (r.start, r.conn, r.seq));
        v
    }

    pub fn clear_requests(&self) {
        lock(&self.shared.log).clear();
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        lock(&self.shared.conns).len()
    }
}

impl Drop for NetEm {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
        let conns: Vec<Arc<Conn>> = lock(&self.shared.conns).values().cloned().collect();
        for conn in conns {
            conn.abort();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        let accepted = Instant::now();
        let Ok(upstream) = TcpStream::connect(&shared.upstream[..]) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let shared = shared.clone();
        let _ = thread::Builder::new()
            .name("netem-conn".into())
            .spawn(move || {
                let _ = run_connection(client, upstream, accepted, shared);
            });
    }
}

/// Client to server, server to client.
const UP: usize = 0;
const DOWN: usize = 1;

struct Conn {
    id: u64,
    client: TcpStream,
    upstream: TcpStream,
    aborted: AtomicBool,
    queues: [Queue; 2],
    buckets: [Option<Mutex<TokenBucket>>; 2],
    log: Mutex<ConnLog>,
}

impl Conn {
    /// Closes both sides at once and drops whatever is queued.
    fn abort(&self) {
        if self.aborted.swap(true, Ordering::SeqCst) {
            return;
        }
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.upstream.shutdown(Shutdown::Both);
        for q in &self.queues {
            q.close();
        }
    }
}

fn run_connection(
    client: TcpStream,
    upstream: TcpStream,
    accepted: Instant,
    shared: Arc<Shared>,
) -> io::Result<()> {
    client.set_nodelay(true)?;
    upstream.set_nodelay(true)?;
    let id = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
    let link = shared.link;
    let limit = link.buffer_limit();
    let bucket = |rate: Option<u64>| rate.map(|r| Mutex::new(TokenBucket::new(r, accepted)));
    let conn = Arc::new(Conn {
        id,
        client: client.try_clone()?,
        upstream: upstream.try_clone()?,
        aborted: AtomicBool::new(false),
        queues: [Queue::new(limit), Queue::new(limit)],
        buckets: [
            bucket(link.per_connection_bits_per_sec),
            bucket(link.per_connection_bits_per_sec),
        ],
        log: Mutex::new(ConnLog::new()),
    });
    lock(&shared.conns).insert(id, conn.clone());
    // Dropped while the NetEm was being dropped: close this one too.
    if shared.stop.load(Ordering::SeqCst) {
        conn.abort();
    }
    let seed = id ^ (accepted.elapsed().as_nanos() as u64) ^ 0x9e37_79b9_7f4a_7c15;
    let spawn =
        |name: &str, f: Box<dyn FnOnce() + Send>| thread::Builder::new().name(name.into()).spawn(f);
    let threads = [
        {
            let (conn, shared, src) = (conn.clone(), shared.clone(), client.try_clone()?);
            spawn(
                "netem-up-read",
                Box::new(move || {
                    read_side(&conn, &shared, UP, src, accepted + link.rtt, seed);
                }),
            )?
        },
        {
            let (conn, shared, dst) = (conn.clone(), shared.clone(), upstream.try_clone()?);
            spawn(
                "netem-up-write",
                Box::new(move || write_side(&conn, &shared, UP, dst)),
            )?
        },
        {
            let (conn, shared, dst) = (conn.clone(), shared.clone(), client.try_clone()?);
            spawn(
                "netem-down-write",
                Box::new(move || write_side(&conn, &shared, DOWN, dst)),
            )?
        },
    ];
    read_side(
        &conn,
        &shared,
        DOWN,
        upstream,
        accepted,
        seed.rotate_left(17),
    );
    for t in threads {
        let _ = t.join();
    }
    let leftovers = lock(&conn.log).close(conn.id, since_epoch(Instant::now()));
    lock(&shared.log).extend(leftovers);
    lock(&shared.conns).remove(&id);
    Ok(())
}

/// Reads chunks from `src`, paces them through the buckets, stamps them and queues them
/// for the writer; at the end queues the FIN. `not_before` is the earliest time anything
/// may start on its way (accept + RTT for the client's side: the handshake).
fn read_side(
    conn: &Conn,
    shared: &Shared,
    dir: usize,
    mut src: TcpStream,
    not_before: Instant,
    seed: u64,
) {
    let queue = &conn.queues[dir];
    let link = &shared.link;
    let one_way = link.rtt / 2;
    let mut rng = XorShift::new(seed);
    let mut buf = vec![0u8; CHUNK];
    let paced = conn.buckets[dir].is_some() || shared.total[dir].is_some();
    loop {
        let Some(room) = queue.wait_for_room() else {
            return;
        };
        let backlogged = paced && has_backlog(&src);
        let n = match src.read(&mut buf[..room.min(CHUNK)]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => {
                conn.abort();
                return;
            }
        };
        if dir == UP {
            let records = lock(&conn.log).on_request_bytes(conn.id, &buf[..n], Instant::now());
            push_records(shared, records);
        }
        let bits = n as u64 * 8;
        for bucket in [conn.buckets[dir].as_ref(), shared.total[dir].as_ref()]
            .into_iter()
            .flatten()
        {
            let wait = lock(bucket).reserve(bits, Instant::now(), backlogged);
            if !wait.is_zero() {
                thread::sleep(wait);
            }
        }
        let jitter = link.jitter.mul_f64(rng.unit());
        let release = Instant::now().max(not_before) + one_way + jitter;
        if !queue.push(Payload::Data(buf[..n].to_vec()), release) {
            return;
        }
    }
    let release = Instant::now().max(not_before) + one_way;
    queue.push(Payload::Fin, release);
}

/// Writes each chunk once its release time has come; at the FIN, half-closes `dst`.
fn write_side(conn: &Conn, shared: &Shared, dir: usize, mut dst: TcpStream) {
    let queue = &conn.queues[dir];
    while let Some(payload) = queue.pop_due() {
        match payload {
            Payload::Data(bytes) => {
                if dir == DOWN {
                    // Recorded before the write: the last byte is released now.
                    let records =
                        lock(&conn.log).on_response_bytes(conn.id, &bytes, Instant::now());
                    push_records(shared, records);
                }
                if dst.write_all(&bytes).is_err() {
                    conn.abort();
                    return;
                }
            }
            Payload::Fin => {
                if dir == DOWN {
                    let records = lock(&conn.log).on_response_eof(conn.id, Instant::now());
                    push_records(shared, records);
                }
                let _ = dst.shutdown(Shutdown::Write);
                return;
            }
        }
    }
}

fn push_records(shared: &Shared, records: Vec<ExchangeRecord>) {
    if !records.is_empty() {
        lock(&shared.log).extend(records);
    }
}

enum Payload {
    Data(Vec<u8>),
    Fin,
}

struct Item {
    release: Instant,
    payload: Payload,
}

/// One direction's chunks in flight, in order, at most `limit` bytes of them.
struct Queue {
    state: Mutex<QueueState>,
    cond: Condvar,
    limit: usize,
}

struct QueueState {
    items: VecDeque<Item>,
    bytes: usize,
    closed: bool,
    last_release: Option<Instant>,
}

impl Queue {
    fn new(limit: usize) -> Queue {
        Queue {
            state: Mutex::new(QueueState {
                items: VecDeque::new(),
                bytes: 0,
                closed: false,
                last_release: None,
            }),
            cond: Condvar::new(),
            limit: limit.max(CHUNK),
        }
    }

    /// Waits until there is room for a chunk; the room, or None once closed.
    fn wait_for_room(&self) -> Option<usize> {
        let mut s = lock(&self.state);
        loop {
            if s.closed {
                return None;
            }
            if s.bytes + CHUNK <= self.limit {
                return Some(self.limit - s.bytes);
            }
            s = self.cond.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Queues `payload` for `release` or later: never before anything queued earlier.
    /// False once closed.
    fn push(&self, payload: Payload, release: Instant) -> bool {
        let mut s = lock(&self.state);
        if s.closed {
            return false;
        }
        let release = s.last_release.map_or(release, |last| last.max(release));
        s.last_release = Some(release);
        if let Payload::Data(d) = &payload {
            s.bytes += d.len();
        }
        s.items.push_back(Item { release, payload });
        self.cond.notify_all();
        true
    }

    /// The next chunk, once its release time has come; None once closed.
    fn pop_due(&self) -> Option<Payload> {
        let mut s = lock(&self.state);
        loop {
            if s.closed {
                return None;
            }
            let now = Instant::now();
            match s.items.front().map(|i| i.release) {
                Some(release) if release <= now => {
                    let item = s.items.pop_front().expect("front");
                    if let Payload::Data(d) = &item.payload {
                        s.bytes -= d.len();
                    }
                    self.cond.notify_all();
                    return Some(item.payload);
                }
                Some(release) => {
                    s = self
                        .cond
                        .wait_timeout(s, release - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
                None => s = self.cond.wait(s).unwrap_or_else(|p| p.into_inner()),
            }
        }
    }

    fn close(&self) {
        let mut s = lock(&self.state);
        s.closed = true;
        s.items.clear();
        s.bytes = 0;
        self.cond.notify_all();
    }
}

/// How far a backlogged sender may catch up on time the link was free only because the
/// proxy's thread was not running.
const MAX_CATCH_UP: Duration = Duration::from_millis(50);

/// A token bucket in bits, kept as the time its link is next free: a reservation moves
/// that time on by the bits' transmission time, and the caller waits until then. Callers
/// are served in the order they reserve. A link left idle saves up one burst (a chunk's
/// time); a caller whose bytes were already waiting when it got to them (`backlogged`)
/// was not idle but late (a thread scheduled late on a loaded machine) and may catch up
/// on up to [`MAX_CATCH_UP`], so that the proxy's own lateness does not lower the rate.
struct TokenBucket {
    secs_per_bit: f64,
    burst: Duration,
    free: Instant,
}

impl TokenBucket {
    /// A full bucket with a burst of one chunk.
    fn new(bits_per_sec: u64, now: Instant) -> TokenBucket {
        let secs_per_bit = 1.0 / bits_per_sec.max(1) as f64;
        let burst = Duration::from_secs_f64((CHUNK * 8) as f64 * secs_per_bit);
        TokenBucket {
            secs_per_bit,
            burst,
            free: now.checked_sub(burst).unwrap_or(now),
        }
    }

    /// Takes `bits`; how long to wait before sending them.
    fn reserve(&mut self, bits: u64, now: Instant, backlogged: bool) -> Duration {
        let saved = if backlogged {
            MAX_CATCH_UP.max(self.burst)
        } else {
            self.burst
        };
        if let Some(earliest) = now.checked_sub(saved) {
            self.free = self.free.max(earliest);
        }
        self.free += Duration::from_secs_f64(bits as f64 * self.secs_per_bit);
        self.free.saturating_duration_since(now)
    }
}

/// Whether bytes are waiting to be read on `s`.
fn has_backlog(s: &TcpStream) -> bool {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD stores one int at the pointer, which points at `n`.
    unsafe { libc::ioctl(s.as_raw_fd(), libc::FIONREAD, &mut n) == 0 && n > 0 }
}

/// xorshift64*: jitter needs no more.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> XorShift {
        XorShift(seed | 1)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A request on a connection, from its first byte to its answer's last.
struct Pending {
    seq: u32,
    method: String,
    path: String,
    start: Instant,
    bytes_up: u64,
    request_done: bool,
    status: u16,
    bytes_down: u64,
    end: Option<Instant>,
}

impl Pending {
    fn record(self, conn: u64, closed: Duration) -> ExchangeRecord {
        ExchangeRecord {
            conn,
            seq: self.seq,
            method: self.method,
            path: self.path,
            status: if self.end.is_some() { self.status } else { 0 },
            start: since_epoch(self.start),
            end: self.end.map_or(closed, since_epoch),
            bytes_up: self.bytes_up,
            bytes_down: self.bytes_down,
        }
    }
}

/// One connection's exchanges: the framing of each direction and the requests not yet
/// both sent and answered.
struct ConnLog {
    enabled: bool,
    up: Framer,
    down: Framer,
    pending: VecDeque<Pending>,
    next_seq: u32,
}

impl ConnLog {
    fn new() -> ConnLog {
        ConnLog {
            enabled: true,
            up: Framer::new(Role::Request),
            down: Framer::new(Role::Response),
            pending: VecDeque::new(),
            next_seq: 0,
        }
    }

    fn disable(&mut self) {
        self.enabled = false;
        self.pending.clear();
    }

    /// Bytes from the client, as they reach the proxy.
    fn on_request_bytes(&mut self, conn: u64, data: &[u8], at: Instant) -> Vec<ExchangeRecord> {
        if !self.enabled {
            return Vec::new();
        }
        for event in self.up.feed(data, at) {
            match event {
                Event::Head {
                    method,
                    path,
                    started,
                    ..
                } => {
                    self.down.expect_answer(method == "HEAD");
                    self.pending.push_back(Pending {
                        seq: self.next_seq,
                        method,
                        path,
                        start: started,
                        bytes_up: 0,
                        request_done: false,
                        status: 0,
                        bytes_down: 0,
                        end: None,
                    });
                    self.next_seq += 1;
                }
                Event::End { bytes, .. } => {
                    if let Some(p) = self.pending.back_mut() {
                        p.bytes_up = bytes;
                        p.request_done = true;
                    }
                }
                Event::Interim { .. } => {}
                Event::Broken => {
                    self.disable();
                    return Vec::new();
                }
            }
        }
        self.finished(conn)
    }

    /// Bytes from the server, as they are released to the client.
    fn on_response_bytes(&mut self, conn: u64, data: &[u8], at: Instant) -> Vec<ExchangeRecord> {
        if !self.enabled {
            return Vec::new();
        }
        let events = self.down.feed(data, at);
        self.on_response_events(conn, events)
    }

    fn on_response_eof(&mut self, conn: u64, at: Instant) -> Vec<ExchangeRecord> {
        if !self.enabled {
            return Vec::new();
        }
        let events = self.down.finish(at);
        self.on_response_events(conn, events)
    }

    fn on_response_events(&mut self, conn: u64, events: Vec<Event>) -> Vec<ExchangeRecord> {
        for event in events {
            let Some(p) = self.pending.iter_mut().find(|p| p.end.is_none()) else {
                // An answer to no request: not a framing we follow.
                self.disable();
                return Vec::new();
            };
            match event {
                Event::Head { status, .. } => p.status = status,
                Event::Interim { bytes } => p.bytes_down += bytes,
                Event::End { bytes, at } => {
                    p.bytes_down += bytes;
                    p.end = Some(at);
                }
                Event::Broken => {
                    self.disable();
                    return Vec::new();
                }
            }
        }
        self.finished(conn)
    }

    /// Requests sent and answered, from the front.
    fn finished(&mut self, conn: u64) -> Vec<ExchangeRecord> {
        let mut out = Vec::new();
        while self
            .pending
            .front()
            .is_some_and(|p| p.request_done && p.end.is_some())
        {
            let p = self.pending.pop_front().expect("front");
            out.push(p.record(conn, Duration::ZERO));
        }
        out
    }

    /// What is left when the connection closes at `closed`.
    fn close(&mut self, conn: u64, closed: Duration) -> Vec<ExchangeRecord> {
        if !self.enabled {
            return Vec::new();
        }
        // An answer cut off by the close still carried what had passed of it.
        let partial = self.down.bytes;
        if let Some(p) = self.pending.iter_mut().find(|p| p.end.is_none()) {
            p.bytes_down += partial;
        }
        self.pending
            .drain(..)
            .map(|p| p.record(conn, closed))
            .collect()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Request,
    Response,
}

/// What the framing of one direction saw.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Event {
    /// A head (of a final answer, for responses): the request's method and target, or
    /// the answer's status; `started` is when its first byte came.
    Head {
        method: String,
        path: String,
        status: u16,
        started: Instant,
    },
    /// A 1xx answer's bytes: the final answer follows.
    Interim { bytes: u64 },
    /// The message's last byte came at `at`; its bytes, head included.
    End { bytes: u64, at: Instant },
    /// Not HTTP/1.1 framing (TLS, HTTP/2, an upgrade): nothing further is followed.
    Broken,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Head,
    Body(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkEnd,
    Trailers,
    UntilClose,
    Broken,
}

/// Follows the HTTP/1.1 messages of one direction, fed its bytes as they go.
struct Framer {
    role: Role,
    state: State,
    head: Vec<u8>,
    line: Vec<u8>,
    bytes: u64,
    started: Option<Instant>,
    /// For responses: whether each request not yet answered is a HEAD.
    expected: VecDeque<bool>,
}

impl Framer {
    fn new(role: Role) -> Framer {
        Framer {
            role,
            state: State::Head,
            head: Vec::new(),
            line: Vec::new(),
            bytes: 0,
            started: None,
            expected: VecDeque::new(),
        }
    }

    /// For responses: a request was sent (a HEAD, or not), whose answer comes in turn.
    fn expect_answer(&mut self, head: bool) {
        self.expected.push_back(head);
    }

    fn feed(&mut self, data: &[u8], at: Instant) -> Vec<Event> {
        let mut events = Vec::new();
        let mut i = 0;
        while i < data.len() {
            match self.state {
                State::Broken => break,
                State::Head => {
                    let b = data[i];
                    i += 1;
                    if self.head.is_empty() {
                        // Blank lines between messages are tolerated.
                        if b == b'\r' || b == b'\n' {
                            continue;
                        }
                        let plausible = match self.role {
                            Role::Request => b.is_ascii_uppercase(),
                            Role::Response => b == b'H',
                        };
                        if !plausible {
                            self.state = State::Broken;
                            events.push(Event::Broken);
                            break;
                        }
                        self.started = Some(at);
                        self.bytes = 0;
                    }
                    self.head.push(b);
                    self.bytes += 1;
                    if self.head.ends_with(b"\r\n\r\n") || self.head.ends_with(b"\n\n") {
                        self.on_head(at, &mut events);
                    } else if self.head.len() > MAX_HEAD
                        || (self.head.len() == MAX_LINE + 1 && !self.head.contains(&b'\n'))
                    {
                        self.state = State::Broken;
                        events.push(Event::Broken);
                    }
                }
                State::Body(left) | State::ChunkData(left) => {
                    let take = left.min((data.len() - i) as u64);
                    i += take as usize;
                    self.bytes += take;
                    let left = left - take;
                    self.state = match (self.state, left) {
                        (State::Body(_), 0) => {
                            self.end(at, &mut events);
                            State::Head
                        }
                        (State::Body(_), _) => State::Body(left),
                        (_, 0) => State::ChunkEnd,
                        _ => State::ChunkData(left),
                    };
                }
                State::ChunkSize | State::ChunkEnd | State::Trailers => {
                    let b = data[i];
                    i += 1;
                    self.bytes += 1;
                    if b != b'\n' {
                        self.line.push(b);
                        if self.line.len() > MAX_LINE {
                            self.state = State::Broken;
                            events.push(Event::Broken);
                        }
                        continue;
                    }
                    let line = std::mem::take(&mut self.line);
                    let line = String::from_utf8_lossy(&line);
                    let line = line.trim_end_matches('\r');
                    match self.state {
                        State::ChunkSize => {
                            let size = line.split(';').next().unwrap_or("").trim();
                            match u64::from_str_radix(size, 16) {
                                Ok(0) => self.state = State::Trailers,
                                Ok(n) => self.state = State::ChunkData(n),
                                Err(_) => {
                                    self.state = State::Broken;
                                    events.push(Event::Broken);
                                }
                            }
                        }
                        State::ChunkEnd => self.state = State::ChunkSize,
                        _ => {
                            if line.is_empty() {
                                self.end(at, &mut events);
                                self.state = State::Head;
                            }
                        }
                    }
                }
                State::UntilClose => {
                    self.bytes += (data.len() - i) as u64;
                    i = data.len();
                }
            }
        }
        events
    }

    /// The end of the stream: ends a body that runs to the close.
    fn finish(&mut self, at: Instant) -> Vec<Event> {
        let mut events = Vec::new();
        if self.state == State::UntilClose {
            self.end(at, &mut events);
            self.state = State::Head;
        }
        events
    }

    fn end(&mut self, at: Instant, events: &mut Vec<Event>) {
        events.push(Event::End {
            bytes: self.bytes,
            at,
        });
        self.bytes = 0;
    }

    fn on_head(&mut self, at: Instant, events: &mut Vec<Event>) {
        let head = std::mem::take(&mut self.head);
        let text = String::from_utf8_lossy(&head);
        let mut lines = text.lines();
        let first = lines.next().unwrap_or("").trim_end();
        let mut length: Option<u64> = None;
        let mut chunked = false;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().ok().or(length);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value
                    .rsplit(',')
                    .next()
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("chunked"));
            }
        }
        let started = self.started.take().unwrap_or(at);
        let body = if chunked {
            State::ChunkSize
        } else {
            match length {
                Some(0) => State::Head,
                Some(n) => State::Body(n),
                None => State::Head,
            }
        };
        let mut parts = first.split(' ').filter(|p| !p.is_empty());
        match self.role {
            Role::Request => {
                let (Some(method), Some(path), Some(version)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    return self.broken(events);
                };
                let token = method
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b == b'-' || b == b'_');
                if !token || !version.starts_with("HTTP/1.") || method == "CONNECT" {
                    return self.broken(events);
                }
                events.push(Event::Head {
                    method: method.to_string(),
                    path: path.to_string(),
                    status: 0,
                    started,
                });
                self.state = body;
            }
            Role::Response => {
                let version = parts.next().unwrap_or("");
                let status: Option<u16> = parts
                    .next()
                    .filter(|s| s.len() == 3)
                    .and_then(|s| s.parse().ok());
                let Some(status) = status.filter(|_| version.starts_with("HTTP/1.")) else {
                    return self.broken(events);
                };
                if (100..200).contains(&status) {
                    events.push(Event::Interim { bytes: self.bytes });
                    self.bytes = 0;
                    if status == 101 {
                        // Switching protocols: what follows is not ours to frame.
                        return self.broken(events);
                    }
                    self.state = State::Head;
                    return;
                }
                let Some(answers_head) = self.expected.pop_front() else {
                    return self.broken(events);
                };
                events.push(Event::Head {
                    method: String::new(),
                    path: String::new(),
                    status,
                    started,
                });
                self.state = if answers_head || status == 204 || status == 304 {
                    State::Head
                } else if chunked {
                    State::ChunkSize
                } else {
                    match length {
                        Some(0) => State::Head,
                        Some(n) => State::Body(n),
                        None => State::UntilClose,
                    }
                };
            }
        }
        if self.state == State::Head {
            self.end(at, events);
        }
    }

    fn broken(&mut self, events: &mut Vec<Event>) {
        self.state = State::Broken;
        events.push(Event::Broken);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn bucket_lets_one_chunk_through_then_paces_at_its_rate() {
        let t0 = Instant::now();
        // 1 Mbit/s: a 16 KiB chunk is 131 072 bits, 131.072 ms.
        let mut b = TokenBucket::new(1_000_000, t0);
        assert_eq!(b.reserve(131_072, t0, false), Duration::ZERO, "the burst");
        let w = b.reserve(131_072, t0, false);
        assert!((w.as_secs_f64() - 0.131_072).abs() < 1e-6, "{w:?}");
        // A third caller at the same instant waits behind the second.
        let w = b.reserve(131_072, t0, false);
        assert!((w.as_secs_f64() - 0.262_144).abs() < 1e-6, "{w:?}");
        // Once the debt is paid and a burst has refilled, no wait again.
        let later = t0 + ms(262) + ms(200);
        assert_eq!(b.reserve(131_072, later, false), Duration::ZERO);
        // Never more than one burst saved up, however long idle.
        let idle = later + Duration::from_secs(60);
        assert_eq!(b.reserve(131_072, idle, false), Duration::ZERO);
        assert!(b.reserve(8, idle, false) > Duration::ZERO);
    }

    /// The time `chunks` chunks take at 100 Mbit/s when every sleep oversleeps by
    /// `late`.
    fn paced(chunks: u64, late: Duration, backlogged: bool) -> f64 {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(100_000_000, t0);
        let mut now = t0;
        for _ in 0..chunks {
            let wait = b.reserve(131_072, now, backlogged);
            if !wait.is_zero() {
                now += wait + late;
            }
        }
        (now - t0).as_secs_f64()
    }

    #[test]
    fn bucket_long_run_rate_is_exact_even_when_callers_oversleep() {
        let chunks = 1000u64;
        let expected = chunks as f64 * 131_072.0 / 1e8;
        // Oversleeping less than a burst (1.3 ms at 100 Mbit/s) costs nothing.
        let took = paced(chunks, Duration::from_micros(50), false);
        assert!(
            (took - expected).abs() / expected < 0.01,
            "{took} s, not {expected}"
        );
        // Oversleeping more is made up when the bytes were waiting...
        let took = paced(chunks, ms(4), true);
        assert!(
            (took - expected).abs() / expected < 0.01,
            "{took} s, not {expected}"
        );
        // ...and not when the link was idle: a late sender then loses the time.
        let idle = paced(chunks, ms(4), false);
        assert!(idle > expected * 2.0, "{idle} s");
        // What a backlog may catch up on is bounded.
        let t0 = Instant::now();
        let mut b = TokenBucket::new(100_000_000, t0);
        let later = t0 + Duration::from_secs(10);
        let free: u32 = (0..100)
            .take_while(|_| b.reserve(131_072, later, true).is_zero())
            .count() as u32;
        let saved = Duration::from_secs_f64(131_072.0 / 1e8) * free;
        assert!(
            saved + ms(2) >= MAX_CATCH_UP && saved <= MAX_CATCH_UP,
            "{saved:?}"
        );
    }

    fn request_feed(f: &mut Framer, pieces: &[&[u8]], t0: Instant) -> Vec<Event> {
        let mut out = Vec::new();
        for (k, p) in pieces.iter().enumerate() {
            out.extend(f.feed(p, t0 + ms(k as u64)));
        }
        out
    }

    fn heads_and_ends(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                Event::Head {
                    method,
                    path,
                    status,
                    ..
                } if *status == 0 => format!("head {method} {path}"),
                Event::Head { status, .. } => format!("head {status}"),
                Event::Interim { bytes } => format!("interim {bytes}"),
                Event::End { bytes, .. } => format!("end {bytes}"),
                Event::Broken => "broken".to_string(),
            })
            .collect()
    }

    #[test]
    fn framer_follows_content_length_bodies_split_anywhere() {
        let t0 = Instant::now();
        let msg = b"PUT /v2/a/blobs/uploads/x?digest=sha256:ab HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789";
        for split in 1..msg.len() {
            let mut f = Framer::new(Role::Request);
            let ev = request_feed(&mut f, &[&msg[..split], &msg[split..]], t0);
            assert_eq!(
                heads_and_ends(&ev),
                vec![
                    "head PUT /v2/a/blobs/uploads/x?digest=sha256:ab".to_string(),
                    format!("end {}", msg.len())
                ],
                "split at {split}"
            );
            let Event::Head { started, .. } = &ev[0] else {
                panic!()
            };
            assert_eq!(*started, t0, "the first byte's time");
        }
    }

    #[test]
    fn framer_follows_chunked_bodies_with_extensions_and_trailers() {
        let t0 = Instant::now();
        let body = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: y\r\n\r\n";
        let mut f = Framer::new(Role::Response);
        f.expect_answer(false);
        // One byte at a time: every state boundary crossed.
        let mut ev = Vec::new();
        for (k, b) in body.iter().enumerate() {
            ev.extend(f.feed(std::slice::from_ref(b), t0 + ms(k as u64)));
        }
        assert_eq!(
            heads_and_ends(&ev),
            vec!["head 200".to_string(), format!("end {}", body.len())]
        );
        let Event::End { at, .. } = ev[1] else {
            panic!()
        };
        assert_eq!(at, t0 + ms(body.len() as u64 - 1), "the last byte's time");
        // A chunked request, then the next one on the connection.
        let mut f = Framer::new(Role::Request);
        let two = b"PATCH /u HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /v2/ HTTP/1.1\r\n\r\n";
        assert_eq!(
            heads_and_ends(&f.feed(two, t0)),
            vec!["head PATCH /u", "end 62", "head GET /v2/", "end 21"]
        );
    }

    #[test]
    fn framer_knows_answers_without_bodies() {
        let t0 = Instant::now();
        let mut f = Framer::new(Role::Response);
        // HEAD: Content-Length is the resource's, no body follows.
        f.expect_answer(true);
        // 204 and 304 have none either; a 100 Continue precedes the final answer.
        f.expect_answer(false);
        f.expect_answer(false);
        f.expect_answer(false);
        f.expect_answer(false);
        let stream = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n\
HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n\
HTTP/1.1 304 Not Modified\r\n\r\n\
HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n\
HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(
            heads_and_ends(&f.feed(stream, t0)),
            vec![
                "head 200",
                "end 41",
                "head 204",
                "end 46",
                "head 304",
                "end 29",
                "interim 25",
                "head 201",
                "end 43",
                "head 404",
                "end 47"
            ]
        );
        // An answer to no request is not a framing we follow.
        assert_eq!(
            heads_and_ends(&f.feed(b"HTTP/1.1 200 OK\r\n\r\n", t0)),
            vec!["broken"]
        );
    }

    #[test]
    fn framer_ends_a_body_without_length_at_the_close() {
        let t0 = Instant::now();
        let mut f = Framer::new(Role::Response);
        f.expect_answer(false);
        let ev = f.feed(b"HTTP/1.0 200 OK\r\n\r\nsome bytes", t0);
        assert_eq!(heads_and_ends(&ev), vec!["head 200"]);
        let ev = f.finish(t0 + ms(5));
        assert_eq!(
            ev,
            vec![Event::End {
                bytes: 29,
                at: t0 + ms(5)
            }]
        );
    }

    #[test]
    fn framer_gives_up_on_tls_and_http2() {
        let t0 = Instant::now();
        let mut f = Framer::new(Role::Request);
        assert_eq!(
            f.feed(&[0x16, 0x03, 0x01, 0x02, 0x00], t0),
            vec![Event::Broken]
        );
        assert!(
            f.feed(b"GET / HTTP/1.1\r\n\r\n", t0).is_empty(),
            "and stays broken"
        );
        let mut f = Framer::new(Role::Request);
        assert_eq!(
            heads_and_ends(&f.feed(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", t0)),
            vec!["broken"]
        );
        let mut f = Framer::new(Role::Response);
        assert_eq!(f.feed(b"\x16\x03\x03", t0), vec![Event::Broken]);
    }

    fn record(conn: u64, seq: u32, start: u64, end: u64) -> ExchangeRecord {
        ExchangeRecord {
            conn,
            seq,
            method: "GET".into(),
            path: format!("/{conn}/{seq}"),
            status: 200,
            start: ms(start),
            end: ms(end),
            bytes_up: 0,
            bytes_down: 0,
        }
    }

    #[test]
    fn conn_log_records_pipelined_keep_alive_requests_in_order() {
        let t0 = Instant::now();
        let mut log = ConnLog::new();
        let reqs = b"GET /v2/ HTTP/1.1\r\nHost: h\r\n\r\nHEAD /v2/a/blobs/sha256:1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /v2/a/blobs/uploads/ HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
        assert!(log.on_request_bytes(7, reqs, t0).is_empty());
        let answers = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n";
        let (first, rest) = answers.split_at(30);
        assert!(log.on_response_bytes(7, first, t0 + ms(10)).is_empty());
        let recs = log.on_response_bytes(7, rest, t0 + ms(20));
        let got: Vec<_> = recs
            .iter()
            .map(|r| (r.seq, r.method.as_str(), r.status, r.bytes_up, r.bytes_down))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, "GET", 200, 30, 40),
                (1, "HEAD", 200, 47, 40),
                (2, "POST", 202, 60, 44)
            ]
        );
        assert!(recs.iter().all(|r| r.start == since_epoch(t0)));
        assert!(recs.iter().all(|r| r.end == since_epoch(t0 + ms(20))));
        // A request left without an answer is recorded at the close, status 0.
        log.on_request_bytes(7, b"GET /x HTTP/1.1\r\n\r\n", t0 + ms(30));
        let left = log.close(7, ms(99));
        assert_eq!(left.len(), 1);
        assert_eq!((left[0].seq, left[0].status, left[0].end), (3, 0, ms(99)));
    }

    #[test]
    fn conn_log_counts_what_passed_of_an_answer_cut_off_by_the_close() {
        let t0 = Instant::now();
        let mut log = ConnLog::new();
        log.on_request_bytes(3, b"GET /blob HTTP/1.1\r\n\r\n", t0);
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
        assert!(log.on_response_bytes(3, head, t0).is_empty());
        assert!(log.on_response_bytes(3, &[7u8; 300], t0).is_empty());
        let left = log.close(3, ms(5));
        assert_eq!(left.len(), 1);
        assert_eq!(
            (left[0].status, left[0].bytes_down),
            (0, head.len() as u64 + 300)
        );
    }

    #[test]
    fn conn_log_records_nothing_for_tls() {
        let t0 = Instant::now();
        let mut log = ConnLog::new();
        assert!(log
            .on_request_bytes(1, b"\x16\x03\x01\x00\xa5\x01", t0)
            .is_empty());
        assert!(log
            .on_response_bytes(1, b"HTTP/1.1 200 OK\r\n\r\n", t0)
            .is_empty());
        assert!(log.close(1, ms(1)).is_empty());
    }

    #[test]
    fn critical_path_follows_the_chain_that_waited() {
        // ping (new connection), token (another new connection), manifest on the first
        // connection, then config and two layers in parallel on three connections.
        let records = vec![
            record(1, 0, 0, 200),
            record(2, 0, 201, 400),
            record(1, 1, 400, 500),
            record(1, 2, 501, 600),
            record(3, 0, 501, 2000),
            record(4, 0, 502, 1500),
            // Starts 1 ms before the manifest ended: inside the slack.
            record(1, 3, 599, 700),
        ];
        let cp = critical_path(&records, ms(2));
        let chain: Vec<_> = cp.chain.iter().map(|r| (r.conn, r.seq)).collect();
        // Seven round trips either way (through a layer's new connection, or the config
        // and the request after it); the chain with more requests wins.
        assert_eq!(chain, vec![(1, 0), (2, 0), (1, 1), (1, 2), (1, 3)]);
        assert_eq!((cp.requests, cp.setups, cp.round_trips), (5, 2, 7));
        // Without slack the request that started early cannot follow the config; a
        // layer's new connection makes the longest chain.
        let cp = critical_path(&records, Duration::ZERO);
        assert_eq!((cp.requests, cp.setups, cp.round_trips), (4, 3, 7));
        assert!(matches!(cp.chain[3].conn, 3 | 4));
        // Overlapping requests never chain.
        let cp = critical_path(&[record(1, 1, 0, 100), record(2, 1, 50, 150)], ms(2));
        assert_eq!((cp.requests, cp.setups, cp.round_trips), (1, 0, 1));
        assert_eq!(critical_path(&[], ms(2)), CriticalPath::default());
        // More requests win among chains of the same round trips.
        let cp = critical_path(
            &[
                record(1, 0, 0, 100),
                record(2, 1, 0, 50),
                record(2, 2, 60, 100),
            ],
            ms(2),
        );
        assert_eq!((cp.requests, cp.round_trips), (2, 2));
    }

    #[test]
    fn binding_path_follows_time_to_the_last_end() {
        // ping, token, manifest; then a large layer on a new connection beside four small
        // ones, one after another, on the first connection: the large one decides.
        let mut large = record(3, 0, 501, 2000);
        large.bytes_down = 1_000_000;
        let records = vec![
            record(1, 0, 0, 200),
            record(2, 0, 201, 400),
            record(1, 1, 400, 500),
            record(1, 2, 501, 600),
            record(1, 3, 601, 700),
            record(1, 4, 701, 800),
            record(1, 5, 801, 900),
            large,
        ];
        let cp = critical_path(&records, ms(2));
        assert_eq!(cp.round_trips, 9);
        let bp = binding_path(&records, ms(2));
        let chain: Vec<_> = bp.chain.iter().map(|r| (r.conn, r.seq)).collect();
        assert_eq!(chain, vec![(1, 0), (2, 0), (1, 1), (3, 0)]);
        assert_eq!(bp.round_trips, 7);
        assert_eq!(bp.bytes, 1_000_000);
        // 7 × 100 ms, and 8 Mbit at the smaller of 80 Mbit/s per connection and 100 in all.
        let link = Link::rtt(ms(100)).per_connection_mbit(80).total_mbit(100);
        assert_eq!(bp.floor(&link), ms(800));
        assert_eq!(binding_path(&[], ms(2)), BindingPath::default());
    }

    #[test]
    fn queue_releases_in_order_whatever_the_jitter() {
        let q = Queue::new(1 << 20);
        let t0 = Instant::now();
        let mut rng = XorShift::new(42);
        for k in 0..200u32 {
            let jitter = ms(20).mul_f64(rng.unit());
            let arrival = t0 + Duration::from_micros(100 * k as u64);
            assert!(q.push(
                Payload::Data(k.to_le_bytes().to_vec()),
                arrival + ms(1) + jitter
            ));
        }
        let s = lock(&q.state);
        let releases: Vec<Instant> = s.items.iter().map(|i| i.release).collect();
        assert!(
            releases.windows(2).all(|w| w[0] <= w[1]),
            "never earlier than the previous"
        );
        for (k, r) in releases.iter().enumerate() {
            assert!(*r >= t0 + Duration::from_micros(100 * k as u64) + ms(1));
        }
        assert!(*releases.last().unwrap() < t0 + ms(20 + 20 + 2));
    }

    /// A server that echoes each connection's bytes and closes its side after the
    /// client's FIN.
    fn echo_server() -> String {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        thread::spawn(move || {
            for c in l.incoming() {
                let Ok(mut c) = c else { continue };
                thread::spawn(move || {
                    let mut r = c.try_clone().unwrap();
                    let _ = io::copy(&mut r, &mut c);
                    let _ = c.shutdown(Shutdown::Write);
                });
            }
        });
        addr
    }

    #[test]
    fn jittered_bytes_arrive_in_order_and_the_fin_after_them() {
        let netem = NetEm::start(&echo_server(), Link::rtt(ms(2)).jitter(ms(15)));
        let mut c = TcpStream::connect(netem.host()).unwrap();
        c.set_nodelay(true).unwrap();
        let mut reader = c.try_clone().unwrap();
        let got = thread::spawn(move || {
            let mut all = Vec::new();
            reader.read_to_end(&mut all).unwrap();
            all
        });
        let mut sent = Vec::new();
        for k in 0..300u32 {
            let piece = k.to_le_bytes();
            c.write_all(&piece).unwrap();
            sent.extend_from_slice(&piece);
            if k % 10 == 0 {
                thread::sleep(Duration::from_micros(500));
            }
        }
        c.shutdown(Shutdown::Write).unwrap();
        assert_eq!(
            got.join().unwrap(),
            sent,
            "every byte, in order, then the FIN"
        );
        assert!(netem.requests().is_empty(), "not HTTP: nothing recorded");
    }

    #[test]
    fn delay_and_handshake_are_charged_once() {
        let netem = NetEm::start(&echo_server(), Link::rtt(ms(60)));
        let t0 = Instant::now();
        let mut c = TcpStream::connect(netem.host()).unwrap();
        c.set_nodelay(true).unwrap();
        let mut r = io::BufReader::new(c.try_clone().unwrap());
        let mut line = String::new();
        c.write_all(b"one\n").unwrap();
        r.read_line(&mut line).unwrap();
        let first = t0.elapsed();
        // 2 RTT: handshake, then there and back.
        assert!(first >= ms(120) && first < ms(200), "{first:?}");
        let t1 = Instant::now();
        c.write_all(b"two\n").unwrap();
        line.clear();
        r.read_line(&mut line).unwrap();
        let second = t1.elapsed();
        assert!(second >= ms(60) && second < ms(120), "{second:?}");
        // Dropping the emulator closes the connection.
        drop(netem);
        line.clear();
        r.get_mut()
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert!(matches!(r.read_line(&mut line), Ok(0) | Err(_)));
    }

    #[test]
    fn a_full_queue_stops_reading_from_the_sender() {
        // A server that sends 64 MiB as fast as it can, to a client that reads nothing.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let sent = Arc::new(AtomicU64::new(0));
        let counter = sent.clone();
        thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let buf = vec![7u8; 64 * 1024];
            for _ in 0..1024 {
                if c.write_all(&buf).is_err() {
                    return;
                }
                counter.fetch_add(buf.len() as u64, Ordering::SeqCst);
            }
        });
        let link = Link::rtt(ms(10)).per_connection_mbit(1000);
        let limit = link.buffer_limit() as u64;
        assert_eq!(limit, 2_500_000);
        let netem = NetEm::start(&addr, link);
        let c = TcpStream::connect(netem.host()).unwrap();
        thread::sleep(ms(1000));
        // What left the server sits in the proxy (at most its limit) and in the kernel's
        // socket buffers (at most the tcp_wmem and tcp_rmem maxima, a few MiB each): far
        // from the 125 MB a second the rate allows.
        let out = sent.load(Ordering::SeqCst);
        assert!(out < 40 << 20, "the server could send {out} bytes");
        let conns = lock(&netem.shared.conns);
        let conn = conns.values().next().unwrap();
        let held = lock(&conn.queues[DOWN].state).bytes as u64;
        assert!(held <= limit, "{held} held, limit {limit}");
        drop(conns);
        drop(c);
    }
}
