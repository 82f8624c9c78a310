#!/usr/bin/env python3
"""Writes the safetensors test fixtures in Tests/NablaIOTests/Fixtures/ with the reference
Python implementation, plus a JSON file with the values the Swift tests expect.

Needs `safetensors` and `numpy` (torch is not needed):
    python3 -m venv /tmp/stvenv && /tmp/stvenv/bin/pip install safetensors numpy
    /tmp/stvenv/bin/python Scripts/make_safetensors_fixtures.py

Outputs:
  all_dtypes.safetensors        every dtype, edge values, a 0-d scalar, an empty tensor,
                                one metadata key (so the header is deterministic)
  multi_metadata.safetensors    several metadata keys (Python orders them by hash)
  expected.json                 per tensor: dtype, shape, values as strings (repr of the value,
                                "inf"/"-inf"/"nan" for specials), raw 16-bit patterns for F16/BF16,
                                and float32 -> float16 rounding cases computed by numpy.
"""
import json
import math
import os

import numpy as np
from safetensors import TensorSpec, serialize_file
from safetensors.numpy import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Tests", "NablaIOTests", "Fixtures")


def text(v):
    """A value as a string the Swift test parses with Float(_:)/Double(_:)/Int64(_:)/UInt64(_:)."""
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return repr(v)


def bf16_to_f32(bits):
    return np.array(bits, dtype=np.uint32).__lshift__(16).view(np.float32)


def main():
    os.makedirs(OUT, exist_ok=True)
    f16_bits = np.array(
        [0x0000, 0x8000, 0x3C00, 0xC000, 0x7BFF, 0x0400, 0x0001, 0x03FF, 0x8001, 0x7C00, 0xFC00, 0x7E00, 0x3555],
        dtype=np.uint16,
    )
    bf16_bits = np.array(
        [0x0000, 0x8000, 0x3F80, 0xC000, 0x7F7F, 0x0080, 0x0001, 0x807F, 0x7F80, 0xFF80, 0x7FC0, 0x3EAB],
        dtype=np.uint16,
    )
    tensors = {
        "f32": np.array([[0.0, -0.0, 1.5], [-2.25, 3.4028235e38, 1e-45]], dtype=np.float32),
        "f32_special": np.array([np.inf, -np.inf, np.nan, 0.1], dtype=np.float32),
        "f64": np.array([1.0 / 3.0, -1e300, 5e-324, np.inf], dtype=np.float64),
        "f16": f16_bits.view(np.float16),
        "i64": np.array([-(2**63), 2**63 - 1, -1, 0], dtype=np.int64),
        "i32": np.array([[-(2**31), 2**31 - 1], [-7, 0]], dtype=np.int32),
        "i16": np.array([-32768, 32767, -2], dtype=np.int16),
        "i8": np.array([-128, 127, -1], dtype=np.int8),
        "u8": np.array([0, 255, 7], dtype=np.uint8),
        "u16": np.array([0, 65535, 300], dtype=np.uint16),
        "u32": np.array([0, 2**32 - 1, 70000], dtype=np.uint32),
        "u64": np.array([0, 2**64 - 1, 2**63], dtype=np.uint64),
        "bool": np.array([True, False, True], dtype=np.bool_),
        "scalar": np.array(42.5, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
    }
    metadata = {"framework": "nabla-fixture"}

    # BF16 has no numpy dtype: pass raw bytes through the low-level serializer, which is what
    # safetensors.numpy.save_file calls too.
    keep = []
    specs = {}
    for name, arr in tensors.items():
        arr = arr.copy(order="C")  # (np.ascontiguousarray would turn a 0-d array into 1-d)
        keep.append(arr)
        specs[name] = TensorSpec(dtype=arr.dtype.name, shape=list(arr.shape), data_ptr=arr.ctypes.data, data_len=arr.nbytes)
    bf = np.ascontiguousarray(bf16_bits)
    keep.append(bf)
    specs["bf16"] = TensorSpec(dtype="bfloat16", shape=[len(bf16_bits)], data_ptr=bf.ctypes.data, data_len=bf.nbytes)
    serialize_file(specs, os.path.join(OUT, "all_dtypes.safetensors"), metadata=metadata)

    # The same tensors without BF16, through the public numpy API: must give a file whose
    # bytes Nabla reproduces too.
    save_file(tensors, os.path.join(OUT, "numpy_api.safetensors"), metadata=metadata)

    save_file(
        {"w": np.array([[1, 2], [3, 4]], dtype=np.float32), "b": np.array([0.5], dtype=np.float32)},
        os.path.join(OUT, "multi_metadata.safetensors"),
        metadata={"a": "1", "b": "two", "c": "é \"quoted\" \\ \n"},
    )

    # Sanity check: the numpy loader reads back what we wrote.
    back = load_file(os.path.join(OUT, "numpy_api.safetensors"))
    for name, arr in tensors.items():
        assert back[name].dtype == arr.dtype and back[name].shape == arr.shape
        assert np.array_equal(back[name], arr, equal_nan=arr.dtype.kind == "f")

    expected = {"metadata": metadata, "tensors": {}}
    for name, arr in tensors.items():
        entry = {
            "dtype": {"float32": "F32", "float64": "F64", "float16": "F16", "int64": "I64", "int32": "I32",
                      "int16": "I16", "int8": "I8", "uint8": "U8", "uint16": "U16", "uint32": "U32",
                      "uint64": "U64", "bool": "BOOL"}[arr.dtype.name],
            "shape": list(arr.shape),
            "values": [text(v) for v in arr.reshape(-1).tolist()],
        }
        if arr.dtype == np.float16:
            entry["bits"] = [int(b) for b in f16_bits]
            entry["values"] = [text(v) for v in arr.astype(np.float32).tolist()]
        expected["tensors"][name] = entry
    expected["tensors"]["bf16"] = {
        "dtype": "BF16",
        "shape": [len(bf16_bits)],
        "bits": [int(b) for b in bf16_bits],
        "values": [text(v) for v in bf16_to_f32(bf16_bits).tolist()],
    }

    # float32 -> float16 rounding cases (numpy rounds to nearest, ties to even).
    rng = np.random.default_rng(7)
    cases = [
        1.0 + 2.0**-11, 1.0 + 3 * 2.0**-11, 65504.0, 65519.0, 65520.0, 1e6, 2.0**-24, 2.0**-25,
        2.0**-25 * 1.0001, 3 * 2.0**-25, 2.0**-14 - 2.0**-25, 2.0**-14 - 2.0**-26, 1e-10, -1e-10,
        0.1, -0.1, 1.0 / 3.0, np.pi, 2049.0, 2051.0, 4097.0, -65536.0,
    ]
    randoms = (rng.standard_normal(150) * np.exp2(rng.integers(-30, 20, 150))).tolist()
    f32 = np.array(cases + randoms, dtype=np.float32)
    with np.errstate(over="ignore"):
        f16 = f32.astype(np.float16).view(np.uint16)
    expected["f16_rounding"] = {
        "inputs": [text(v) for v in f32.tolist()],
        "bits": [int(b) for b in f16],
    }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    for name in os.listdir(OUT):
        os.chmod(os.path.join(OUT, name), 0o644)
    print("wrote fixtures to", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
