//! Running independent pieces of one operation (blob transfers) on a bounded number of
//! worker threads, stopping the rest at the first failure.

use crate::error::Result;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Calls `work` on every item with at most `jobs` threads at once. At the first failure
/// no new item is started, `stop` is raised so that items in flight end early, and that
/// first error is returned once every thread has finished.
pub fn for_each<T: Sync>(
    jobs: u32,
    items: &[T],
    stop: &Arc<AtomicBool>,
    work: impl Fn(&T) -> Result<()> + Sync,
) -> Result<()> {
    let workers = (jobs.max(1) as usize).min(items.len());
    if workers <= 1 {
        for item in items {
            work(item)?;
        }
        return Ok(());
    }
    let next = AtomicUsize::new(0);
    let first_error = Mutex::new(None);
    let failed = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                if failed.load(Ordering::SeqCst) {
                    return;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(i) else { return };
                if let Err(e) = work(item) {
                    let mut slot = first_error.lock().unwrap_or_else(|p| p.into_inner());
                    if slot.is_none() {
                        *slot = Some(e);
                    }
                    failed.store(true, Ordering::SeqCst);
                    stop.store(true, Ordering::SeqCst);
                    return;
                }
            });
        }
    });
    match first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// `items` in the order to start them: largest first (stable among equals). With `jobs`
/// workers the operation then ends at most one small item after its largest one, instead
/// of with the largest starting last, alone, once the small ones are done.
pub fn largest_first<T>(items: &[T], size: impl Fn(&T) -> u64) -> Vec<&T> {
    let mut ordered: Vec<&T> = items.iter().collect();
    ordered.sort_by_key(|item| std::cmp::Reverse(size(item)));
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn the_largest_start_first_and_equals_keep_their_order() {
        let items = [(1, 'a'), (9, 'b'), (4, 'c'), (9, 'd'), (0, 'e')];
        let order: String = largest_first(&items, |(size, _)| *size)
            .iter()
            .map(|(_, name)| *name)
            .collect();
        assert_eq!(order, "bdcae");
    }

    #[test]
    fn every_item_runs_and_the_first_error_wins() {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = AtomicUsize::new(0);
        let items: Vec<u32> = (0..50).collect();
        for_each(4, &items, &stop, |_| {
            seen.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .unwrap();
        assert_eq!(seen.load(Ordering::SeqCst), 50);
        assert!(!stop.load(Ordering::SeqCst));

        let e = for_each(3, &items, &stop, |i| {
            if *i == 7 {
                Err(Error::invalid_argument("seven"))
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert_eq!(e.message, "seven");
        assert!(
            stop.load(Ordering::SeqCst),
            "items in flight are told to stop"
        );
    }
}
