#![no_main]
//! Manifests and indexes as a registry might send them: parsing, media-type guessing and
//! descriptor data checks never panic.
use libfuzzer_sys::fuzz_target;
use rr::manifest::{self, ImageManifest, IndexManifest};

fuzz_target!(|data: &[u8]| {
    let _ = manifest::effective_media_type(None, data);
    let _ = manifest::effective_media_type(Some("application/json"), data);
    if let Ok(m) = ImageManifest::parse(data, "fuzz") {
        let _ = m.config.verified_data();
        for l in &m.layers {
            let _ = l.verified_data();
        }
    }
    if let Ok(i) = IndexManifest::parse(data, "fuzz") {
        for d in &i.manifests {
            let _ = d.platform.as_ref().map(|p| p.short());
        }
    }
});
