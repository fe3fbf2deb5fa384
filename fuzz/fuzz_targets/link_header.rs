#![no_main]
//! `Link` headers of tag and catalog pages, resolved against a registry URL.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let base = url::Url::parse("https://registry.example:5000/v2/app/tags/list?n=1000").unwrap();
    let _ = rr::remote::list::next_link(s, &base);
});
