#![no_main]
//! References, repositories and registries: parsing never panics, and what parses
//! normalises to a form that parses again to itself.
use libfuzzer_sys::fuzz_target;
use rr::name::{Reference, Registry, Repository};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(r) = Reference::parse(s) {
        let shown = r.to_string();
        let again = Reference::parse(&shown).expect("a normalised reference parses");
        assert_eq!(again.to_string(), shown);
    }
    let _ = Reference::parse_for_write(s);
    let _ = Repository::parse(s);
    let _ = Registry::parse(s);
    let _ = rr::name::normalize(s);
});
