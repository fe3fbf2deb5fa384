#!/usr/bin/env python3
"""mklayer.py OUT SIZE_BYTES: an incompressible gzip layer for scripts/bench.sh.

A tar holding one file, data.bin, of SIZE_BYTES random bytes (os.urandom), gzipped with
deflate's stored blocks (level 0: what `gzip -1` ends up emitting for random bytes, at a
tenth of the time). Deterministic headers (mtime 0, uid/gid 0), so only the bytes vary.
Streams: memory stays at a few MiB whatever the size.
"""
import gzip
import os
import sys
import tarfile


class RandomReader:
    """A file-like object yielding `size` random bytes."""

    def __init__(self, size):
        self.left = size

    def read(self, n=-1):
        if n is None or n < 0 or n > self.left:
            n = self.left
        n = min(n, 1 << 20)
        self.left -= n
        return os.urandom(n)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: mklayer.py OUT SIZE_BYTES")
    out, size = sys.argv[1], int(sys.argv[2])
    with open(out, "wb") as f:
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, compresslevel=0, mtime=0) as gz:
            with tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                info = tarfile.TarInfo("data.bin")
                info.size = size
                info.mtime = 0
                info.mode = 0o644
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                tar.addfile(info, RandomReader(size))


if __name__ == "__main__":
    main()
