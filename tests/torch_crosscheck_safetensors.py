#!/usr/bin/env python3
"""Cross-check seqgrad's safetensors files against numpy (and PyTorch / the `safetensors` package
when they are installed). Not part of ctest: run it by hand after building the tests.

    python3 tests/torch_crosscheck_safetensors.py BUILD/tests/seqgrad_tests
        In a temporary directory: numpy writes numpy.safetensors; the hidden Catch2 test
        "[crosscheck]" reads it (checking every value) and writes seqgrad.safetensors; this script
        reads that back with numpy (and torch / safetensors) and compares every value bit for bit.

    python3 tests/torch_crosscheck_safetensors.py --write FILE   numpy writes FILE
    python3 tests/torch_crosscheck_safetensors.py --read FILE    check a file the hidden test wrote

The numpy side is written from the format description alone (length prefix, JSON header,
little-endian data), so it checks seqgrad against the format, not against itself. Both sides use
the same exactly-representable values (see crosscheck_tensors() in tests/test_safetensors.cpp).
Exits 0 with a message when numpy is not installed.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    print("numpy is not installed: skipping the safetensors cross-check")
    sys.exit(0)

DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8"), "I64": np.dtype("<i8")}


def expected_tensors():
    return {
        "f32": (np.arange(6) * 0.5 - 1.0).astype(np.float32).reshape(2, 3),
        "f64": (np.arange(12) / 3.0).reshape(3, 2, 2),
        "i64": np.array([-(1 << 62), -1, 0, (1 << 62) + 7], dtype=np.int64),
        "scalar": np.array(3.25, dtype=np.float64),
        "empty": np.zeros((0, 3), dtype=np.float32),
    }


def crc32c(data: bytes) -> int:
    table = []
    for b in range(256):
        c = b
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    c = 0xFFFFFFFF
    for x in data:
        c = (c >> 8) ^ table[(c ^ x) & 0xFF]
    return c ^ 0xFFFFFFFF


def dtype_code(a):
    for code, dt in DTYPES.items():
        if a.dtype == dt:
            return code
    raise ValueError(f"no safetensors dtype for {a.dtype}")


def write_numpy(path, tensors, metadata):
    # Data stored in reverse name order, so the reader cannot rely on header order == data order.
    header, chunks, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors, reverse=True):
        # (not np.ascontiguousarray: it turns a 0-d array into shape [1])
        a = tensors[name].astype(tensors[name].dtype.newbyteorder("<"), order="C")
        b = a.tobytes()
        header[name] = {"dtype": dtype_code(a), "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        chunks.append(b)
        offset += len(b)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in chunks:
            f.write(b)


def read_numpy(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    if (8 + n) % 8:
        raise AssertionError("data section is not 8-byte aligned")
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    if raw[8] != ord("{") or raw[8 : 8 + n].rstrip(b" ")[-1:] != b"}":
        raise AssertionError("header must be a JSON object padded with trailing spaces only")
    data = raw[8 + n :]
    metadata = header.pop("__metadata__", {})
    tensors, spans = {}, []
    for name, e in header.items():
        begin, end = e["data_offsets"]
        spans.append((begin, end))
        tensors[name] = np.frombuffer(data[begin:end], dtype=DTYPES[e["dtype"]]).reshape(e["shape"])
    at = 0
    for begin, end in sorted(spans):
        if begin != at:
            raise AssertionError(f"tensors do not tile the data section at byte {at}")
        at = end
    if at != len(data):
        raise AssertionError(f"{len(data) - at} trailing bytes")
    return tensors, metadata, raw, data


def same(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def check_seqgrad_file(path):
    expected = expected_tensors()
    tensors, metadata, raw, data = read_numpy(path)
    problems = []
    if set(tensors) != set(expected):
        problems.append(f"names differ: {sorted(tensors)} vs {sorted(expected)}")
    for name, want in expected.items():
        if name in tensors and not same(tensors[name], want):
            problems.append(f"{name}: numpy read {tensors[name]!r}, expected {want!r}")
    if metadata.get("format") != "seqgrad" or metadata.get("format_version") != "1":
        problems.append(f"metadata lacks format/format_version: {metadata}")
    if metadata.get("source") != "seqgrad":
        problems.append(f"metadata 'source' not round-tripped: {metadata}")
    if metadata.get("checksum") != f"{crc32c(data):08x}":
        problems.append(f"checksum {metadata.get('checksum')} != CRC-32C of the data {crc32c(data):08x}")
    print(f"numpy: read {len(tensors)} tensors from {path}")

    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        before = len(problems)
        # torch.frombuffer over the same bytes, compared with torch's own view of the expected arrays.
        header = json.loads(raw[8 : 8 + struct.unpack("<Q", raw[:8])[0]])
        tdt = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}
        for name, want in expected.items():
            e = header[name]
            begin, end = e["data_offsets"]
            if end > begin:
                t = torch.frombuffer(bytearray(data[begin:end]), dtype=tdt[e["dtype"]]).reshape(e["shape"])
            else:
                t = torch.empty(e["shape"], dtype=tdt[e["dtype"]])
            if not torch.equal(t, torch.from_numpy(want.copy())):
                problems.append(f"{name}: torch read {t}, expected {want!r}")
        print(f"torch {torch.__version__}: " + ("values agree" if len(problems) == before else "values differ"))
    try:
        from safetensors.numpy import load_file
    except ImportError:
        load_file = None
    if load_file is not None:
        before = len(problems)
        st = load_file(path)
        for name, want in expected.items():
            if not same(st[name], want):
                problems.append(f"{name}: safetensors.numpy read {st[name]!r}, expected {want!r}")
        print("safetensors package: " + ("values agree" if len(problems) == before else "values differ"))
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tests_binary", nargs="?", help="path to the seqgrad_tests executable")
    ap.add_argument("--write", metavar="FILE", help="only write the numpy file")
    ap.add_argument("--read", metavar="FILE", help="only check a file written by the seqgrad test")
    args = ap.parse_args()

    if args.write:
        write_numpy(args.write, expected_tensors(), {"source": "numpy"})
        print(f"wrote {args.write}")
    if args.read:
        problems = check_seqgrad_file(args.read)
        for p in problems:
            print("MISMATCH:", p)
        return 1 if problems else 0
    if args.write:
        return 0
    if not args.tests_binary:
        ap.error("give the seqgrad_tests executable, or --read / --write")

    with tempfile.TemporaryDirectory(prefix="seqgrad_crosscheck_") as d:
        write_numpy(os.path.join(d, "numpy.safetensors"), expected_tensors(), {"source": "numpy"})
        env = dict(os.environ, SEQGRAD_CROSSCHECK_DIR=d)
        r = subprocess.run([args.tests_binary, "[crosscheck]"], env=env, capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stdout, r.stderr, sep="\n")
            print("FAILED: seqgrad could not read the numpy file (or write its own)")
            return 1
        print("seqgrad: read numpy.safetensors, every value identical")
        problems = check_seqgrad_file(os.path.join(d, "seqgrad.safetensors"))
    for p in problems:
        print("MISMATCH:", p)
    print("FAILED" if problems else "OK: numpy and seqgrad agree in both directions")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
