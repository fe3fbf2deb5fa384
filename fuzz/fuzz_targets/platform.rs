#![no_main]
//! Platform strings and platform JSON: parsing, matching and showing never panic, and a
//! parsed platform shows as a string that parses again.
use libfuzzer_sys::fuzz_target;
use rr::platform::Platform;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(p) = Platform::parse(s) {
        let shown = p.to_string();
        Platform::parse(&shown).expect("a shown platform parses");
        let _ = rr::platform::select(&p, &[Some(Platform::linux_amd64()), None]);
    }
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(s) {
        let _ = Platform::from_json(&v);
    }
});
