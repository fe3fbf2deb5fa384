//! Converting Docker schema 2 images and manifest lists to OCI media types, the way
//! `skopeo copy --format oci` does: the manifest's own media type and those of its config,
//! layers and children change; the config and layer bytes do not (same blob digests).
//!
//! The manifest is rewritten in place, byte for byte: only the values of the `mediaType`
//! fields change (and, in an index, the `digest`, `size` and embedded `data` of each child
//! that changed). Field order, whitespace and every other field (annotations, urls,
//! platform, subject, ...) stay as they were. Content without Docker media types is
//! returned unchanged, with its digest.

use crate::error::{Error, Result};
use crate::image::Image;
use crate::index::{Index, MAX_DEPTH};
use crate::manifest::{self, Kind};
use crate::source::{BlobSource, LocalStore, SourceContexts};
use std::ops::Range;
use std::sync::Arc;

/// The OCI media types of the Docker schema 2 ones (containerd's list of Docker layer
/// types included: plain tar, zstd, and the foreign layers, which become OCI
/// non-distributable layers).
const DOCKER_TO_OCI: &[(&str, &str)] = &[
    (manifest::DOCKER_MANIFEST, manifest::OCI_MANIFEST),
    (manifest::DOCKER_LIST, manifest::OCI_INDEX),
    (manifest::DOCKER_CONFIG, manifest::OCI_CONFIG),
    (manifest::DOCKER_LAYER_GZIP, manifest::OCI_LAYER_GZIP),
    (
        "application/vnd.docker.image.rootfs.diff.tar",
        manifest::OCI_LAYER_TAR,
    ),
    (
        "application/vnd.docker.image.rootfs.diff.tar.zstd",
        manifest::OCI_LAYER_ZSTD,
    ),
    (
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    ),
    (
        "application/vnd.docker.image.rootfs.foreign.diff.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
    ),
];

const DOCKER_PREFIX: &str = "application/vnd.docker.";

/// The OCI media type for `media_type`: `Some` for a Docker schema 2 type, `None` for a
/// type that is not Docker's (OCI types, artifact types: kept as they are), and
/// `ErrorKind::Unsupported` for a Docker type without an OCI equivalent (a plugin config,
/// schema1). `what` names the content for the message.
pub fn oci_media_type(media_type: &str, what: &str) -> Result<Option<&'static str>> {
    if let Some((_, oci)) = DOCKER_TO_OCI.iter().find(|(d, _)| *d == media_type) {
        return Ok(Some(oci));
    }
    if media_type.starts_with(DOCKER_PREFIX) {
        let why = if manifest::kind_of_media_type(media_type) == Kind::Schema1 {
            "Docker schema1 is not supported".to_string()
        } else {
            "it has no OCI equivalent".to_string()
        };
        return Err(Error::unsupported(format!(
            "{what}: cannot convert media type {media_type} to OCI: {why}"
        )));
    }
    Ok(None)
}

/// `img` with OCI media types: the manifest's, the config's and every layer's. The
/// converted image reads its blobs from where `img` does (same digests). An image without
/// Docker media types is returned as it is (same digest). Makes no request.
pub fn image_to_oci(img: &Image) -> Result<Image> {
    let what = format!("image {}", img.digest());
    let bytes = img.manifest_bytes();
    let scan = Scanner::new(bytes, &what);
    let (start, top) = scan.document()?;
    let mut edits = Vec::new();

    top_media_type_edits(
        &scan,
        (start, &top),
        img.media_type(),
        (manifest::OCI_MANIFEST, "an image manifest's"),
        &what,
        &mut edits,
    )?;
    if let Some(config) = member(&top, "config") {
        let (members, _) = scan.object(config.value.start, 1)?;
        media_type_edit(&scan, &members, &what, &mut edits)?;
    }
    if let Some(layers) = member(&top, "layers") {
        for element in scan.array(layers.value.start, 1)? {
            let (members, _) = scan.object(element.start, 2)?;
            media_type_edit(&scan, &members, &what, &mut edits)?;
        }
    }
    if edits.is_empty() {
        return Ok(img.clone());
    }
    let new_bytes = apply(bytes, edits);
    let digest = crate::digest::of_bytes(&new_bytes);
    Image::new(
        img.source().clone(),
        new_bytes,
        manifest::OCI_MANIFEST.to_string(),
        digest,
    )
}

/// `idx` with OCI media types, its children converted too (nested indexes included): each
/// child entry gets the converted child's media type, digest and size. The converted
/// children are held in memory by the returned index; each image still reads its blobs
/// from where it did (a push mounts them from there). An index whose children and itself
/// have no Docker media types is returned as it is (same digest).
///
/// Fetches every child manifest (from the registry, for an index opened there). A child
/// that is neither an image nor an index (an artifact blob) is kept in an index that does
/// not change, and is `ErrorKind::Unsupported` in one that must.
pub fn index_to_oci(idx: &Index) -> Result<Index> {
    let (contexts, _op) = idx.source().own_contexts()?;
    index_to_oci_at(idx, &contexts, 0)
}

fn index_to_oci_at(idx: &Index, contexts: &SourceContexts, depth: usize) -> Result<Index> {
    let what = format!("index {}", idx.digest());
    if depth > MAX_DEPTH {
        return Err(Error::invalid_response(format!(
            "{what} nests more than {MAX_DEPTH} levels deep"
        )));
    }
    let bytes = idx.manifest_bytes();
    let scan = Scanner::new(bytes, &what);
    let (start, top) = scan.document()?;
    let mut edits = Vec::new();

    top_media_type_edits(
        &scan,
        (start, &top),
        idx.media_type(),
        (manifest::OCI_INDEX, "an index's"),
        &what,
        &mut edits,
    )?;

    let elements = match member(&top, "manifests") {
        Some(m) => scan.array(m.value.start, 1)?,
        None => Vec::new(),
    };
    let children = idx.children();
    if elements.len() != children.len() {
        return Err(Error::invalid_response(format!(
            "{what}: {} entries in \"manifests\", {} parsed",
            elements.len(),
            children.len()
        )));
    }
    let mut store = LocalStore::default();
    let mut others = Vec::new();
    for (i, (element, desc)) in elements.iter().zip(children).enumerate() {
        let child_what = format!("child {i} ({}) of {what}", desc.digest);
        let (members, _) = scan.object(element.start, 2)?;
        let converted = match manifest::kind_of_media_type(&desc.media_type) {
            Kind::Image => {
                let child = idx.child_image_in(desc, contexts)?;
                let conv = image_to_oci(&child)?;
                let changed = Changed::of(conv.digest(), desc, conv.manifest_bytes());
                conv.keep_in(&mut store);
                changed
            }
            Kind::Index => {
                let child = idx.child_index_in(desc, contexts)?;
                let conv = index_to_oci_at(&child, contexts, depth + 1)?;
                let changed = Changed::of(conv.digest(), desc, conv.manifest_bytes());
                conv.keep_in(&mut store, contexts)?;
                changed
            }
            Kind::Schema1 => {
                return Err(Error::unsupported(format!(
                    "{child_what}: cannot convert a Docker schema1 manifest to OCI"
                )))
            }
            Kind::Unknown => {
                others.push(format!(
                    "{child_what} has media type {:?}, neither an image nor an index",
                    desc.media_type
                ));
                continue;
            }
        };
        // The entry's media type (a Docker one names the kind, so it is always there).
        media_type_edit(&scan, &members, &child_what, &mut edits)?;
        if let Some(changed) = converted {
            use base64::Engine as _;
            let data = base64::engine::general_purpose::STANDARD.encode(&changed.bytes);
            for (key, text) in [
                ("digest", json_string(&changed.digest)),
                ("size", changed.bytes.len().to_string()),
                ("data", json_string(&data)),
            ] {
                if let Some(m) = member(&members, key) {
                    edits.push(Edit {
                        range: m.value.clone(),
                        text,
                    });
                }
            }
        }
    }
    if edits.is_empty() {
        return Ok(idx.clone());
    }
    if let Some(first) = others.first() {
        return Err(Error::unsupported(format!(
            "cannot convert {what} to OCI: {first}{}",
            if others.len() > 1 {
                format!(" (and {} more)", others.len() - 1)
            } else {
                String::new()
            }
        )));
    }
    let new_bytes = apply(bytes, edits);
    let digest = crate::digest::of_bytes(&new_bytes);
    Index::new(
        BlobSource::Local(Arc::new(store)),
        new_bytes,
        manifest::OCI_INDEX.to_string(),
        digest,
    )
}

/// A child whose conversion changed it: its new digest and manifest bytes.
struct Changed {
    digest: String,
    bytes: Vec<u8>,
}

impl Changed {
    fn of(digest: &str, desc: &manifest::Descriptor, bytes: &[u8]) -> Option<Changed> {
        (digest != desc.digest).then(|| Changed {
            digest: digest.to_string(),
            bytes: bytes.to_vec(),
        })
    }
}

/// Adds the edit of the `mediaType` member of `members` when it is a Docker type, and
/// returns that member's current value (None when there is none).
/// The edits of a manifest's own media type: `media_type` (what the manifest was served
/// as) must map to `expected.0` when it is a Docker one (`expected.1` names that kind for
/// the message); its `mediaType` field is rewritten, or inserted at `top.0` when a Docker
/// manifest does not say so in its JSON (the OCI one does).
fn top_media_type_edits(
    scan: &Scanner<'_>,
    top: (usize, &[Member]),
    media_type: &str,
    expected: (&str, &str),
    what: &str,
    edits: &mut Vec<Edit>,
) -> Result<()> {
    let oci = oci_media_type(media_type, what)?;
    if let Some(new) = oci {
        if new != expected.0 {
            return Err(Error::unsupported(format!(
                "{what}: its media type {media_type} is not {}",
                expected.1
            )));
        }
    }
    let written = media_type_edit(scan, top.1, what, edits)?;
    if written.is_none() && oci.is_some() {
        edits.push(Edit::insert_media_type(top.0, expected.0));
    }
    Ok(())
}

fn media_type_edit(
    scan: &Scanner<'_>,
    members: &[Member],
    what: &str,
    edits: &mut Vec<Edit>,
) -> Result<Option<String>> {
    let Some(m) = member(members, "mediaType") else {
        return Ok(None);
    };
    let Some(value) = scan.string_value(&m.value) else {
        return Err(Error::invalid_response(format!(
            "{what}: a mediaType that is not a string"
        )));
    };
    if let Some(oci) = oci_media_type(&value, what)? {
        edits.push(Edit {
            range: m.value.clone(),
            text: json_string(oci),
        });
    }
    Ok(Some(value))
}

fn member<'m>(members: &'m [Member], key: &str) -> Option<&'m Member> {
    members.iter().find(|m| m.key == key)
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// A replacement of `range` of the manifest by `text` (an insertion when it is empty).
struct Edit {
    range: Range<usize>,
    text: String,
}

impl Edit {
    /// A `"mediaType":"..."` member first in the object opening at `open`.
    fn insert_media_type(open: usize, media_type: &str) -> Edit {
        Edit {
            range: open + 1..open + 1,
            text: format!("\"mediaType\":{},", json_string(media_type)),
        }
    }
}

fn apply(bytes: &[u8], mut edits: Vec<Edit>) -> Vec<u8> {
    edits.sort_by_key(|e| e.range.start);
    let mut out = Vec::with_capacity(bytes.len() + 64);
    let mut at = 0;
    for e in edits {
        debug_assert!(e.range.start >= at, "edits do not overlap");
        out.extend_from_slice(&bytes[at..e.range.start]);
        out.extend_from_slice(e.text.as_bytes());
        at = e.range.end;
    }
    out.extend_from_slice(&bytes[at..]);
    out
}

/// A member of a JSON object: its key (decoded) and where its value is.
struct Member {
    key: String,
    value: Range<usize>,
}

/// Nesting beyond this is refused (serde_json, which parsed the manifest first, stops at
/// 128 as well).
const MAX_NESTING: usize = 128;

/// Finds the positions of members and elements in JSON text that serde_json has already
/// accepted, so that values can be replaced without touching anything else.
struct Scanner<'a> {
    b: &'a [u8],
    what: &'a str,
}

impl<'a> Scanner<'a> {
    fn new(b: &'a [u8], what: &'a str) -> Scanner<'a> {
        Scanner { b, what }
    }

    fn bad(&self, at: usize) -> Error {
        Error::invalid_response(format!(
            "{}: the manifest is not a JSON object as expected (at byte {at})",
            self.what
        ))
    }

    fn ws(&self, mut i: usize) -> usize {
        while matches!(self.b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            i += 1;
        }
        i
    }

    /// The top-level object: where it opens, and its members.
    fn document(&self) -> Result<(usize, Vec<Member>)> {
        let start = self.ws(0);
        let (members, end) = self.object(start, 0)?;
        if self.ws(end) != self.b.len() {
            return Err(self.bad(end));
        }
        Ok((start, members))
    }

    /// The end (exclusive) of the string opening at `i`.
    fn string_end(&self, i: usize) -> Result<usize> {
        if self.b.get(i) != Some(&b'"') {
            return Err(self.bad(i));
        }
        let mut j = i + 1;
        while j < self.b.len() {
            match self.b[j] {
                b'"' => return Ok(j + 1),
                b'\\' => j += 2,
                _ => j += 1,
            }
        }
        Err(self.bad(i))
    }

    fn string_value(&self, range: &Range<usize>) -> Option<String> {
        serde_json::from_slice(&self.b[range.clone()]).ok()
    }

    /// The end (exclusive) of the value starting at `i`.
    fn value_end(&self, i: usize, depth: usize) -> Result<usize> {
        match self.b.get(i) {
            Some(b'"') => self.string_end(i),
            Some(b'{') => self.object(i, depth).map(|(_, end)| end),
            Some(b'[') => self.array_end(i, depth, &mut |_| {}),
            Some(_) => {
                let mut j = i;
                while j < self.b.len() && !b",]} \t\n\r".contains(&self.b[j]) {
                    j += 1;
                }
                if j == i {
                    return Err(self.bad(i));
                }
                Ok(j)
            }
            None => Err(self.bad(i)),
        }
    }

    /// The members of the object opening at `i`, and its end (exclusive).
    fn object(&self, i: usize, depth: usize) -> Result<(Vec<Member>, usize)> {
        if depth > MAX_NESTING || self.b.get(i) != Some(&b'{') {
            return Err(self.bad(i));
        }
        let mut members = Vec::new();
        let mut j = self.ws(i + 1);
        if self.b.get(j) == Some(&b'}') {
            return Ok((members, j + 1));
        }
        loop {
            let key_end = self.string_end(j)?;
            let key = self
                .string_value(&(j..key_end))
                .ok_or_else(|| self.bad(j))?;
            j = self.ws(key_end);
            if self.b.get(j) != Some(&b':') {
                return Err(self.bad(j));
            }
            let value_start = self.ws(j + 1);
            let value_end = self.value_end(value_start, depth + 1)?;
            members.push(Member {
                key,
                value: value_start..value_end,
            });
            j = self.ws(value_end);
            match self.b.get(j) {
                Some(b',') => j = self.ws(j + 1),
                Some(b'}') => return Ok((members, j + 1)),
                _ => return Err(self.bad(j)),
            }
        }
    }

    /// The elements of the array opening at `i`.
    fn array(&self, i: usize, depth: usize) -> Result<Vec<Range<usize>>> {
        let mut elements = Vec::new();
        self.array_end(i, depth, &mut |r| elements.push(r))?;
        Ok(elements)
    }

    fn array_end(
        &self,
        i: usize,
        depth: usize,
        element: &mut dyn FnMut(Range<usize>),
    ) -> Result<usize> {
        if depth > MAX_NESTING || self.b.get(i) != Some(&b'[') {
            return Err(self.bad(i));
        }
        let mut j = self.ws(i + 1);
        if self.b.get(j) == Some(&b']') {
            return Ok(j + 1);
        }
        loop {
            let end = self.value_end(j, depth + 1)?;
            element(j..end);
            j = self.ws(end);
            match self.b.get(j) {
                Some(b',') => j = self.ws(j + 1),
                Some(b']') => return Ok(j + 1),
                _ => return Err(self.bad(j)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::of_bytes;
    use crate::ErrorKind;
    use serde_json::{json, Value};

    use std::collections::HashMap;

    /// The child manifests a converted index holds, by digest.
    fn stored_manifests(idx: &Index) -> HashMap<String, Vec<u8>> {
        match idx.source() {
            BlobSource::Local(store) => store
                .manifests
                .iter()
                .map(|(d, m)| (d.clone(), m.bytes.clone()))
                .collect(),
            _ => HashMap::new(),
        }
    }

    const FOREIGN: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

    fn local() -> BlobSource {
        BlobSource::Local(Arc::new(LocalStore::default()))
    }

    fn docker_manifest(layers: &[(&str, &str)]) -> Vec<u8> {
        // skopeo's field order: schemaVersion, mediaType, config, layers; size before digest.
        let layers: Vec<String> = layers
            .iter()
            .map(|(mt, extra)| {
                format!(
                    r#"{{"mediaType":"{mt}","size":111,"digest":"{}"{extra}}}"#,
                    of_bytes(mt.as_bytes())
                )
            })
            .collect();
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","size":159,"digest":"{}"}},"layers":[{}]}}"#,
            manifest::DOCKER_MANIFEST,
            manifest::DOCKER_CONFIG,
            of_bytes(b"config"),
            layers.join(",")
        )
        .into_bytes()
    }

    fn image(bytes: Vec<u8>, media_type: &str) -> Image {
        let digest = of_bytes(&bytes);
        Image::new(local(), bytes, media_type.to_string(), digest).unwrap()
    }

    /// `v` with every mediaType value replaced as the conversion should.
    fn expected(mut v: Value) -> Value {
        fn walk(v: &mut Value) {
            match v {
                Value::Object(map) => {
                    for (k, x) in map.iter_mut() {
                        if k == "mediaType" {
                            if let Some(oci) = oci_media_type(x.as_str().unwrap(), "t").unwrap() {
                                *x = Value::from(oci);
                            }
                        } else if k != "annotations" && k != "platform" {
                            walk(x);
                        }
                    }
                }
                Value::Array(a) => a.iter_mut().for_each(walk),
                _ => {}
            }
        }
        walk(&mut v);
        v
    }

    #[test]
    fn docker_media_types_map_to_oci_ones() {
        let cases = [
            (manifest::DOCKER_MANIFEST, manifest::OCI_MANIFEST),
            (manifest::DOCKER_LIST, manifest::OCI_INDEX),
            (manifest::DOCKER_CONFIG, manifest::OCI_CONFIG),
            (manifest::DOCKER_LAYER_GZIP, manifest::OCI_LAYER_GZIP),
            (
                "application/vnd.docker.image.rootfs.diff.tar",
                manifest::OCI_LAYER_TAR,
            ),
            (
                "application/vnd.docker.image.rootfs.diff.tar.zstd",
                manifest::OCI_LAYER_ZSTD,
            ),
            (
                FOREIGN,
                "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
            ),
            (
                "application/vnd.docker.image.rootfs.foreign.diff.tar",
                "application/vnd.oci.image.layer.nondistributable.v1.tar",
            ),
        ];
        for (docker, oci) in cases {
            assert_eq!(oci_media_type(docker, "t").unwrap(), Some(oci), "{docker}");
        }
        for kept in [
            manifest::OCI_MANIFEST,
            manifest::OCI_INDEX,
            manifest::OCI_CONFIG,
            manifest::OCI_LAYER_GZIP,
            "application/vnd.example.artifact+json",
            "",
        ] {
            assert_eq!(oci_media_type(kept, "t").unwrap(), None, "{kept}");
        }
        let e = oci_media_type("application/vnd.docker.plugin.v1+json", "image x").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert!(
            e.message.contains("image x") && e.message.contains("plugin.v1+json"),
            "{}",
            e.message
        );
        let e = oci_media_type(manifest::DOCKER_SCHEMA1_SIGNED, "t").unwrap_err();
        assert!(e.message.contains("schema1"), "{}", e.message);
    }

    #[test]
    fn a_docker_image_changes_only_its_media_types() {
        let original = docker_manifest(&[
            (manifest::DOCKER_LAYER_GZIP, ""),
            ("application/vnd.docker.image.rootfs.diff.tar", ""),
            (
                FOREIGN,
                r#","urls":["https://example.com/l"],"annotations":{"a":"application/vnd.docker.container.image.v1+json"}"#,
            ),
        ]);
        let img = image(original.clone(), manifest::DOCKER_MANIFEST);
        let oci = image_to_oci(&img).unwrap();

        assert_eq!(oci.media_type(), manifest::OCI_MANIFEST);
        assert_eq!(oci.digest(), of_bytes(oci.manifest_bytes()));
        assert_ne!(oci.digest(), img.digest());
        // Byte for byte: the original with each Docker media type string replaced.
        let text = String::from_utf8(original.clone()).unwrap();
        let want = text
            .replace(
                &format!("\"{}\"", manifest::DOCKER_MANIFEST),
                &format!("\"{}\"", manifest::OCI_MANIFEST),
            )
            .replace(
                &format!("\"mediaType\":\"{}\"", manifest::DOCKER_CONFIG),
                &format!("\"mediaType\":\"{}\"", manifest::OCI_CONFIG),
            )
            .replace(
                &format!("\"{}\"", manifest::DOCKER_LAYER_GZIP),
                &format!("\"{}\"", manifest::OCI_LAYER_GZIP),
            )
            .replace(
                "\"application/vnd.docker.image.rootfs.diff.tar\"",
                &format!("\"{}\"", manifest::OCI_LAYER_TAR),
            )
            .replace(
                &format!("\"{FOREIGN}\""),
                "\"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip\"",
            );
        assert_eq!(
            String::from_utf8(oci.manifest_bytes().to_vec()).unwrap(),
            want
        );
        let before: Value = serde_json::from_slice(&original).unwrap();
        let after: Value = serde_json::from_slice(oci.manifest_bytes()).unwrap();
        assert_eq!(after, expected(before.clone()));
        // The annotation's value, which looks like a media type, is kept.
        assert_eq!(
            after["layers"][2]["annotations"],
            before["layers"][2]["annotations"]
        );
        assert_eq!(after["layers"][2]["urls"], json!(["https://example.com/l"]));

        assert_eq!(oci.manifest().config.digest, img.manifest().config.digest);
        assert_eq!(oci.manifest().config.media_type, manifest::OCI_CONFIG);
        for (a, b) in oci.layers().iter().zip(img.layers()) {
            assert_eq!((&a.digest, a.size, &a.urls), (&b.digest, b.size, &b.urls));
        }
        // Converting again changes nothing.
        assert_eq!(image_to_oci(&oci).unwrap().digest(), oci.digest());
    }

    #[test]
    fn formatting_and_escapes_are_kept() {
        let original = format!(
            "{{\n  \"schemaVersion\": 2,\n  \"mediaType\": \"application\\/vnd.docker.distribution.manifest.v2+json\",\n  \"config\": {{\n    \"mediaType\": \"{}\",\n    \"digest\": \"{}\",\n    \"size\": 2\n  }},\n  \"layers\": [ ]\n}}\n",
            manifest::DOCKER_CONFIG,
            of_bytes(b"{}")
        );
        let img = image(original.clone().into_bytes(), manifest::DOCKER_MANIFEST);
        let oci = image_to_oci(&img).unwrap();
        let want = original
            .replace(
                "application\\/vnd.docker.distribution.manifest.v2+json",
                manifest::OCI_MANIFEST,
            )
            .replace(manifest::DOCKER_CONFIG, manifest::OCI_CONFIG);
        assert_eq!(std::str::from_utf8(oci.manifest_bytes()).unwrap(), want);
    }

    #[test]
    fn a_docker_manifest_without_a_media_type_field_gets_one() {
        let original = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{}","digest":"{}","size":2}},"layers":[]}}"#,
            manifest::DOCKER_CONFIG,
            of_bytes(b"{}")
        );
        let img = image(original.into_bytes(), manifest::DOCKER_MANIFEST);
        let oci = image_to_oci(&img).unwrap();
        let v: Value = serde_json::from_slice(oci.manifest_bytes()).unwrap();
        assert_eq!(v["mediaType"], manifest::OCI_MANIFEST);
        assert_eq!(v["config"]["mediaType"], manifest::OCI_CONFIG);
    }

    #[test]
    fn an_oci_image_is_returned_unchanged() {
        let bytes = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{}","size":2}},"layers":[{{"mediaType":"{}","digest":"{}","size":3}}],"annotations":{{"x":"{}"}}}}"#,
            manifest::OCI_MANIFEST,
            manifest::OCI_CONFIG,
            of_bytes(b"{}"),
            manifest::OCI_LAYER_GZIP,
            of_bytes(b"abc"),
            manifest::DOCKER_MANIFEST,
        );
        let img = image(bytes.into_bytes(), manifest::OCI_MANIFEST);
        let same = image_to_oci(&img).unwrap();
        assert_eq!(same.digest(), img.digest());
        assert_eq!(same.manifest_bytes(), img.manifest_bytes());
    }

    #[test]
    fn an_unmappable_docker_type_is_unsupported() {
        let bytes = docker_manifest(&[(manifest::DOCKER_LAYER_GZIP, "")]);
        let text = String::from_utf8(bytes).unwrap().replace(
            manifest::DOCKER_CONFIG,
            "application/vnd.docker.plugin.v1+json",
        );
        let img = image(text.into_bytes(), manifest::DOCKER_MANIFEST);
        let e = image_to_oci(&img).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert!(
            e.message.contains("plugin.v1+json") && e.message.contains(img.digest()),
            "{}",
            e.message
        );
    }

    /// A child of a test index.
    #[allow(clippy::large_enum_variant)] // a few of them, briefly
    enum Child {
        Image(Image),
        Index(Index),
        /// An artifact blob, neither image nor index.
        Blob,
    }

    /// An index listing `children` (each with its platform JSON), held in a local store;
    /// `extra` is appended to every entry.
    fn index_of(media_type: &str, children: Vec<(Child, Value)>, extra: &str) -> Index {
        let mut store = LocalStore::default();
        let entries: Vec<String> = children
            .into_iter()
            .map(|(child, platform)| {
                let (mt, digest, size) = match child {
                    Child::Image(img) => {
                        let e = (
                            img.media_type().to_string(),
                            img.digest().to_string(),
                            img.manifest_bytes().len(),
                        );
                        img.keep_in(&mut store);
                        e
                    }
                    Child::Index(idx) => {
                        let e = (
                            idx.media_type().to_string(),
                            idx.digest().to_string(),
                            idx.manifest_bytes().len(),
                        );
                        // Deeper than `keep_in` allows (the depth test): the child's own
                        // store is taken over as it is.
                        store.manifests.insert(
                            idx.digest().to_string(),
                            crate::source::StoredManifest {
                                bytes: idx.manifest_bytes().to_vec(),
                                media_type: idx.media_type().to_string(),
                            },
                        );
                        if let BlobSource::Local(inner) = idx.source() {
                            store.manifests.extend(inner.manifests.clone());
                            store.blobs.extend(inner.blobs.clone());
                        }
                        e
                    }
                    Child::Blob => (
                        "application/vnd.example.blob".to_string(),
                        of_bytes(b"blob"),
                        4,
                    ),
                };
                format!(
                    r#"{{"mediaType":"{mt}","size":{size},"digest":"{digest}","platform":{platform}{extra}}}"#
                )
            })
            .collect();
        let bytes = format!(
            r#"{{"schemaVersion":2,"mediaType":"{media_type}","manifests":[{}]}}"#,
            entries.join(",")
        )
        .into_bytes();
        let digest = of_bytes(&bytes);
        Index::new(
            BlobSource::Local(Arc::new(store)),
            bytes,
            media_type.to_string(),
            digest,
        )
        .unwrap()
    }

    /// A Docker image; `seed` makes its manifest (and digest) differ from the others'.
    fn docker_image(seed: &str) -> Image {
        let bytes = String::from_utf8(docker_manifest(&[(manifest::DOCKER_LAYER_GZIP, "")]))
            .unwrap()
            .replace("\"size\":111", &format!("\"size\":{}", 100 + seed.len()));
        image(bytes.into_bytes(), manifest::DOCKER_MANIFEST)
    }

    fn linux_amd64() -> Value {
        json!({"architecture":"amd64","os":"linux"})
    }

    #[test]
    fn a_docker_list_and_its_children_become_oci() {
        let amd = docker_image("amd64");
        let arm = docker_image("arm64/v8");
        let list = index_of(
            manifest::DOCKER_LIST,
            vec![
                (Child::Image(amd.clone()), linux_amd64()),
                (
                    Child::Image(arm.clone()),
                    json!({"architecture":"arm64","os":"linux","variant":"v8"}),
                ),
            ],
            r#","annotations":{"k":"v"}"#,
        );
        let oci = index_to_oci(&list).unwrap();
        assert_eq!(oci.media_type(), manifest::OCI_INDEX);
        assert_eq!(oci.digest(), of_bytes(oci.manifest_bytes()));

        let before: Value = serde_json::from_slice(list.manifest_bytes()).unwrap();
        let after: Value = serde_json::from_slice(oci.manifest_bytes()).unwrap();
        let stored = stored_manifests(&oci);
        let mut want = expected(before);
        for (i, child) in [&amd, &arm].into_iter().enumerate() {
            let conv = image_to_oci(child).unwrap();
            want["manifests"][i]["digest"] = Value::from(conv.digest());
            want["manifests"][i]["size"] = Value::from(conv.manifest_bytes().len());
            assert_eq!(oci.children()[i].digest, conv.digest());
            assert_eq!(oci.children()[i].media_type, manifest::OCI_MANIFEST);
            assert_eq!(oci.children()[i].platform, list.children()[i].platform);
            let back = oci.child_image(i).unwrap();
            assert_eq!(back.manifest_bytes(), conv.manifest_bytes());
            assert_eq!(back.layers()[0].digest, child.layers()[0].digest);
            assert!(stored.contains_key(conv.digest()));
        }
        assert_eq!(after, want, "only media types, digests and sizes changed");
        assert_eq!(index_to_oci(&oci).unwrap().digest(), oci.digest());
    }

    #[test]
    fn nested_indexes_convert_and_embedded_data_follows() {
        let img = docker_image("x");
        let inner = index_of(
            manifest::DOCKER_LIST,
            vec![(Child::Image(img.clone()), linux_amd64())],
            "",
        );
        // The outer entry embeds the inner list's bytes.
        use base64::Engine as _;
        let data = base64::engine::general_purpose::STANDARD.encode(inner.manifest_bytes());
        let outer = index_of(
            manifest::OCI_INDEX,
            vec![(Child::Index(inner.clone()), linux_amd64())],
            &format!(r#","data":"{data}""#),
        );
        let oci = index_to_oci(&outer).unwrap();
        assert_ne!(oci.digest(), outer.digest());
        let child = oci.child_index(0).unwrap();
        assert_eq!(child.media_type(), manifest::OCI_INDEX);
        assert_eq!(oci.children()[0].media_type, manifest::OCI_INDEX);
        assert_eq!(oci.children()[0].digest, child.digest());
        assert_eq!(
            oci.children()[0].verified_data().unwrap(),
            Some(child.manifest_bytes())
        );
        let leaf = child.child_image(0).unwrap();
        assert_eq!(leaf.digest(), image_to_oci(&img).unwrap().digest());
        assert_eq!(
            oci.image_for_platform(&crate::platform::Platform::linux_amd64())
                .unwrap()
                .digest(),
            leaf.digest()
        );
    }

    #[test]
    fn other_children_are_kept_only_in_an_index_that_does_not_change() {
        let oci_img = image_to_oci(&docker_image("y")).unwrap();
        let unchanged = index_of(
            manifest::OCI_INDEX,
            vec![(Child::Image(oci_img), json!({})), (Child::Blob, json!({}))],
            "",
        );
        assert_eq!(
            index_to_oci(&unchanged).unwrap().digest(),
            unchanged.digest()
        );

        let changing = index_of(
            manifest::DOCKER_LIST,
            vec![
                (Child::Image(docker_image("z")), json!({})),
                (Child::Blob, json!({})),
            ],
            "",
        );
        let e = index_to_oci(&changing).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert!(
            e.message.contains("child 1") && e.message.contains("application/vnd.example.blob"),
            "{}",
            e.message
        );
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut idx = index_of(
            manifest::DOCKER_LIST,
            vec![(Child::Image(docker_image("d")), json!({}))],
            "",
        );
        for _ in 0..=MAX_DEPTH + 1 {
            idx = index_of(
                manifest::OCI_INDEX,
                vec![(Child::Index(idx), json!({}))],
                "",
            );
        }
        let e = index_to_oci(&idx).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidResponse);
        assert!(e.message.contains("levels deep"), "{}", e.message);
    }

    #[test]
    fn the_scanner_finds_members_and_elements() {
        let text = br#" {"a" : [1, {"b":"x\"y"}, [] ,true], "c":{}, "d":-1.5e3 } "#;
        let scan = Scanner::new(text, "t");
        let (start, members) = scan.document().unwrap();
        assert_eq!(start, 1);
        let keys: Vec<&str> = members.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(keys, ["a", "c", "d"]);
        let a = scan.array(members[0].value.start, 1).unwrap();
        assert_eq!(a.len(), 4);
        let (inner, _) = scan.object(a[1].start, 2).unwrap();
        assert_eq!(scan.string_value(&inner[0].value).unwrap(), "x\"y");
        assert_eq!(&text[members[2].value.clone()], b"-1.5e3");
        for bad in [&b"[1]"[..], b"{\"a\":1", b"{\"a\" 1}", b"{} x", b"{\"a\":}"] {
            assert!(Scanner::new(bad, "t").document().is_err(), "{bad:?}");
        }
    }
}
