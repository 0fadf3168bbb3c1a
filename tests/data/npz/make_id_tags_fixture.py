#!/usr/bin/env python3
"""Generate id_tags_object.npz for tests/unit/id_tag_columns_test.cpp WITHOUT numpy.

It is what the reference's Dataset.save_id_labels writes (np.savez_compressed of object arrays:
`ids` sorted by str(id), one object array per field aligned with it, and `meta__<key>` one-element
arrays), built with the numpy stand-ins of make_fixtures.py.
Run: python3 make_id_tags_fixture.py
"""
import os
import pickle
import zipfile

import make_fixtures as mf

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    mf.use_module("_core")

    def obj(items):
        return mf.npy("|O", (len(items),), pickle.dumps(mf.ObjectArray((len(items),), items), protocol=4))

    members = [
        ("ids", obj([0, 1, 2])),
        ("category", obj(["a", "b", None])),
        ("focal", obj([True, False, None])),
        ("weight", obj([1.5, 2.0, 3])),
        ("meta__source", obj(["test"])),
    ]
    with zipfile.ZipFile(os.path.join(HERE, "id_tags_object.npz"), mode="w", compression=zipfile.ZIP_DEFLATED,
                         allowZip64=True) as zf:
        for key, data in members:
            info = zipfile.ZipInfo(key + ".npy", date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w", force_zip64=True) as f:
                f.write(data)
    print("wrote id_tags_object.npz")


if __name__ == "__main__":
    main()
