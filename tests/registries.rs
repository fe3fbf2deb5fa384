//! Correct answers from every registry implementation the harness runs: distribution 2.8
//! (Debian's), distribution v3 and go-containerregistry's registry, which paginate,
//! refuse page sizes, mount and delete each in their own way.

mod common;

use common::client;
use rr::remote::list;
use rr_testkit::{ImageSpec, Mode, Options, Registry, Server};

const MANY: usize = 1006;

/// A registry of `server` holding `demo/many` with `count` tags (`t0000`...).
fn with_many_tags(options: Options, count: usize) -> (Registry, Vec<String>) {
    let reg = Registry::start_with(options);
    reg.push_image("demo/many:t0000", &ImageSpec::random(7, &[512]));
    let tags: Vec<String> = (0..count).map(|i| format!("t{i:04}")).collect();
    reg.add_tags("demo/many", "t0000", &tags[1..]);
    (reg, tags)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn tag_requests(reg: &Registry) -> Vec<String> {
    reg.requests()
        .into_iter()
        .filter(|r| r.uri.contains("/tags/list"))
        .map(|r| format!("{} {}", r.uri, r.status))
        .collect()
}

#[test]
fn every_tag_is_listed_by_every_server_at_every_page_size() {
    for server in Server::ALL {
        let (reg, tags) = with_many_tags(Options::new(server, Mode::Open), MANY);
        let repo = format!("{}/demo/many", reg.host());
        for page_size in [None, Some(1000), Some(1006), Some(100), Some(1)] {
            let c = client();
            c.set_page_size(page_size).unwrap();
            let got = list::list(&c, &repo)
                .unwrap_or_else(|e| panic!("{server}, page size {page_size:?}: {e}"));
            assert_eq!(
                got.len(),
                MANY,
                "{server}, page size {page_size:?}: {:?}",
                tag_requests(&reg)
            );
            assert_eq!(sorted(got), tags, "{server}, page size {page_size:?}");
        }
    }
}

/// distribution v3 refuses `n` above `catalog.maxentries` (here 2) on the catalog with
/// `400 PAGINATION_NUMBER_INVALID`: the catalog is asked again without `n`, and the
/// registry's own pages (of 2, with `Link`) are followed to the end.
#[test]
fn a_refused_page_size_is_asked_again_without_it() {
    let options = Options {
        catalog_max_entries: Some(2),
        ..Options::new(Server::DistributionV3, Mode::Open)
    };
    let reg = Registry::start_with(options);
    let want = ["demo/r1", "demo/r2", "demo/r3", "demo/r4", "demo/r5"];
    for (i, name) in want.iter().enumerate() {
        reg.push_image(
            &format!("{name}:v1"),
            &ImageSpec::random(10 + i as u64, &[256]),
        );
    }
    let c = client();
    c.set_page_size(Some(1000)).unwrap();
    let before = reg.requests().len();
    assert_eq!(sorted(list::catalog(&c, &reg.host()).unwrap()), want);
    let asked: Vec<(String, u16)> = reg.requests()[before..]
        .iter()
        .filter(|r| r.uri.starts_with("/v2/_catalog"))
        .map(|r| (r.uri.clone(), r.status))
        .collect();
    assert_eq!(
        asked[0],
        ("/v2/_catalog?n=1000".to_string(), 400),
        "{asked:?}"
    );
    assert_eq!(asked[1], ("/v2/_catalog".to_string(), 200), "{asked:?}");
    assert_eq!(asked.len(), 4, "pages of 2 after the refusal: {asked:?}");
    // By default no `n` is sent: no refusal.
    let before = reg.requests().len();
    assert_eq!(sorted(list::catalog(&client(), &reg.host()).unwrap()), want);
    assert!(reg.requests()[before..].iter().all(|r| r.status == 200));
    // A page size the registry accepts is used as given.
    let small = client();
    small.set_page_size(Some(1)).unwrap();
    assert_eq!(sorted(list::catalog(&small, &reg.host()).unwrap()), want);
}

/// The catalog comes out whole at any page size: distribution paginates it with `Link`,
/// go-containerregistry's registry ignores `last` there (it repeats its first page), and
/// is then asked once for the whole catalog.
#[test]
fn every_repository_is_in_the_catalog_of_every_server() {
    for server in Server::ALL {
        let reg = Registry::start_server(server);
        let mut want = Vec::new();
        for r in 0..5 {
            let name = format!("cat/r{r}");
            reg.push_image(&format!("{name}:v1"), &ImageSpec::random(20 + r, &[128]));
            want.push(name);
        }
        for page_size in [None, Some(1000), Some(5), Some(2), Some(1)] {
            let c = client();
            c.set_page_size(page_size).unwrap();
            let got = list::catalog(&c, &reg.host())
                .unwrap_or_else(|e| panic!("{server}, page size {page_size:?}: {e}"));
            assert_eq!(sorted(got), want, "{server}, page size {page_size:?}");
        }
    }
}
