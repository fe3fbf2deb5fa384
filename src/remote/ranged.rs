//! One large blob into a file over several connections, when one connection is what holds
//! it back.
//!
//! Far from a registry a single TCP connection seldom carries what the path can: its
//! window, or a shaper per flow, caps it at a few tens of MB/s. The blob is first read as
//! usual, from the start, hashed in order on the way; once that connection's rate has been
//! seen (and only when it is low enough and the rest would take long enough for more
//! connections to pay), the rest is split into ranges fetched on other connections
//! (`Range`, 206) and written where they belong. Only when every range was answered with
//! the bytes asked for does the first connection stop short at the first of them (a range
//! it reaches before that is its own to read after all); a registry that ignores `Range`
//! leaves the first connection reading to the end, as if nothing had happened. The ranges' bytes are hashed from the file once they are all in,
//! so the digest still covers the whole blob in order.

use super::blob::{self, RangeAnswer, Verify};
use crate::digest::HashingThread;
use crate::error::{Error, Result};
use crate::manifest::Descriptor;
use crate::name::Repository;
use crate::transport::Context;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Blobs smaller than this are always read over one connection.
pub const SPLIT_MIN_SIZE: u64 = 16 << 20;
/// The default of connections one blob may use (`rr_client_set_blob_connections`).
pub const DEFAULT_BLOB_CONNECTIONS: u32 = 4;
pub const MAX_BLOB_CONNECTIONS: u32 = 16;
/// A connection faster than this is held back by the client (CPU, disk), not the path:
/// more connections would only share the same cores.
const SPLIT_RATE_CEILING: f64 = 96.0 * 1024.0 * 1024.0;
/// How long the first connection is watched before its rate is trusted: at least this,
/// and at least two of its round trips.
const RATE_WINDOW: Duration = Duration::from_millis(150);
/// The time a range's answer is given to come, in round trips of the first request (a
/// new connection's handshake, TLS, the request), and at least `RATE_WINDOW`. Splitting
/// pays only when the rest would take at least twice that on one connection.
const LEAD_ROUND_TRIPS: u32 = 4;
/// No range is smaller than this: each costs a request, and on a new connection a slow
/// start.
const MIN_PART: u64 = 2 << 20;
const PART_BUFFER: usize = 128 * 1024;

/// Where the first connection stops and the ranges the others fetch, in order, each
/// `(from, end)` with `end` exclusive; the last ends at the blob's end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub first_end: u64,
    pub parts: Vec<(u64, u64)>,
}

/// How to split what is left of a blob of `size` bytes when the first connection is at
/// `position`: `lead` bytes are left to it for the time the ranges' answers take to come,
/// and what follows is shared so that every connection, the first one included, has about
/// the same to do from then on, in ranges of at least `MIN_PART`. None when there is too
/// little left for a second connection.
pub fn plan_split(position: u64, size: u64, lead: u64, connections: u32) -> Option<Split> {
    if connections < 2 || position >= size || size - position <= lead {
        return None;
    }
    let shared = size - position - lead;
    let count = u64::from(connections).min(shared / MIN_PART);
    if count < 2 {
        return None;
    }
    let per = shared / count;
    let first_end = position + lead + per;
    let parts = (1..count)
        .map(|i| {
            let from = first_end + (i - 1) * per;
            let end = if i + 1 == count { size } else { from + per };
            (from, end)
        })
        .collect();
    Some(Split { first_end, parts })
}

/// What the worker of range `index` (of the split's parts) has to say.
enum PartEvent {
    /// Whether its range was answered with its bytes (206); an error as the answer.
    Answered(usize, Result<bool>),
    Done(Result<()>),
}

/// A range on its own thread: it asks, says what the answer was, and writes its bytes
/// only once told to go on.
struct PartWorker {
    go: Sender<bool>,
}

/// Where the ranges stand.
enum Ranges {
    /// Not split (yet).
    None,
    /// Asked for; waiting for every answer. `parts[i]` is range `skipped + i` of the
    /// split, `answered[i]` whether it was answered 206.
    Asked {
        parts: Vec<(u64, u64)>,
        workers: Vec<PartWorker>,
        answered: Vec<bool>,
        skipped: usize,
    },
    /// Every range left confirmed and going: the first connection stops where they begin,
    /// `from`.
    Going { from: u64, left: usize },
    /// A range was refused or failed before it started: one connection to the end.
    Declined,
}

/// Fetches blob `desc` of `repository` into `file` (from offset 0), verified against its
/// digest, on one connection or, when that is slow (see the module), on up to
/// `connections`. `progress` gets the bytes in the file so far. The file holds unverified
/// bytes until this returns `Ok`.
pub fn fetch_to_file(
    ctx: &Arc<Context>,
    repository: &Repository,
    desc: &Descriptor,
    connections: u32,
    file: &File,
    progress: &mut dyn FnMut(u64),
) -> Result<()> {
    let what = format!("blob {} of {}", desc.digest, repository);
    let Some(mut hashing) = HashingThread::start() else {
        return single(ctx, repository, desc, file, &what, progress);
    };
    let asked_at = Instant::now();
    let mut reader = blob::open_in(ctx, repository, desc, Verify::SizeOnly)?;
    // This answer may have waited for a new connection too (two round trips); the
    // registry's quickest answer so far is nearer one.
    let round_trip = asked_at.elapsed().min(
        ctx.fastest_answer(repository.registry())
            .unwrap_or(Duration::MAX),
    );
    let window = RATE_WINDOW.max(round_trip * 2);
    let lead_time = RATE_WINDOW.max(round_trip * LEAD_ROUND_TRIPS);

    let (events_tx, events) = channel::<PartEvent>();
    let abort = Arc::new(AtomicBool::new(false));
    let part_bytes = Arc::new(AtomicU64::new(0));
    // Parts writing into the file stop when this returns, whatever way it returns.
    let _stop_parts = StopOnDrop(abort.clone());
    let mut ranges = Ranges::None;
    let mut first_end = desc.size;
    let mut position = 0u64;
    let mut first_byte_at: Option<Instant> = None;

    while position < first_end {
        ctx.check_cancelled()?;
        let mut buf = hashing.buffer();
        let want = (first_end - position).min(blob::CHUNK as u64) as usize;
        buf.resize(want, 0);
        let (filled, at_end) = blob::fill(&mut reader, &mut buf, position, &what)?;
        if filled > 0 {
            first_byte_at.get_or_insert_with(Instant::now);
            buf.truncate(filled);
            let shared = hashing.submit(buf);
            file.write_all_at(&shared, position)
                .map_err(|e| Error::io(format!("writing {what}"), &e))?;
            position += filled as u64;
            progress(position + part_bytes.load(Ordering::SeqCst));
        }
        if at_end && position < first_end {
            return Err(Error::transport(format!(
                "{what}: the body ended after {position} of {} bytes",
                desc.size
            )));
        }

        ranges = match ranges {
            Ranges::None => match first_byte_at {
                Some(at) if at.elapsed() >= window && connections > 1 => {
                    let seconds = at.elapsed().as_secs_f64();
                    let rate = position as f64 / seconds;
                    let remaining = (desc.size - position) as f64 / rate.max(1.0);
                    let lead = (rate * lead_time.as_secs_f64()) as u64;
                    match plan_split(position, desc.size, lead, connections) {
                        Some(split)
                            if rate < SPLIT_RATE_CEILING
                                && remaining >= 2.0 * lead_time.as_secs_f64() =>
                        {
                            let workers = split
                                .parts
                                .iter()
                                .enumerate()
                                .map(|(index, &(from, end))| {
                                    start_part(
                                        ctx,
                                        repository,
                                        desc,
                                        file,
                                        index,
                                        from,
                                        end,
                                        &events_tx,
                                        &abort,
                                        &part_bytes,
                                    )
                                })
                                .collect::<Result<Vec<_>>>()?;
                            Ranges::Asked {
                                answered: vec![false; split.parts.len()],
                                parts: split.parts,
                                workers,
                                skipped: 0,
                            }
                        }
                        _ => Ranges::None,
                    }
                }
                _ => Ranges::None,
            },
            Ranges::Asked {
                mut parts,
                mut workers,
                mut answered,
                mut skipped,
            } => {
                let mut refused = false;
                while let Ok(event) = events.try_recv() {
                    match event {
                        PartEvent::Answered(index, Ok(true)) if index >= skipped => {
                            answered[index - skipped] = true
                        }
                        PartEvent::Answered(index, _) if index < skipped => {}
                        PartEvent::Answered(..) | PartEvent::Done(_) => refused = true,
                    }
                }
                // A range the first connection has reached before every answer came is
                // its to read after all: that worker is told no (dropped).
                while !parts.is_empty() && position > parts[0].0 {
                    parts.remove(0);
                    workers.remove(0);
                    answered.remove(0);
                    skipped += 1;
                }
                if refused || parts.is_empty() {
                    // Dropping the workers tells them no: they end without writing.
                    drop(workers);
                    Ranges::Declined
                } else if answered.iter().all(|&a| a) {
                    for w in &workers {
                        let _ = w.go.send(true);
                    }
                    first_end = parts[0].0;
                    Ranges::Going {
                        from: first_end,
                        left: workers.len(),
                    }
                } else {
                    Ranges::Asked {
                        parts,
                        workers,
                        answered,
                        skipped,
                    }
                }
            }
            other => other,
        };
    }
    drop(reader);

    if let Ranges::Going { from, mut left } = ranges {
        while left > 0 {
            ctx.check_cancelled()?;
            match events.recv_timeout(Duration::from_millis(50)) {
                Ok(PartEvent::Done(result)) => {
                    result?;
                    left -= 1;
                }
                Ok(PartEvent::Answered(..)) => {}
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(Error::transport(format!(
                        "{what}: a range's worker ended without a word"
                    )))
                }
            }
            progress(position + part_bytes.load(Ordering::SeqCst));
        }
        progress(desc.size);
        hash_from_file(&mut hashing, file, from, desc.size, &what)?;
    }
    crate::digest::check(&hashing.finish(), &desc.digest, &what)
}

/// Sets the flag when dropped.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[allow(clippy::too_many_arguments)]
fn start_part(
    ctx: &Arc<Context>,
    repository: &Repository,
    desc: &Descriptor,
    file: &File,
    index: usize,
    from: u64,
    end: u64,
    events: &Sender<PartEvent>,
    abort: &Arc<AtomicBool>,
    part_bytes: &Arc<AtomicU64>,
) -> Result<PartWorker> {
    let (go, told) = channel::<bool>();
    let file = file
        .try_clone()
        .map_err(|e| Error::io("sharing the blob's file with a range", &e))?;
    let (ctx, repository, desc) = (ctx.clone(), repository.clone(), desc.clone());
    let (events, abort, part_bytes) = (events.clone(), abort.clone(), part_bytes.clone());
    std::thread::Builder::new()
        .name("rr-range".into())
        .spawn(move || {
            let what = format!("bytes {from}..{end} of blob {}", desc.digest);
            let mut reader = match blob::open_range(&ctx, &repository, &desc, from, end) {
                Ok(RangeAnswer::Part(reader)) => {
                    let _ = events.send(PartEvent::Answered(index, Ok(true)));
                    reader
                }
                Ok(RangeAnswer::Whole) => {
                    let _ = events.send(PartEvent::Answered(index, Ok(false)));
                    return;
                }
                Err(e) => {
                    let _ = events.send(PartEvent::Answered(index, Err(e)));
                    return;
                }
            };
            if !matches!(told.recv(), Ok(true)) {
                return;
            }
            let result = copy_part(&mut *reader, &file, from, end, &what, &abort, &part_bytes);
            let _ = events.send(PartEvent::Done(result));
        })
        .map_err(|e| Error::transport(format!("starting a thread for a range: {e}")))?;
    Ok(PartWorker { go })
}

fn copy_part(
    reader: &mut dyn Read,
    file: &File,
    from: u64,
    end: u64,
    what: &str,
    abort: &AtomicBool,
    part_bytes: &AtomicU64,
) -> Result<()> {
    let mut buf = vec![0u8; PART_BUFFER];
    let mut at = from;
    while at < end {
        if abort.load(Ordering::SeqCst) {
            return Err(Error::cancelled(format!("{what}: stopped")));
        }
        let want = (end - at).min(PART_BUFFER as u64) as usize;
        let (filled, at_end) = blob::fill(reader, &mut buf[..want], at - from, what)?;
        file.write_all_at(&buf[..filled], at)
            .map_err(|e| Error::io(format!("writing {what}"), &e))?;
        at += filled as u64;
        part_bytes.fetch_add(filled as u64, Ordering::SeqCst);
        if at_end && at < end {
            return Err(Error::transport(format!(
                "{what}: the body ended after {} bytes",
                at - from
            )));
        }
    }
    Ok(())
}

/// Hands bytes `from..end` of `file` to the hashing thread, in order.
fn hash_from_file(
    hashing: &mut HashingThread,
    file: &File,
    from: u64,
    end: u64,
    what: &str,
) -> Result<()> {
    let mut at = from;
    while at < end {
        let mut buf = hashing.buffer();
        let want = (end - at).min(crate::digest::HASH_STAGE as u64) as usize;
        buf.resize(want, 0);
        file.read_exact_at(&mut buf, at)
            .map_err(|e| Error::io(format!("reading back {what}"), &e))?;
        at += want as u64;
        drop(hashing.submit(buf));
    }
    Ok(())
}

/// One connection, hashed as it comes: where no thread can be started.
fn single(
    ctx: &Arc<Context>,
    repository: &Repository,
    desc: &Descriptor,
    file: &File,
    what: &str,
    progress: &mut dyn FnMut(u64),
) -> Result<()> {
    let mut reader = blob::open_in(ctx, repository, desc, Verify::Digest)?;
    let mut at = 0u64;
    blob::pump(&mut reader, Some(ctx), what, &mut |chunk| {
        file.write_all_at(chunk, at)
            .map_err(|e| Error::io(format!("writing {what}"), &e))?;
        at += chunk.len() as u64;
        progress(at);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn what_follows_the_lead_is_shared_evenly_by_every_connection() {
        // 64 MiB, 8 read, a lead of 2, 4 connections: each has 13.5 MiB of the 54 after it.
        let split = plan_split(8 * MIB, 64 * MIB, 2 * MIB, 4).unwrap();
        let per = 27 * MIB / 2;
        assert_eq!(split.first_end, 10 * MIB + per);
        assert_eq!(
            split.parts,
            vec![
                (10 * MIB + per, 10 * MIB + 2 * per),
                (10 * MIB + 2 * per, 10 * MIB + 3 * per),
                (10 * MIB + 3 * per, 64 * MIB)
            ]
        );
    }

    #[test]
    fn ranges_are_contiguous_and_the_last_ends_at_the_end() {
        let split = plan_split(0, 100 * MIB + 3, 40 * MIB, 4).unwrap();
        assert_eq!(split.first_end, 55 * MIB);
        assert_eq!(split.parts.len(), 3);
        assert_eq!(split.parts[0].0, 55 * MIB);
        assert_eq!(split.parts.last().unwrap().1, 100 * MIB + 3);
        for pair in split.parts.windows(2) {
            assert_eq!(pair[0].1, pair[1].0, "ranges are contiguous");
        }
    }

    #[test]
    fn no_range_is_smaller_than_the_minimum_and_too_little_left_is_not_split() {
        // 5 MiB after the lead: two shares of 2.5 MiB, not four of 1.25.
        let split = plan_split(0, 20 * MIB, 15 * MIB, 4).unwrap();
        assert_eq!(split.first_end, 15 * MIB + 5 * MIB / 2);
        assert_eq!(split.parts, vec![(15 * MIB + 5 * MIB / 2, 20 * MIB)]);
        assert_eq!(
            plan_split(0, 20 * MIB, 17 * MIB, 4),
            None,
            "3 MiB: one share"
        );
        assert_eq!(plan_split(0, 20 * MIB, 20 * MIB, 4), None);
        assert_eq!(plan_split(0, 64 * MIB, MIB, 1), None);
        assert_eq!(plan_split(64 * MIB, 64 * MIB, MIB, 4), None);
    }
}
