//! Per-blob progress events against each registry server: a push goes waiting → checking
//! → uploading → done per blob, a push of blobs already there ends in "exists", a copy
//! between repositories ends in "mounted" (or, on a registry that answers mounts with an
//! upload session, in "exists" after its check), a pull into a layout goes downloading →
//! verifying → done and a second pull ends in "exists". Two operations at once on one
//! client each report under their own operation id, with their own blobs and totals.

mod common;

use common::*;
use rr::remote::{write, BlobEvent, BlobProgressSink, Client, Phase};
use rr_testkit::{Registry, Server};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
struct Seen {
    operation: u64,
    digest: Option<String>,
    phase: Phase,
    blob_size: u64,
    blob_done: u64,
    complete: u64,
    total: u64,
}

#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<Seen>>,
}

impl BlobProgressSink for Recorder {
    fn event(&self, e: &BlobEvent<'_>) -> bool {
        self.events.lock().unwrap().push(Seen {
            operation: e.operation,
            digest: e.digest.map(str::to_string),
            phase: e.phase,
            blob_size: e.blob_size,
            blob_done: e.blob_done,
            complete: e.complete,
            total: e.total,
        });
        true
    }
}

impl Recorder {
    fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.events.lock().unwrap())
    }
}

fn recording_client() -> (Client, Arc<Recorder>) {
    let c = client();
    let recorder = Arc::new(Recorder::default());
    c.set_blob_progress(Some(recorder.clone()));
    (c, recorder)
}

/// An image of `layers` small gzip layers from `seed`, with its blob digests and sizes
/// (config included).
fn image(seed: u64, layers: usize) -> (tempfile::TempDir, rr::image::Image) {
    let dir = temp_dir();
    let mut b = rr::builder::ImageBuilder::new();
    for i in 0..layers {
        let size = 40_000 + 30_000 * i;
        let bytes = gzip(&tar_bytes(seed * 100 + i as u64, size));
        let path = write_file(dir.path(), &format!("l{i}.tar.gz"), &bytes);
        b.add_layer_file(&path, None).unwrap();
    }
    (dir, b.build().unwrap())
}

fn blobs_of(img: &rr::image::Image) -> BTreeMap<String, u64> {
    let mut blobs: BTreeMap<String, u64> = img
        .layers()
        .iter()
        .map(|l| (l.digest.clone(), l.size))
        .collect();
    let config = img.config_descriptor();
    blobs.insert(config.digest.clone(), config.size);
    blobs
}

/// Checks what holds for every operation's events, and returns each blob's phases in
/// order (repeats removed).
fn phases_per_blob(events: &[Seen], blobs: &BTreeMap<String, u64>) -> BTreeMap<String, Vec<Phase>> {
    assert!(!events.is_empty(), "no events");
    let operation = events[0].operation;
    assert!(
        events.iter().all(|e| e.operation == operation),
        "one operation: {events:?}"
    );
    assert_eq!(events[0].phase, Phase::Started, "{:?}", events[0]);
    assert_eq!(events[0].digest, None);
    let total: u64 = blobs.values().sum();
    let mut last_complete = 0;
    let mut done_of: BTreeMap<&str, u64> = BTreeMap::new();
    let mut phases: BTreeMap<String, Vec<Phase>> = BTreeMap::new();
    for e in events {
        assert_eq!(e.total, total, "{e:?}");
        assert!(
            e.complete >= last_complete && e.complete <= e.total,
            "{e:?}"
        );
        last_complete = e.complete;
        let Some(d) = &e.digest else {
            assert_eq!(e.phase, Phase::Started);
            continue;
        };
        assert_eq!(
            blobs.get(d),
            Some(&e.blob_size),
            "a blob of the image, its size: {e:?}"
        );
        let before = done_of.insert(d, e.blob_done).unwrap_or(0);
        assert!(e.blob_done >= before && e.blob_done <= e.blob_size, "{e:?}");
        if e.phase.is_final() {
            assert_eq!(e.blob_done, e.blob_size, "{e:?}");
        }
        let list = phases.entry(d.clone()).or_default();
        if list.last() != Some(&e.phase) {
            list.push(e.phase);
        }
    }
    assert_eq!(events.last().unwrap().complete, total);
    assert_eq!(
        phases.keys().cloned().collect::<BTreeSet<_>>(),
        blobs.keys().cloned().collect::<BTreeSet<_>>(),
        "every blob reported"
    );
    // Every blob is announced as waiting before any blob starts.
    let first_start = events
        .iter()
        .position(|e| e.digest.is_some() && e.phase != Phase::Waiting)
        .unwrap();
    let waiting = events[..first_start]
        .iter()
        .filter(|e| e.phase == Phase::Waiting)
        .count();
    assert_eq!(waiting, blobs.len(), "{events:?}");
    phases
}

fn all_are(phases: &BTreeMap<String, Vec<Phase>>, expected: &[Phase]) {
    for (digest, p) in phases {
        assert_eq!(p, expected, "{digest}");
    }
}

#[test]
fn every_blob_reports_its_phases_on_every_server() {
    use Phase::*;
    for server in Server::ALL {
        let reg = Registry::start_server(server);
        let (c, recorder) = recording_client();
        let (_dir, img) = image(server as u64 + 1, 3);
        let blobs = blobs_of(&img);

        let pushed = format!("{}/events/app:v1", reg.host());
        write::write_image(&c, &pushed, &img).unwrap();
        let push = phases_per_blob(&recorder.take(), &blobs);
        all_are(&push, &[Waiting, Checking, Uploading, Done]);

        // Another tag in the same repository: every blob is there already.
        write::write_image(&c, &format!("{}/events/app:v2", reg.host()), &img).unwrap();
        let again = phases_per_blob(&recorder.take(), &blobs);
        all_are(&again, &[Waiting, Checking, Exists]);

        // Another repository of the same registry: mounted where the registry mounts.
        write::copy(&c, &pushed, &format!("{}/events/copy:v1", reg.host())).unwrap();
        let copy = phases_per_blob(&recorder.take(), &blobs);
        if server == Server::Ggcr {
            // Its mounts answer 202 (an upload session): the first blob's mount is tried,
            // the rest are checked, and all of them are there.
            let mounting = copy.values().filter(|p| p.contains(&Mounting)).count();
            assert_eq!(mounting, 1, "{copy:?}");
            assert!(
                copy.values().all(|p| p.ends_with(&[Checking, Exists])),
                "{copy:?}"
            );
        } else {
            all_are(&copy, &[Waiting, Mounting, Mounted]);
        }

        // Into a layout, then again into the same layout.
        let layout = temp_dir();
        let pulled = rr::remote::image(&c, &pushed).unwrap();
        recorder.take();
        rr::layout::write_image(&c, layout.path(), &pulled, Some("v1")).unwrap();
        let pull = phases_per_blob(&recorder.take(), &blobs);
        all_are(&pull, &[Waiting, Downloading, Verifying, Done]);
        rr::layout::write_image(&c, layout.path(), &pulled, Some("v1")).unwrap();
        let repull = phases_per_blob(&recorder.take(), &blobs);
        all_are(&repull, &[Waiting, Exists]);
    }
}

#[test]
fn two_operations_at_once_on_one_client_report_apart() {
    let reg = Registry::start_server(Server::Distribution28);
    let (c, recorder) = recording_client();
    c.set_jobs(2).unwrap();
    let images: Vec<_> = (0..2).map(|i| image(40 + i, 4)).collect();
    std::thread::scope(|s| {
        for (i, (_, img)) in images.iter().enumerate() {
            let c = &c;
            let reference = format!("{}/events/apart{i}:v1", reg.host());
            s.spawn(move || write::write_image(c, &reference, img).unwrap());
        }
    });
    let events = recorder.take();
    let mut by_operation: BTreeMap<u64, Vec<Seen>> = BTreeMap::new();
    for e in events {
        by_operation.entry(e.operation).or_default().push(e);
    }
    assert_eq!(by_operation.len(), 2, "two operations");
    let mut matched = BTreeSet::new();
    for events in by_operation.values() {
        // The operation's first blob says which image it pushed.
        let first = events.iter().find_map(|e| e.digest.clone()).unwrap();
        let (i, (_, img)) = images
            .iter()
            .enumerate()
            .find(|(_, (_, img))| blobs_of(img).contains_key(&first))
            .unwrap();
        let phases = phases_per_blob(events, &blobs_of(img));
        all_are(
            &phases,
            &[
                Phase::Waiting,
                Phase::Checking,
                Phase::Uploading,
                Phase::Done,
            ],
        );
        matched.insert(i);
    }
    assert_eq!(matched.len(), 2, "each operation pushed one of the images");
}

#[test]
fn a_false_answer_from_the_blob_callback_cancels() {
    struct StopWhenUploading;
    impl BlobProgressSink for StopWhenUploading {
        fn event(&self, e: &BlobEvent<'_>) -> bool {
            e.phase != Phase::Uploading
        }
    }
    let reg = Registry::start_server(Server::Distribution28);
    let c = client();
    c.set_blob_progress(Some(Arc::new(StopWhenUploading)));
    let (_dir, img) = image(77, 2);
    let err = write::write_image(&c, &format!("{}/events/stop:v1", reg.host()), &img).unwrap_err();
    assert_eq!(err.kind, rr::ErrorKind::Cancelled, "{err}");
    assert!(sessions_left_behind(&reg, "events/stop").is_empty());
}
