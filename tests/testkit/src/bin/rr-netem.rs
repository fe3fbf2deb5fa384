//! `rr-netem`: the harness's network emulator ([`rr_testkit::netem`]) for shell scripts.
//!
//! ```text
//! rr-netem --upstream HOST:PORT --rtt-ms N [--rate-mbit N] [--total-mbit N]
//!          [--jitter-ms N] --env-file PATH [--log-json PATH]
//! rr-netem critical-path [--slack-ms N] [--rtt-ms N [--rate-mbit N] [--total-mbit N]] LOG.jsonl...
//! ```
//!
//! The first form listens on 127.0.0.1 (a random port) in front of `HOST:PORT`, writes
//! `NETEM_HOST=127.0.0.1:PORT` and `NETEM_PID=PID` to the env file atomically once
//! listening, and runs until SIGTERM, SIGINT or SIGHUP; then it removes the env file.
//! Rates are in Mbit/s (10^6 bits per second) per direction; fractions are allowed.
//!
//! With `--log-json`, the request log is written there on exit, and on SIGUSR1 (the log
//! is then emptied and the emulator goes on): one JSON object per HTTP exchange and line,
//! `{"conn", "seq", "method", "path", "status", "start_us", "end_us", "bytes_up",
//! "bytes_down"}`, times in microseconds since the Unix epoch so that the logs of two
//! emulators (a registry's and its token server's) can be merged. The file is replaced
//! whole (a temporary file renamed): remove it, send SIGUSR1, and wait for it to appear.
//!
//! `critical-path` reads such logs (merged) and prints the longest chain of requests that
//! waited for each other ([`rr_testkit::critical_path`], slack 2 ms by default): a line
//! `requests=N setups=N round_trips=N`, then one line per request of the chain. With
//! `--rtt-ms` (the link the logs were made on) a last line follows, the chain that decided
//! when the last request ended ([`rr_testkit::binding_path`]) and what it takes at the
//! least on that link: `binding: requests=N round_trips=N bytes=N floor_ms=X`.

use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rr_testkit::netem::log::{self, DumpSignal};
use rr_testkit::netem::{binding_path, critical_path, Link, NetEm};

const USAGE: &str = "usage:
  rr-netem --upstream HOST:PORT --rtt-ms N [--rate-mbit N] [--total-mbit N] [--jitter-ms N] --env-file PATH [--log-json PATH]
  rr-netem critical-path [--slack-ms N] [--rtt-ms N [--rate-mbit N] [--total-mbit N]] LOG.jsonl...";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("critical-path") => print_critical_path(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("rr-netem: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// `(--key, value)` pairs.
type Pairs = Vec<(String, String)>;

/// `--key value` and `--key=value` pairs, each key at most once, and bare arguments.
fn parse(args: &[String], keys: &[&str]) -> Result<(Pairs, Vec<String>), String> {
    let mut pairs: Pairs = Vec::new();
    let mut bare = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if !a.starts_with("--") {
            bare.push(a.clone());
            continue;
        }
        let (key, value) = match a.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => {
                let v = it.next().ok_or_else(|| format!("{a} needs a value"))?;
                (a.clone(), v.clone())
            }
        };
        if !keys.contains(&key.as_str()) || pairs.iter().any(|(k, _)| *k == key) {
            return Err(format!("unexpected argument {a:?}\n{USAGE}"));
        }
        pairs.push((key, value));
    }
    Ok((pairs, bare))
}

fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn number(pairs: &[(String, String)], key: &str) -> Result<Option<f64>, String> {
    get(pairs, key)
        .map(|v| match v.parse::<f64>() {
            Ok(n) if n.is_finite() && n >= 0.0 => Ok(n),
            _ => Err(format!("{key}: not a number: {v:?}")),
        })
        .transpose()
}

fn run(args: &[String]) -> Result<(), String> {
    let (pairs, bare) = parse(
        args,
        &[
            "--upstream",
            "--rtt-ms",
            "--rate-mbit",
            "--total-mbit",
            "--jitter-ms",
            "--env-file",
            "--log-json",
        ],
    )?;
    if let Some(a) = bare.first() {
        return Err(format!("unexpected argument {a:?}\n{USAGE}"));
    }
    let upstream = get(&pairs, "--upstream").ok_or("--upstream is needed")?;
    let env_file = PathBuf::from(get(&pairs, "--env-file").ok_or("--env-file is needed")?);
    let log_json = get(&pairs, "--log-json").map(PathBuf::from);
    let link = Link::from_flags(
        number(&pairs, "--rtt-ms")?.ok_or("--rtt-ms is needed")?,
        number(&pairs, "--rate-mbit")?,
        number(&pairs, "--total-mbit")?,
        number(&pairs, "--jitter-ms")?,
    )?;
    std::net::ToSocketAddrs::to_socket_addrs(upstream)
        .map_err(|e| format!("--upstream {upstream:?}: {e}"))?;

    let quit = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(sig, Arc::clone(&quit))
            .map_err(|e| format!("cannot install signal handler: {e}"))?;
    }
    let dump = DumpSignal::install()?;

    let netem = NetEm::start(upstream, link);
    let env = format!(
        "NETEM_HOST={}\nNETEM_PID={}\n",
        netem.host(),
        std::process::id()
    );
    log::write_atomically(&env_file, env.as_bytes())?;
    eprintln!(
        "rr-netem: {} -> {upstream}, {link:?} (pid {})",
        netem.host(),
        std::process::id()
    );
    while !quit.load(Ordering::Relaxed) {
        if dump.due() {
            if let Some(path) = &log_json {
                log::dump(path, &[&netem])?;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let records = netem.take_requests();
    drop(netem);
    let _ = fs::remove_file(&env_file);
    if let Some(path) = &log_json {
        log::write_json_log(path, &records)?;
    }
    Ok(())
}

fn print_critical_path(args: &[String]) -> Result<(), String> {
    let (pairs, files) = parse(
        args,
        &["--slack-ms", "--rtt-ms", "--rate-mbit", "--total-mbit"],
    )?;
    if files.is_empty() {
        return Err(format!("critical-path needs log files\n{USAGE}"));
    }
    let slack = Duration::from_secs_f64(number(&pairs, "--slack-ms")?.unwrap_or(2.0) / 1000.0);
    let records = log::read_json_logs(&files)?;
    let cp = critical_path(&records, slack);
    println!(
        "requests={} setups={} round_trips={}",
        cp.requests, cp.setups, cp.round_trips
    );
    let origin = cp.chain.first().map(|r| r.start).unwrap_or_default();
    for r in &cp.chain {
        println!(
            "{:>9.1} ms {:>9.1} ms  conn {} #{} {} {} {}",
            (r.start - origin).as_secs_f64() * 1e3,
            (r.end - origin).as_secs_f64() * 1e3,
            r.conn,
            r.seq,
            r.method,
            r.path,
            r.status
        );
    }
    if let Some(rtt_ms) = number(&pairs, "--rtt-ms")? {
        let link = Link::from_flags(
            rtt_ms,
            number(&pairs, "--rate-mbit")?,
            number(&pairs, "--total-mbit")?,
            None,
        )?;
        let binding = binding_path(&records, slack);
        println!(
            "binding: requests={} round_trips={} bytes={} floor_ms={:.1}",
            binding.chain.len(),
            binding.round_trips,
            binding.bytes,
            binding.floor(&link).as_secs_f64() * 1e3
        );
    }
    Ok(())
}
