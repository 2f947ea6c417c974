"""A submission read whole: the manifest and every file it names (rulecheck.model.loader), then the county scheme
a unit names (rulecheck.model.scheme), which reads its own layers with the loader's machinery. It sits above both
so that neither imports the other's caller."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rulecheck.model.documents import Submission
from rulecheck.model.loader import Loader
from rulecheck.model.scheme import attach_scheme
from rulecheck.model.sources import no_gc


def load_submission(path: str | Path, *, classification: Any = None, allow_outside: bool = False,
                    scheme_root: str | Path | None = None,
                    declared_fields: dict[type, set[str]] | None = None) -> Submission:
    """Read a manifest and everything it references into a Submission (geometries in one projected CRS, metres).

    Raises InputError with every diagnostic found when the bundle cannot be read. `classification` is a
    rulecheck.model.landuse.Classification; by default the one of `submission.jurisdiction`.

    Every record's `source` is (path as written relative to the manifest's folder, line): the line of its
    YAML mapping, or of the `{` where its GeoJSON Feature starts. A GDAL layer (GeoPackage, Shapefile) has no
    lines: its records get `file.gpkg#layer` and the feature's fid in place of the line. Warnings (extra GIS
    attributes) are in `Submission._warnings`; reprojections in `Submission._load_notes`.

    Only files inside the manifest's folder are read (after resolving symlinks), unless `allow_outside`;
    every file is held to the limits of rulecheck.limits (docs/security.md). A county scheme named by
    `unit_plan.county_scheme: {path: ...}` is loaded too (rulecheck.model.scheme; it may also lie under
    `scheme_root`, by default the folder above the manifest's).

    `declared_fields` ({record class: names}, for a rule test's inline manifest): fields rule packs declare, which
    a record written in the YAML may then carry (kept aside as a GIS layer's extra attributes are).
    """
    # a load builds hundreds of thousands of small containers and no cycles: the cyclic collector only slows it
    with no_gc():
        loader = Loader(Path(path), classification, allow_outside=allow_outside)
        loader.declared_fields = declared_fields or {}
        try:
            submission = loader.load()
        finally:
            # each layer's `where` refers back to the loader: without this cycle the loader, and what only it
            # holds, is freed here, not by the first collection after the load (which would walk all of it)
            loader.layers.clear()
        attach_scheme(submission, Path(path), allow_outside=allow_outside, scheme_root=scheme_root)
        return submission
