//! How many requests and how long listing 5 000 tags takes on each registry server, with
//! and without `n`: the measurement behind the default page size (README, "Listing").
//! `cargo bench --bench list_pages` (debug-free release build of rr; the registries are
//! the harness's, on loopback). Prints a Markdown table.

use rr::remote::{list, Client};
use rr_testkit::{ImageSpec, Mode, Options, Registry, Server};
use std::time::Instant;

const TAGS: usize = 5000;
const RUNS: usize = 5;

fn main() {
    println!("| server | n | requests | median ms | tags |");
    println!("|---|---:|---:|---:|---:|");
    for server in Server::ALL {
        let reg = Registry::start_with(Options::new(server, Mode::Open));
        reg.push_image("bench/many:t0000", &ImageSpec::random(3, &[512]));
        let tags: Vec<String> = (1..TAGS).map(|i| format!("t{i:04}")).collect();
        reg.add_tags("bench/many", "t0000", &tags);
        let repo = format!("{}/bench/many", reg.host());
        for page_size in [None, Some(100), Some(1000)] {
            let client = Client::new();
            client.set_keychain(false);
            client.set_page_size(page_size).expect("page size");
            // One listing first, so that the ping and the scheme are settled.
            list::list(&client, &repo).expect("warm-up listing");
            let mut times = Vec::new();
            let mut requests = 0;
            let mut count = 0;
            for _ in 0..RUNS {
                let before = reg.requests().len();
                let start = Instant::now();
                count = list::list(&client, &repo).expect("listing").len();
                times.push(start.elapsed().as_secs_f64() * 1000.0);
                // go-containerregistry's registry logs a request after answering it.
                std::thread::sleep(std::time::Duration::from_millis(50));
                requests = reg.requests().len() - before;
            }
            times.sort_by(f64::total_cmp);
            let n = page_size.map_or("none".to_string(), |n| n.to_string());
            println!(
                "| {server} | {n} | {requests} | {:.1} | {count} |",
                times[RUNS / 2]
            );
        }
    }
}
