"""Where results live: atomic files, the run folder and the SQLite catalog.

A leaf of the package: it imports neither models nor experiments, so a run can be read, listed and
re-plotted without recomputing anything.
"""

from advgeom.store.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text, read_json
from advgeom.store.catalog import Catalog, RunRecord
from advgeom.store.rundir import RunDir

__all__ = [
    "Catalog",
    "RunDir",
    "RunRecord",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "read_json",
]
