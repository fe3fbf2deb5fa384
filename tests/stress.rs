//! One client shared by many threads doing everything at once: reads, listings, copies
//! and pushes, against the open and the token registry (shared token cache). Every result
//! is checked; nothing may fail, deadlock or mix up answers.

mod common;

use common::*;
use rr::remote::{self, list, write};
use rr_testkit::{shared_seeded, Mode, TOKEN_PUSHER, TOKEN_PUSHER_PASSWORD};
use std::sync::atomic::{AtomicUsize, Ordering};

#[test]
fn sixteen_threads_share_one_client_across_two_registries() {
    let (open, seeded) = shared_seeded(Mode::Open);
    let (token, tseeded) = shared_seeded(Mode::Token);
    let c = client();
    c.set_basic_auth(&token.host(), TOKEN_PUSHER, TOKEN_PUSHER_PASSWORD)
        .unwrap();
    c.set_jobs(3).unwrap();
    let checks = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..16usize {
            let c = c.clone();
            let checks = &checks;
            let (open, seeded, token, tseeded) = (open, seeded, token, tseeded);
            s.spawn(move || {
                for round in 0..4usize {
                    let (reg, sd) = if (t + round) % 2 == 0 {
                        (open, seeded)
                    } else {
                        (token, tseeded)
                    };
                    match (t + round) % 4 {
                        0 => {
                            let img = remote::image(&c, &sd.app.reference).unwrap();
                            assert_eq!(img.digest(), sd.app.manifest_digest);
                            let mut n = 0u64;
                            img.layer_read(0, &mut |chunk| {
                                n += chunk.len() as u64;
                                Ok(())
                            })
                            .unwrap();
                            assert_eq!(n, sd.app.layer_sizes[0]);
                        }
                        1 => {
                            let repo = format!("{}/demo/many", reg.host());
                            assert_eq!(list::list(&c, &repo).unwrap().len(), sd.many_tags.len());
                        }
                        2 => {
                            let dst = format!("{}/stress/t{t}:r{round}", reg.host());
                            write::copy(&c, &sd.multi.reference, &dst).unwrap();
                            assert_eq!(remote::head(&c, &dst).unwrap().digest, sd.multi.digest);
                        }
                        _ => {
                            let idx = remote::index(&c, &sd.multi.reference).unwrap();
                            let arm = idx
                                .image_for_platform(
                                    &rr::platform::Platform::parse("linux/arm64").unwrap(),
                                )
                                .unwrap();
                            assert_eq!(
                                arm.config().unwrap().len() as u64,
                                arm.manifest().config.size
                            );
                        }
                    }
                    checks.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    assert_eq!(checks.load(Ordering::SeqCst), 64);
}
