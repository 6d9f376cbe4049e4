"""Before any work: the data files an experiment's config names must be there.

An experiment names its data in a config field ``dataset`` (one name) or ``datasets`` (several);
the ``paper`` scale names the paper's own data (MNIST, CIFAR-10, ...), the smaller scales the
bundled digits. A run that would stop at its first ``data.load`` after minutes of other work, or a
reproduction that would fail one experiment an hour in, is stopped here instead, with one message
naming every missing data set, its files and where they were looked for.

A config with ``skip_missing=True`` asks to skip the data sets it cannot find, so its data sets
are not required.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from advgeom import data
from advgeom.errors import DataError

SPLITS = ("train", "test")


def required_data(cfg: Any) -> tuple[str, ...]:
    """The file-backed data sets (:data:`advgeom.data.FILE_BACKED`) a config cannot run without."""
    if getattr(cfg, "skip_missing", False):
        return ()
    names = []
    single = getattr(cfg, "dataset", None)
    if isinstance(single, str):
        names.append(single)
    several = getattr(cfg, "datasets", None)
    if isinstance(several, (tuple, list)):
        names += [n for n in several if isinstance(n, str)]
    canonical = (data.canonical_name(n) for n in names)
    return tuple(dict.fromkeys(n for n in canonical if n in data.FILE_BACKED))


def missing_data(names: Iterable[str], data_dir: Path | None) -> dict[str, str]:
    """``{data set: why it cannot be had}`` for each name whose files are neither found nor
    downloadable (downloading into the cache when it can)."""
    missing = {}
    for name in dict.fromkeys(names):
        for split in SPLITS:
            try:
                data.locate(name, root=data_dir, split=split)
            except DataError as err:
                missing[name] = str(err)
                break
    return missing


def check_data(needs: Iterable[tuple[str, Any]], data_dir: Path | None) -> None:
    """Raise one DataError naming every data set that ``needs`` (``(experiment id, config)``
    pairs) names and that is missing; the user's fix is in the loaders' messages it quotes."""
    by_name: dict[str, list[str]] = {}
    for exp_id, cfg in needs:
        for name in required_data(cfg):
            by_name.setdefault(name, []).append(exp_id)
    missing = missing_data(by_name, data_dir)
    if not missing:
        return
    parts = [f"{name} (needed by {', '.join(by_name[name])}): {why}" for name, why in
             missing.items()]
    raise DataError(
        f"{len(missing)} data set{'s' if len(missing) > 1 else ''} missing, nothing was run: "
        + " | ".join(parts)
    )
