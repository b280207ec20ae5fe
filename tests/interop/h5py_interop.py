"""h5py <-> velprior interoperability, driven by the velprior binary.

Usage: python3 h5py_interop.py VELPRIOR_BINARY WORKDIR
1. velprior writes a corpus; h5py reads it and checks shape, dtype, chunks, attributes.
2. h5py writes files in every accepted layout (N,H,W f32; N,1,H,W f64; H,W int; a dataset
   inside a group); velprior imports/reads them and the values must match exactly.
Exits non-zero with a message on any mismatch.
"""
import json
import os
import subprocess
import sys

import h5py
import numpy as np

exe, work = sys.argv[1], sys.argv[2]


def velprior(*args):
    r = subprocess.run([exe, *args], capture_output=True, text=True, env={**os.environ, "RUST_LOG": "warn"})
    if r.returncode != 0:
        sys.exit(f"velprior {' '.join(args)} failed: {r.stderr}")
    return r.stdout


# 1. velprior -> h5py
out = os.path.join(work, "synth.h5")
velprior("data", "synth", "--family", "flatfault", "-n", "5", "--seed", "9", "-o", out)
with h5py.File(out, "r") as f:
    ds = f["velocity"]
    assert ds.shape == (5, 70, 70), ds.shape
    assert ds.dtype == np.float32, ds.dtype
    assert ds.chunks == (1, 70, 70), ds.chunks
    assert ds.compression == "gzip", ds.compression
    assert float(ds.attrs["dx"]) == 10.0 and float(ds.attrs["dz"]) == 10.0
    units = ds.attrs["units"]
    units = units.decode() if isinstance(units, bytes) else units
    assert units == "m/s", units
    v = ds[...]
    assert 1500.0 <= v.min() and v.max() <= 4500.0

# velprior's own view of the same file agrees with h5py's values.
info = json.loads(velprior("data", "info", out, "--json"))
assert abs(info["stats"]["mean"] - float(v.astype(np.float64).mean())) < 1e-3, info["stats"]

# 2. h5py -> velprior
rng = np.random.default_rng(0)
base = rng.uniform(1500, 4500, size=(3, 6, 7)).astype(np.float32)
cases = {
    "nhw_f32": (base, None),
    "nchw_f64": (base.astype(np.float64)[:, None], None),
    "hw_int": (np.round(base[0]).astype(np.int32), None),
    "group/vp": (base, None),
}
src = os.path.join(work, "from_h5py.h5")
with h5py.File(src, "w") as f:
    for name, (arr, _) in cases.items():
        f.create_dataset(name, data=arr)
    f["nhw_f32"].attrs["dx"] = 12.5
    f["nhw_f32"].attrs["dz"] = 12.5
for name, (arr, _) in cases.items():
    info = json.loads(velprior("data", "info", src, "--dataset", name, "--json"))
    expect = np.asarray(arr, dtype=np.float64).reshape(-1)
    shape = list(np.squeeze(arr).shape) if arr.ndim != 4 else [arr.shape[0], arr.shape[2], arr.shape[3]]
    if len(shape) == 2:
        shape = [1] + shape
    assert info["shape"] == shape, (name, info["shape"], shape)
    assert abs(info["stats"]["min"] - expect.min()) < 1e-3 and abs(info["stats"]["max"] - expect.max()) < 1e-3, name
    assert abs(info["stats"]["mean"] - expect.mean()) < 1e-2, (name, info["stats"]["mean"], expect.mean())
info = json.loads(velprior("data", "info", src, "--dataset", "nhw_f32", "--json"))
assert info["dx"] == 12.5, info

# A split of an h5py-written corpus keeps the exact values.
train, test = os.path.join(work, "tr.h5"), os.path.join(work, "te.h5")
velprior("data", "split", src, "--dataset", "nhw_f32", "--train", train, "--test", test, "--test-fraction", "0.34")
with h5py.File(train, "r") as a, h5py.File(test, "r") as b:
    merged = np.concatenate([a["velocity"][...], b["velocity"][...]])
    assert sorted(map(tuple, merged.reshape(3, -1))) == sorted(map(tuple, base.reshape(3, -1)))
print("h5py interop: ok")
