#!/usr/bin/env python3
"""Loads a safetensors file (for example one written by Nabla) with the reference Python
implementation and prints its metadata and tensors, for manual verification.

    /tmp/stvenv/bin/python Scripts/check_safetensors_roundtrip.py model.safetensors

A Nabla-written sample comes from the NablaIO tests:
    NABLA_ROUNDTRIP_OUT=/tmp/nabla.safetensors swift test --filter testWriteAndReadFile

Needs `safetensors` and `numpy`. BF16 (no numpy dtype) is widened to float32 for printing.
Exits non-zero if Python's loader rejects the file.
"""
import sys

import numpy as np
from safetensors import deserialize, safe_open

NUMPY = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
         "I16": np.int16, "I8": np.int8, "U64": np.uint64, "U32": np.uint32, "U16": np.uint16,
         "U8": np.uint8, "BOOL": np.bool_}


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    path = sys.argv[1]
    with open(path, "rb") as f:
        raw = f.read()
    header_len = int.from_bytes(raw[:8], "little")
    print(f"{path}: {len(raw)} bytes, header {header_len} bytes")
    with safe_open(path, framework="np") as f:
        print("metadata:", f.metadata())
    # deserialize() validates the whole file and gives raw bytes for every dtype.
    for name, info in deserialize(raw):
        dtype, shape, data = info["dtype"], info["shape"], bytes(info["data"])
        if dtype.upper() in ("BF16", "BFLOAT16"):
            arr = (np.frombuffer(data, dtype="<u2").astype(np.uint32) << 16).view(np.float32).reshape(shape)
        else:
            key = {"float64": "F64", "float32": "F32", "float16": "F16", "int64": "I64", "int32": "I32",
                   "int16": "I16", "int8": "I8", "uint64": "U64", "uint32": "U32", "uint16": "U16",
                   "uint8": "U8", "bool": "BOOL"}.get(dtype, dtype.upper())
            arr = np.frombuffer(data, dtype=np.dtype(NUMPY[key]).newbyteorder("<")).reshape(shape)
        print(f"{name}: {dtype} {list(shape)} {arr.tolist()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
