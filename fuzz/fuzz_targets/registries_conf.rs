#![no_main]
//! registries.conf text: parsing, and the sources of a few repositories under what it
//! gives, never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(entries) = rr::registries::parse(text, "fuzz.conf") else { return };
    let mut registries = rr::registries::Registries::default();
    registries.merge(entries);
    for name in ["index.docker.io/library/ubuntu", "r.example:5000/team/app", "a.b.example.com/x"] {
        let repo = rr::name::Repository::parse(name).expect("a valid repository");
        for by_digest in [false, true] {
            let _ = registries.sources(&repo, by_digest);
        }
    }
    let _ = registries.insecure_hosts();
});
