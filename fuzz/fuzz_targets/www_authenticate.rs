#![no_main]
//! WWW-Authenticate challenges: any header lines, never a panic.
use libfuzzer_sys::fuzz_target;
use rr::transport::challenge;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Some(c) = challenge::parse(s) {
        let _ = c.is_bearer();
        let _ = c.scopes();
        let _ = c.param("realm");
    }
    let _ = challenge::pick(s.split('\n'));
});
