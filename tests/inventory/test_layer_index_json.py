"""A layer index survives JSON: what `build` remembers of a user image it read once."""

from __future__ import annotations

import io
import json
import tarfile

from audit.inventory.image import layer_index_from_json, layer_index_to_json, scan_layer

CONDA_META = {
    "name": "six", "version": "1.16.0", "build": "pyh6c4a22f_0", "subdir": "noarch",
    "channel": "https://conda.anaconda.org/conda-forge/noarch", "depends": ["python"],
    "url": "https://conda.anaconda.org/conda-forge/noarch/six-1.16.0-pyh6c4a22f_0.tar.bz2",
}  # fmt: skip
DPKG = b"""Package: curl
Status: install ok installed
Version: 7.88.1-10+deb12u5
Architecture: amd64

Package: tzdata
Status: install ok installed
Version: 2024a-0+deb12u1
Architecture: all
"""


def layer_tar() -> bytes:
    files = {
        "opt/env/conda-meta/six-1.16.0-pyh6c4a22f_0.json": json.dumps(CONDA_META).encode(),
        "opt/env/lib/python3.11/site-packages/attrs-23.2.0.dist-info/METADATA": (
            b"Metadata-Version: 2.1\nName: attrs\nVersion: 23.2.0\n"
        ),
        "opt/env/lib/python3.11/site-packages/attrs-23.2.0.dist-info/INSTALLER": b"uv\n",
        "var/lib/dpkg/status": DPKG,
        "etc/.wh.motd": b"",
        "srv/.wh..wh..opq": b"",
    }
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_layer_index_round_trips_through_json() -> None:
    index = scan_layer(io.BufferedReader(io.BytesIO(layer_tar())), "layer")
    kinds = sorted(kind for kind, _ in index.files.values())
    assert kinds == ["conda", "installer", "metadata", "system"]
    assert index.whiteouts == {"etc/motd"} and index.opaque == {"srv"}
    encoded = json.loads(json.dumps(layer_index_to_json(index)))  # plain JSON, no objects
    assert layer_index_from_json(encoded) == index
    assert json.dumps(layer_index_to_json(index), sort_keys=True) == json.dumps(
        layer_index_to_json(layer_index_from_json(encoded)), sort_keys=True
    )
