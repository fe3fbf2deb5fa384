#![no_main]
//! Rate-limit header values, in every header they may come in, never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else { return };
    let now = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    for name in ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy", "RateLimit"] {
        let headers = vec![(name.to_string(), value.to_string())];
        let _ = rr::transport::rate_limit::parse(&headers, now);
    }
});
