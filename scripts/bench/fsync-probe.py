#!/usr/bin/env python3
"""The disk's own fsync latency, as a reference for the ingest p99: appends WRITE_BYTES and
fdatasync()s a file in DIRECTORY for SECONDS, as the store's WAL does, and prints
"fdatasync_per_s p50_ms p99_ms". Usage: fsync-probe.py DIRECTORY SECONDS [WRITE_BYTES]"""
import os
import sys
import time

directory, seconds = sys.argv[1], float(sys.argv[2])
write_bytes = int(sys.argv[3]) if len(sys.argv) > 3 else 256 * 1024
path = os.path.join(directory, "fsync-probe.bin")
block = os.urandom(write_bytes)
latencies = []
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
try:
    end = time.monotonic() + seconds
    written = 0
    while time.monotonic() < end:
        os.write(fd, block)
        written += write_bytes
        if written >= 64 * 1024 * 1024:  # reuse the file's blocks, as the WAL does after a restart
            os.lseek(fd, 0, os.SEEK_SET)
            written = 0
        start = time.monotonic()
        os.fdatasync(fd)
        latencies.append(time.monotonic() - start)
finally:
    os.close(fd)
    os.unlink(path)
latencies.sort()
def percentile(p):
    return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000
print(f"{len(latencies) / seconds:.0f} {percentile(0.5):.2f} {percentile(0.99):.2f}")
