#!/usr/bin/env python3
"""make_corpus.py - writes the committed seed corpora of the fuzz targets (tests/fuzz/corpus/).

   python3 tests/fuzz/make_corpus.py

Seeds are small, named after what they exercise, and deterministic (rerunning rewrites the same
bytes). Inputs that once broke a target are added to the corpus by hand as regression-<what>
files and are not written here.
"""
import json
import math
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8", "surrogateescape"))


# ------------------------------------------------------------------------------- safetensors
FORMATS = {"F32": "f", "F64": "d", "I64": "q"}


def safetensors(tensors, metadata=None, pad=True):
    """tensors: list of (name, dtype, shape, values); laid out in order."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, values in tensors:
        raw = struct.pack("<%d%s" % (len(values), FORMATS[dtype]), *values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def raw_safetensors(header_text, data=b""):
    text = header_text.encode("utf-8", "surrogateescape") if isinstance(header_text, str) else header_text
    return struct.pack("<Q", len(text)) + text + data


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def safetensors_seeds():
    t = "fuzz_safetensors"
    small = safetensors([("w", "F32", [2, 2], [1, 2, 3, 4]), ("step", "I64", [], [7])], {"k": "v"})
    put(t, "valid-small", small)
    put(t, "valid-f64-i64", safetensors([("a", "F64", [3], [0.5, -1, 2]), ("i", "I64", [2], [-3, 1 << 40])]))
    put(t, "valid-empty-tensor", safetensors([("e", "F32", [0, 3], []), ("s", "F32", [], [1])]))
    put(t, "valid-no-tensors", safetensors([], {"config": '{"d": 8}'}))
    put(t, "valid-nan-inf", safetensors([("x", "F32", [4], [math.nan, math.inf, -math.inf, 1e-45])]))
    put(t, "valid-unpadded", safetensors([("w", "F32", [1], [1])], pad=False))
    put(t, "valid-unicode-metadata", safetensors([("µ→ü", "F32", [1], [1])], {"ключ": "värde"}))
    put(t, "valid-checkpoint-like", safetensors(
        [("step", "I64", [], [30]), ("rng.data", "I64", [5], [1, 2, 3, 4, 5]),
         ("adamw.m.w", "F32", [2, 3], [0.1] * 6), ("adamw.v.w", "F32", [2, 3], [0.01] * 6)],
        {"checkpoint.format": "tgmm-training-state-1", "checkpoint.step": "30",
         "checkpoint.optimizer": "adamw", "checkpoint.model_hash": "0123456789abcdef"}))
    for cut in (0, 4, 7, 8, 20, len(small) - 17, len(small) - 1):
        put(t, "truncated-at-%d" % cut, small[:cut])
    put(t, "trailing-garbage", small + b"xyz")
    two = lambda a, b: raw_safetensors(json.dumps({"a": a, "b": b}), bytes(16))
    put(t, "offsets-overlap", two(entry("F32", [2], 0, 8), entry("F32", [2], 4, 12)))
    put(t, "offsets-gap", two(entry("F32", [2], 0, 8), entry("F32", [1], 12, 16)))
    put(t, "offsets-past-end", raw_safetensors(json.dumps({"a": entry("F32", [4], 8, 24)}), bytes(16)))
    put(t, "offsets-reversed", raw_safetensors(json.dumps({"a": entry("F32", [0], 8, 0)}), bytes(8)))
    put(t, "offsets-huge", raw_safetensors(json.dumps({"a": entry("F32", [1], 2**64 - 4, 2**64 - 1)}), bytes(4)))
    put(t, "offsets-not-integers", raw_safetensors('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0.0,4]}}', bytes(4)))
    put(t, "shape-mismatch", raw_safetensors(json.dumps({"a": entry("F32", [3], 0, 8)}), bytes(8)))
    put(t, "shape-huge", raw_safetensors(json.dumps({"a": entry("F32", [2**62, 2**62], 0, 0)})))
    put(t, "shape-huge-with-zero", raw_safetensors(json.dumps({"a": entry("F32", [2**40, 2**40, 0], 0, 0)})))
    put(t, "shape-zero-then-huge", raw_safetensors(json.dumps({"a": entry("F64", [0, 2**63 - 1, 2**63 - 1], 0, 0)})))
    put(t, "shape-int64-max", raw_safetensors(json.dumps({"a": entry("I64", [2**63 - 1], 0, 8)}), bytes(8)))
    put(t, "shape-uint64-max", raw_safetensors(json.dumps({"a": entry("I64", [2**64 - 1], 0, 8)}), bytes(8)))
    put(t, "shape-negative", raw_safetensors(json.dumps({"a": entry("F32", [-1], 0, 4)}), bytes(4)))
    put(t, "shape-float", raw_safetensors('{"a":{"dtype":"F32","shape":[1e30],"data_offsets":[0,4]}}', bytes(4)))
    put(t, "shape-rank-many", raw_safetensors(json.dumps({"a": entry("F32", [1] * 64, 0, 4)}), bytes(4)))
    put(t, "dtype-unknown", raw_safetensors(json.dumps({"a": entry("BF16", [2], 0, 4)}), bytes(4)))
    put(t, "dtype-not-string", raw_safetensors('{"a":{"dtype":1,"shape":[1],"data_offsets":[0,4]}}', bytes(4)))
    put(t, "header-length-huge", struct.pack("<Q", 2**63) + b"{}")
    put(t, "header-length-over-limit", struct.pack("<Q", 100_000_001) + b"{}")
    put(t, "header-length-past-file", struct.pack("<Q", 100) + b"{}")
    put(t, "header-not-json", raw_safetensors('{"a":'))
    put(t, "header-array", raw_safetensors("[1,2,3]"))
    put(t, "header-empty-object", raw_safetensors("{}"))
    put(t, "header-bom", raw_safetensors(b"\xef\xbb\xbf{}"))
    put(t, "header-nul", raw_safetensors(b"{}\x00\x00\x00\x00\x00\x00"))
    put(t, "header-non-utf8-name", raw_safetensors(b'{"\xff\xfe":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', bytes(4)))
    put(t, "header-non-utf8-metadata", raw_safetensors(b'{"__metadata__":{"k":"\xc3\x28"}}'))
    put(t, "header-duplicate-name", raw_safetensors('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                                    '"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', bytes(4)))
    put(t, "header-duplicate-field", raw_safetensors('{"a":{"dtype":"F32","dtype":"F64","shape":[1],"data_offsets":[0,4]}}', bytes(4)))
    put(t, "header-deep-nesting", raw_safetensors("[" * 2000 + "]" * 2000))
    put(t, "metadata-not-strings", raw_safetensors('{"__metadata__":{"k":1,"l":[1]}}'))
    put(t, "metadata-not-object", raw_safetensors('{"__metadata__":"x"}'))
    put(t, "entry-missing-fields", raw_safetensors('{"a":{"dtype":"F32"}}'))
    put(t, "entry-not-object", raw_safetensors('{"a":[1,2]}'))
    put(t, "empty", b"")


# ----------------------------------------------------------------------------------------- csv
def csv_seeds():
    t = "fuzz_csv"
    put(t, "valid-header", "x,y,z\n1,2,3\n-4.5,5e-3,6E+2\n")
    put(t, "valid-no-header", "1,2\n3,4\n")
    put(t, "valid-spaces-tabs", " 1 ,\t2\t\n3 , 4\n")
    put(t, "valid-blank-lines", "\n1,2\n\n\n3,4\n\n")
    put(t, "valid-crlf", "a,b\r\n1,2\r\n3,4\r\n")
    put(t, "valid-bom", "\ufeffx,y\n1,2\n")
    put(t, "valid-bom-no-header", "\ufeff1,2\n3,4\n")
    put(t, "valid-one-column", "v\n1\n2\n3\n")
    put(t, "valid-no-final-newline", "1,2\n3,4")
    put(t, "valid-hex-and-plus", "0x1p3,+2\n-0x10,.5\n")
    put(t, "valid-limits", "1e100,-1e100\n1e-320,0\n")
    put(t, "valid-long-line", ",".join(["1.25"] * 40) + "\n" + ",".join(["2"] * 40) + "\n")
    put(t, "ragged-short", "1,2,3\n4,5\n")
    put(t, "ragged-long", "1,2\n3,4,5\n")
    put(t, "nan", "1,2\nnan,3\n")
    put(t, "inf", "1,inf\n-INFINITY,2\n")
    put(t, "overflow", "1,1e400\n")
    put(t, "huge-1e300", "1,2\n1e300,3\n")
    put(t, "empty", "")
    put(t, "only-blank-lines", "\n \n\t\r\n")
    put(t, "only-header", "x,y\n")
    put(t, "no-columns", ",\n,\n")
    put(t, "empty-field", "1,\n2,3\n")
    put(t, "word-in-data", "1,2\n3,four\n")
    put(t, "non-utf8", b"1,2\n\xff\xfe,3\n")
    put(t, "nul-byte", b"1,2\n3\x00,4\n")
    put(t, "quoted-fields", '"a","b"\n"1","2"\n')
    put(t, "semicolons", "1;2\n3;4\n")
    put(t, "cr-only-line-ends", "1,2\r3,4\r")


if __name__ == "__main__":
    safetensors_seeds()
    csv_seeds()
