#![no_main]
//! Docker config.json / containers auth.json files: parsing and lookups never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for key in ["registry.example", "index.docker.io", "https://index.docker.io/v1/", "r.example/a/b"] {
        let _ = rr::authn::keychain::parse_config_and_lookup(data, key);
    }
});
