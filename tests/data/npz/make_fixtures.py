#!/usr/bin/env python3
"""Generate the small .npz/.npy fixtures for tests/unit/npz_test.cpp WITHOUT numpy.

numpy was not available where these were made, so this script reproduces what numpy writes:
  * np.savez_compressed: zipfile.ZipFile(mode="w", compression=ZIP_DEFLATED, allowZip64=True) and
    zf.open("<key>.npy", "w", force_zip64=True), as numpy/lib/_npyio_impl.py does;
  * .npy members with numpy/lib/format.py's header layout (dict repr, 21-digit growth padding,
    padded to 64 bytes with a final newline);
  * object arrays pickled by Python's own pickler (protocol 4, as numpy 2's write_array does),
    through stand-in classes registered as numpy._core.multiarray._reconstruct / numpy.ndarray /
    numpy.dtype whose __reduce__ returns the same tuples numpy's C implementation returns.
Run: python3 make_fixtures.py  (writes python_labels.npz and idtracker_like.npy here)
"""
import os
import pickle
import struct
import sys
import types
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))


def npy(descr, shape, payload, fortran=False, version=(1, 0)):
    header = "{'descr': %r, 'fortran_order': %s, 'shape': %r, }" % (descr, fortran, tuple(shape))
    if shape:
        header += " " * (21 - len(repr(shape[-1 if fortran else 0])))
    fmt = "<H" if version == (1, 0) else "<I"
    hlen = len(header) + 1
    pad = (64 - (6 + 2 + struct.calcsize(fmt) + hlen) % 64) % 64
    header = header + " " * pad + "\n"
    return (b"\x93NUMPY" + bytes(version) + struct.pack(fmt, len(header)) + header.encode("latin1") + payload)


# --- stand-ins for numpy's pickling entry points ------------------------------------------------
numpy_mod = types.ModuleType("numpy")
core_mod = types.ModuleType("numpy._core")
multiarray_mod = types.ModuleType("numpy._core.multiarray")
# numpy 1.x pickles name numpy.core.multiarray; the same stand-ins serve both spellings.
old_core_mod = types.ModuleType("numpy.core")
old_multiarray_mod = types.ModuleType("numpy.core.multiarray")


def _reconstruct(*args):  # never called: we only pickle
    raise RuntimeError


_reconstruct.__module__ = "numpy._core.multiarray"
_reconstruct.__qualname__ = "_reconstruct"
def scalar(*args):
    raise RuntimeError


scalar.__qualname__ = "scalar"
for mod in (multiarray_mod, old_multiarray_mod):
    mod._reconstruct = _reconstruct
    mod.scalar = scalar


def use_module(name):
    """Make pickle name the stand-ins as numpy.<name>.multiarray."""
    _reconstruct.__module__ = scalar.__module__ = "numpy.%s.multiarray" % name


class dtype:  # noqa: N801 - numpy's name
    def __init__(self, code, state):
        self.code, self.state = code, state

    def __reduce__(self):
        return (dtype, (self.code, False, True), self.state)


dtype.__module__ = "numpy"


class ndarray:  # noqa: N801
    pass


ndarray.__module__ = "numpy"
numpy_mod.dtype = dtype
numpy_mod.ndarray = ndarray
sys.modules.update({"numpy": numpy_mod, "numpy._core": core_mod, "numpy._core.multiarray": multiarray_mod,
                    "numpy.core": old_core_mod, "numpy.core.multiarray": old_multiarray_mod})


class ObjectArray:
    def __init__(self, shape, items):
        self.shape, self.items = shape, items

    def __reduce__(self):
        odtype = dtype("O8", (3, "|", None, None, None, -1, -1, 63))
        return (_reconstruct, (ndarray, (0,), b"b"), (1, self.shape, odtype, False, list(self.items)))


F8 = (3, "<", None, None, None, -1, -1, 0)


class NumericArray:
    def __init__(self, shape, code, raw):
        self.shape, self.code, self.raw = shape, code, raw

    def __reduce__(self):
        return (_reconstruct, (ndarray, (0,), b"b"), (1, self.shape, dtype(self.code, F8), False, self.raw))


class Scalar:
    def __init__(self, code, raw):
        self.code, self.raw = code, raw

    def __reduce__(self):
        return (scalar, (dtype(self.code, F8), self.raw))


def ucs4(strings, width):
    return b"".join(s.encode("utf-32-le").ljust(4 * width, b"\0") for s in strings)


def main():
    use_module("_core")
    names = ObjectArray((3,), ["attack", "investigation", "other_interaction"])
    obj_pickle = pickle.dumps(names, protocol=4)
    members = [
        ("group", npy("<U2", (), ucs4(["g1"], 2))),
        ("sequence", npy("<U5", (), ucs4(["seq_\u00e4"], 5))),
        ("label_format", npy("<U18", (), ucs4(["individual_pair_v1"], 18))),
        ("frames", npy("<i4", (3,), struct.pack("<3i", 10, 11, 250))),
        ("labels", npy("<i4", (3,), struct.pack("<3i", 0, 2, 1))),
        ("individual_ids", npy("<i4", (3, 2), struct.pack("<6i", 0, 1, 1, -1, -1, -1))),
        ("label_ids", npy("<i8", (3,), struct.pack("<3q", 0, 1, 2))),
        ("label_names", npy("|O", (3,), obj_pickle)),
        # Fortran-order 2x3 float64: logical [[1,2,3],[4,5,6]] stored column by column.
        ("fortran", npy("<f8", (2, 3), struct.pack("<6d", 1, 4, 2, 5, 3, 6), fortran=True)),
        ("big_endian", npy(">i4", (2,), struct.pack(">2i", 7, -8))),
        ("flags", npy("|b1", (4,), bytes([1, 0, 0, 1]))),
        ("v2", npy("<u2", (2,), struct.pack("<2H", 1, 65535), version=(2, 0))),
    ]
    with zipfile.ZipFile(os.path.join(HERE, "python_labels.npz"), mode="w", compression=zipfile.ZIP_DEFLATED,
                         allowZip64=True) as zf:
        for key, data in members:
            # A fixed timestamp keeps the fixture reproducible (numpy uses the current time).
            info = zipfile.ZipInfo(key + ".npy", date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w", force_zip64=True) as f:
                f.write(data)
    print("wrote python_labels.npz;", len(obj_pickle), "byte label_names pickle:", obj_pickle.hex())

    # An idtracker.ai-style trajectories dict (3 frames x 2 animals x 2, one NaN animal-frame), in
    # protocol 2 with numpy 1.x names, like trajectorytools' trajectories_with_points.npy: bytes
    # then travel as _codecs.encode(text, 'latin1').
    use_module("core")
    nan = float("nan")
    xy = [10.5, 20.25, 30.0, 40.0, 11.5, 21.25, nan, nan, 12.5, 22.25, 32.0, 42.0]
    traj = NumericArray((3, 2, 2), "f8", struct.pack("<12d", *xy))
    d = {"trajectories": traj, "git_commit": "0", "frames_per_second": 25,
         "body_length": Scalar("f8", struct.pack("<d", 57.5)), "setup_points": {"border": None}}
    outer = ObjectArray((), [d])
    with open(os.path.join(HERE, "idtracker_like.npy"), "wb") as f:
        f.write(npy("|O", (), pickle.dumps(outer, protocol=2)))
    print("wrote idtracker_like.npy")


if __name__ == "__main__":
    main()
