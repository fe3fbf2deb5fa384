//! Reading a layer file: one pass that checks it is what its media type says, hashing the
//! stored bytes (digest) and the uncompressed tar stream (diff_id).

use crate::digest::Hasher;
use crate::error::{Error, Result};
use crate::manifest::{OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_LAYER_ZSTD};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// How a layer's tar stream is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// The compression a layer media type stands for; None for a type that is not a layer.
    pub(super) fn of_media_type(media_type: &str) -> Option<Compression> {
        if media_type.ends_with("+gzip") || media_type.ends_with(".gzip") {
            Some(Compression::Gzip)
        } else if media_type.ends_with("+zstd") {
            Some(Compression::Zstd)
        } else if media_type.ends_with(".tar") {
            Some(Compression::None)
        } else {
            None
        }
    }

    /// What the first bytes of a file say it is; anything without a known magic number is
    /// taken for a plain tar (and then checked as one).
    fn of_content(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// The OCI media type of a layer compressed this way.
    pub(super) fn oci_media_type(self) -> &'static str {
        match self {
            Compression::None => OCI_LAYER_TAR,
            Compression::Gzip => OCI_LAYER_GZIP,
            Compression::Zstd => OCI_LAYER_ZSTD,
        }
    }

    /// For messages: what content compressed this way is.
    fn describe(self) -> &'static str {
        match self {
            Compression::None => "not compressed (no gzip or zstd header)",
            Compression::Gzip => "gzip-compressed",
            Compression::Zstd => "zstd-compressed",
        }
    }
}

/// What one pass over a layer file found.
pub(super) struct Scan {
    pub(super) compression: Compression,
    pub(super) size: u64,
    pub(super) digest: String,
    pub(super) diff_id: String,
}

/// Reads the file and hashes every byte read. A failure to read the file itself is kept
/// (as `ErrorKind::Io`), so that it is not mistaken for bad content once a decompressor or
/// the tar reader has passed it on.
struct FileReader<R> {
    inner: R,
    hasher: Hasher,
    path: PathBuf,
    failure: Option<Error>,
}

impl<R: Read> Read for FileReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.hasher.update(&buf[..n]);
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                let err = Error::io(format!("reading layer file {}", self.path.display()), &e);
                self.failure = Some(err.clone());
                Err(err.into_io())
            }
        }
    }
}

/// Hashes what passes through it (the uncompressed tar stream).
struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Walks every entry header of the tar stream `r` (skipping the entries' data), then
/// reads the rest of it (end-of-archive blocks, padding), so that all of it is hashed.
fn walk_tar<R: Read>(r: &mut R) -> io::Result<()> {
    {
        let mut archive = tar::Archive::new(&mut *r);
        for entry in archive.entries()? {
            entry?;
        }
    }
    io::copy(r, &mut io::sink())?;
    Ok(())
}

/// Decompresses `raw` as `compression` says and walks the tar inside. Returns the hasher
/// of the uncompressed stream, or None when the file is itself the tar stream.
fn walk_layer<R: Read>(raw: &mut R, compression: Compression) -> io::Result<Option<Hasher>> {
    fn walk<D: Read>(decoder: D) -> io::Result<Hasher> {
        let mut stream = HashingReader {
            inner: decoder,
            hasher: Hasher::new(),
        };
        walk_tar(&mut stream)?;
        Ok(stream.hasher)
    }
    match compression {
        Compression::None => walk_tar(raw).map(|()| None),
        Compression::Gzip => walk(flate2::read::MultiGzDecoder::new(raw)).map(Some),
        Compression::Zstd => walk(zstd::stream::read::Decoder::new(raw)?).map(Some),
    }
}

/// An I/O error with its causes (the tar crate puts the reason in a source).
fn io_error_chain(e: &io::Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = c.source();
    }
    // The tar crate quotes the bytes it could not parse: keep the message printable.
    let printable: String = text
        .chars()
        .map(|c| {
            if c.is_control() || c == '\u{fffd}' {
                '?'
            } else {
                c
            }
        })
        .take(300)
        .collect();
    printable.trim_end().to_string()
}

/// Reads up to `buf.len()` bytes (fewer only at the end of the file).
fn read_head(file: &mut std::fs::File, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// One streaming pass over the layer file at `path`: checks its content against the
/// declared compression (or detects it) and that it holds a tar stream; computes size,
/// digest and diff_id.
pub(super) fn scan_layer(
    path: &Path,
    declared: Option<Compression>,
    media_type: Option<&str>,
) -> Result<Scan> {
    let shown = path.display();
    let mut file = std::fs::File::open(path)
        .map_err(|e| Error::io(format!("cannot open layer file {shown}"), &e))?;
    let mut head = [0u8; 4];
    let got = read_head(&mut file, &mut head)
        .map_err(|e| Error::io(format!("reading layer file {shown}"), &e))?;
    let head = &head[..got];
    if head.is_empty() {
        return Err(Error::invalid_argument(format!(
            "layer file {shown} is empty, which is not a tar archive"
        )));
    }
    let found = Compression::of_content(head);
    let compression = match declared {
        Some(declared) if declared != found => {
            return Err(Error::invalid_argument(format!(
                "layer file {shown} does not match its media type {}: the content is {}, \
                 the media type says {}",
                media_type.unwrap_or_default(),
                found.describe(),
                declared.describe()
            )))
        }
        Some(declared) => declared,
        None => found,
    };

    let mut raw = FileReader {
        inner: io::BufReader::with_capacity(256 * 1024, io::Cursor::new(head.to_vec()).chain(file)),
        hasher: Hasher::new(),
        path: path.to_path_buf(),
        failure: None,
    };
    let walked = walk_layer(&mut raw, compression);
    if let Some(failure) = raw.failure.take() {
        return Err(failure);
    }
    let not_a_layer = |why: String| {
        let inside = match compression {
            Compression::None => String::new(),
            other => format!(" ({} content)", other.describe()),
        };
        Error::invalid_argument(format!(
            "layer file {shown} is not a valid tar archive{inside}: {why}"
        ))
    };
    let uncompressed = walked.map_err(|e| not_a_layer(io_error_chain(&e)))?;
    // Whatever the decompressor left unread (nothing, normally) is still part of the file.
    io::copy(&mut raw, &mut io::sink()).map_err(|e| {
        raw.failure
            .take()
            .unwrap_or_else(|| Error::io(format!("reading layer file {shown}"), &e))
    })?;

    let size = raw.hasher.len();
    let digest = raw.hasher.finish();
    let diff_id = match uncompressed {
        None => digest.clone(),
        Some(h) if h.is_empty() => {
            return Err(not_a_layer("it decompresses to nothing".into()));
        }
        Some(h) => h.finish(),
    };
    Ok(Scan {
        compression,
        size,
        digest,
        diff_id,
    })
}
