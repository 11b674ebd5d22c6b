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


# -------------------------------------------------------------------------------------- config
CONFIG_KEYS = """d ks k-max embd layers heads positions backbone weight-head covariance n batch steps lr
min-lr wd warmup schedule clip loss seed threads eval-every eval-n eval-tasks checkpoint-every
out resume""".split()


def config_seeds():
    t = "fuzz_config"
    every_key = (
        'd = 3\nks = [2, 3, 4]\nk-max = 5\nembd = 32\nlayers = 2\nheads = 4\npositions = 64\n'
        'backbone = "gpt2"\nweight-head = "average"\ncovariance = "diag"\nn = 32\nbatch = 4\n'
        'steps = 100\nlr = 0.002\nmin-lr = 1.5e-5\nwd = 0.01\nwarmup = 10\nschedule = "constant"\n'
        'clip = 0.5\nloss = "sorted"\nseed = 9\nthreads = 1\neval-every = 50\neval-n = [16, 32]\n'
        'eval-tasks = 8\ncheckpoint-every = 25\nout = "/nonexistent/fuzz-run"\nresume = false\n')
    put(t, "valid-every-key", every_key)
    put(t, "valid-small", 'layers = 2\nks = [2, 3]\nbackbone = "set"\nlr = 0.002\n')
    put(t, "valid-comments-whitespace", "# a run\n\n  layers   =   2   # inline\n\tembd=32\n")
    put(t, "valid-crlf", "layers = 2\r\nembd = 32\r\n")
    put(t, "valid-bom", "\ufefflayers = 2\n")
    put(t, "valid-quoted-keys", '"layers" = 2\n\'embd\' = 32\n')
    put(t, "valid-literal-strings", "backbone = 'gpt2'\nout = '''/tmp/x'''\n")
    put(t, "valid-number-forms", "steps = 1_000\nseed = 0x2a\nlayers = +3\nlr = 1e-3\nwd = 0.0\n")
    put(t, "valid-float-for-int", "steps = 100.0\n")
    put(t, "valid-int-for-float", "lr = 1\nclip = 0\n")
    put(t, "valid-string-numbers", 'layers = "4"\nks = "2,3"\n')
    put(t, "valid-resume-no-checkpoint", 'resume = true\nout = "/nonexistent/fuzz-run"\n')
    put(t, "valid-lists-of-one", "ks = [5]\neval-n = [64]\n")
    put(t, "empty", "")
    put(t, "only-comment", "# nothing\n")
    put(t, "unknown-key", "layers = 2\nwidth = 3\n")
    put(t, "not-configurable", 'device = "cpu"\nrecipe = "paper"\nconfig = "x.toml"\nhelp = true\n')
    put(t, "dashed-key", '"--layers" = 2\n')
    put(t, "wrong-type-string", 'layers = "four"\n')
    put(t, "wrong-type-bool", "lr = true\n")
    put(t, "wrong-type-list", 'ks = [2, "three"]\n')
    put(t, "float-list", "ks = [2.0, 3.5]\n")
    put(t, "nested-list", "ks = [[2, 3], [4]]\n")
    put(t, "empty-list", "ks = []\n")
    put(t, "list-for-number", "layers = [2, 3]\n")
    put(t, "table-value", "[model]\nlayers = 2\n")
    put(t, "inline-table", "layers = { value = 2 }\n")
    put(t, "dotted-key", "model.layers = 2\n")
    put(t, "array-of-tables", "[[run]]\nlayers = 2\n[[run]]\nlayers = 3\n")
    put(t, "date-value", "steps = 1979-05-27\n")
    put(t, "huge-integer", "steps = 9223372036854775807\nseed = 9223372036854775807\n")
    put(t, "integer-overflow", "steps = 9223372036854775808\n")
    put(t, "negative", "layers = -1\nseed = -1\n")
    put(t, "zero", "batch = 0\n")
    put(t, "nan-inf", "lr = nan\nmin-lr = inf\nwd = -inf\nclip = +nan\n")
    put(t, "nan-min-lr", "min-lr = nan\n")
    put(t, "huge-float", "lr = 1e308\nwd = 1e400\n")
    put(t, "non-utf8", b'layers = 2\nout = "\xff\xfe"\n')
    put(t, "non-utf8-key", b"\xc3\x28 = 2\n")
    put(t, "nul-byte", b"layers = 2\x00\n")
    put(t, "nul-escape-in-string", 'out = "runs/a\\u0000b"\n')
    put(t, "control-in-string", 'backbone = "a\\nb\\u0001"\nout = "x\\ty"\n')
    put(t, "duplicate-key", "layers = 2\nlayers = 3\n")
    put(t, "missing-value", "layers =\n")
    put(t, "unterminated-string", 'out = "abc\n')
    put(t, "unterminated-list", "ks = [2, 3\n")
    put(t, "deep-arrays", "ks = " + "[" * 2000 + "]" * 2000 + "\n")
    put(t, "deep-inline-tables", "a = " + "{ b = " * 500 + "1" + " }" * 500 + "\n")
    put(t, "deep-table-headers", "[" + ".".join(["t"] * 500) + "]\nx = 1\n")
    put(t, "long-value", 'out = "' + "x" * 3000 + '"\n')
    put(t, "long-key", "k" * 3000 + " = 1\n")
    put(t, "bad-choices", 'backbone = "rnn"\nloss = "l1"\nweight-head = "max"\ncovariance = "full"\n')
    put(t, "bad-schedule", 'schedule = "linear"\n')
    put(t, "k-max-below-ks", "ks = [2, 4]\nk-max = 3\n")
    put(t, "positions-too-small", 'backbone = "gpt2"\npositions = 4\nn = 8\n')


def config_dictionary():
    """tests/fuzz/fuzz_config.dict: every key, and the TOML tokens that matter."""
    tokens = [key + " = " for key in CONFIG_KEYS]
    tokens += ["true", "false", "nan", "inf", "[1, 2]", '"', "'", "'''", "=", "\n", "\r\n", "#",
               "[t]", "{ a = 1 }", "1e-3", "0x", "_", "\\u0000", "gpt2", "set", "average", "slot",
               "diag", "sorted", "hungarian", "cosine", "constant"]
    lines = ["# libFuzzer dictionary for fuzz_config (written by make_corpus.py): every key, and"
             " TOML's tokens."]
    for token in tokens:
        escaped = "".join(c if c.isprintable() and c not in '"\\' else "\\x%02x" % ord(c)
                          for c in token)
        lines.append('"%s"' % escaped)
    with open(os.path.join(HERE, "fuzz_config.dict"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    safetensors_seeds()
    csv_seeds()
    config_seeds()
    config_dictionary()
