//! The emulators' request logs as JSON lines: what `rr-netem --log-json` and
//! `rr-testkit serve --netem-rtt-ms` write (on SIGUSR1 and at exit) and what
//! `rr-netem critical-path` reads.
//!
//! One JSON object per HTTP exchange and line: `{"conn", "seq", "method", "path", "status",
//! "start_us", "end_us", "bytes_up", "bytes_down"}`, times in microseconds since the Unix
//! epoch ([`super::epoch_unix`] plus the record's time), so that the logs of several
//! emulators, of one process or of several, can be merged on one clock. Connection numbers
//! are unique within a process only.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::{epoch_unix, ExchangeRecord, NetEm};

/// `record` as one line of the log (no newline), its times made absolute.
pub fn json_line(record: &ExchangeRecord) -> String {
    let base = epoch_unix();
    let us = |d: Duration| (base + d).as_micros() as u64;
    let string = |v: &str| serde_json::Value::from(v).to_string();
    format!(
        "{{\"conn\":{},\"seq\":{},\"method\":{},\"path\":{},\"status\":{},\"start_us\":{},\"end_us\":{},\"bytes_up\":{},\"bytes_down\":{}}}",
        record.conn,
        record.seq,
        string(&record.method),
        string(&record.path),
        record.status,
        us(record.start),
        us(record.end),
        record.bytes_up,
        record.bytes_down
    )
}

/// One line of a log back as a record; its times are then durations since the Unix
/// epoch (not since this process's [`super::epoch`]).
pub fn parse_json_line(line: &str) -> Result<ExchangeRecord, String> {
    let v: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let int = |k: &str| v[k].as_u64().ok_or_else(|| format!("no {k}"));
    let text = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    Ok(ExchangeRecord {
        conn: int("conn")?,
        seq: u32::try_from(int("seq")?).map_err(|_| "seq out of range")?,
        method: text("method"),
        path: text("path"),
        status: u16::try_from(int("status")?).map_err(|_| "status out of range")?,
        start: Duration::from_micros(int("start_us")?),
        end: Duration::from_micros(int("end_us")?),
        bytes_up: int("bytes_up")?,
        bytes_down: int("bytes_down")?,
    })
}

/// Writes `records` to `path` as JSON lines, by start time, replacing the file whole
/// ([`write_atomically`]).
pub fn write_json_log(path: &Path, records: &[ExchangeRecord]) -> Result<(), String> {
    let mut sorted: Vec<&ExchangeRecord> = records.iter().collect();
    sorted.sort_by_key(|r| (r.start, r.conn, r.seq));
    let mut text = String::new();
    for r in sorted {
        text.push_str(&json_line(r));
        text.push('\n');
    }
    write_atomically(path, text.as_bytes())
}

/// The records of every file, merged (blank lines skipped), by start time.
pub fn read_json_logs<P: AsRef<Path>>(paths: &[P]) -> Result<Vec<ExchangeRecord>, String> {
    let mut records = Vec::new();
    for path in paths {
        let path = path.as_ref();
        let text = fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))?;
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            records.push(
                parse_json_line(line).map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?,
            );
        }
    }
    records.sort_by_key(|r| (r.start, r.conn, r.seq));
    Ok(records)
}

/// Takes the records of every emulator (emptying their logs: nothing recorded in between
/// is lost) and writes them, merged, to `path`.
pub fn dump(path: &Path, emulators: &[&NetEm]) -> Result<(), String> {
    let records: Vec<ExchangeRecord> = emulators.iter().flat_map(|n| n.take_requests()).collect();
    write_json_log(path, &records)
}

/// Writes `path` via a temporary file in the same directory and a rename: a reader sees
/// the old file or the new one, never a part.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("out"),
        std::process::id()
    ));
    fs::write(&tmp, bytes).map_err(|e| format!("write {}: {e}", tmp.display()))?;
    fs::rename(&tmp, path).map_err(|e| format!("rename to {}: {e}", path.display()))
}

/// SIGUSR1 as a flag: a process that dumps its emulators' logs on the signal polls
/// [`DumpSignal::due`] in its main loop.
pub struct DumpSignal {
    flag: Arc<AtomicBool>,
}

impl DumpSignal {
    /// Installs the handler (from then on SIGUSR1 no longer ends the process).
    pub fn install() -> Result<DumpSignal, String> {
        let flag = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(signal_hook::consts::SIGUSR1, Arc::clone(&flag))
            .map_err(|e| format!("cannot install the SIGUSR1 handler: {e}"))?;
        Ok(DumpSignal { flag })
    }

    /// Whether SIGUSR1 came since the last call.
    pub fn due(&self) -> bool {
        self.flag.swap(false, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_on_the_unix_clock() {
        let r = ExchangeRecord {
            conn: 3,
            seq: 1,
            method: "GET".into(),
            path: "/token?scope=repository:a/b:pull&service=\"x\"".into(),
            status: 200,
            start: Duration::from_millis(5),
            end: Duration::from_millis(105),
            bytes_up: 120,
            bytes_down: 900,
        };
        let back = parse_json_line(&json_line(&r)).unwrap();
        let base = epoch_unix();
        // Microseconds: the epoch's nanoseconds are cut.
        let near = |a: Duration, b: Duration| a.abs_diff(b) < Duration::from_micros(2);
        assert!(near(back.start, base + r.start) && near(back.end, base + r.end));
        assert_eq!(back.end - back.start, r.end - r.start);
        assert_eq!(
            (back.conn, back.seq, &back.method, &back.path, back.status),
            (r.conn, r.seq, &r.method, &r.path, r.status)
        );
        assert_eq!((back.bytes_up, back.bytes_down), (120, 900));
        assert!(parse_json_line("{\"conn\":1}").is_err());
        assert!(parse_json_line("not json").is_err());
    }

    #[test]
    fn logs_are_written_whole_and_read_back_merged() {
        let dir = tempfile::tempdir().unwrap();
        let rec = |conn, start| ExchangeRecord {
            conn,
            seq: 0,
            method: "HEAD".into(),
            path: "/v2/".into(),
            status: 401,
            start: Duration::from_millis(start),
            end: Duration::from_millis(start + 10),
            bytes_up: 1,
            bytes_down: 2,
        };
        let (a, b) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
        write_json_log(&a, &[rec(2, 30), rec(1, 10)]).unwrap();
        write_json_log(&b, &[rec(7, 20)]).unwrap();
        fs::write(dir.path().join("blank"), "\n\n").unwrap();
        let merged = read_json_logs(&[&a, &b, &dir.path().join("blank")]).unwrap();
        let conns: Vec<u64> = merged.iter().map(|r| r.conn).collect();
        assert_eq!(conns, vec![1, 7, 2]);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.iter().all(|n| !n.contains(".tmp-")), "{names:?}");
        assert!(read_json_logs(&[dir.path().join("missing")]).is_err());
    }
}
