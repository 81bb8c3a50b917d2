"""The rig for tests: rig.mrtd.pcscd behind tests.rig.require (skip locally, fail in CI).

The fixtures (conftest.py `rig`, test_cli_e2e.py `emulated`) are module-scoped: a worker
holds the machine-wide rig lock only while one rig module runs, so pytest-xdist workers
take turns instead of colliding on pcscd's socket and the vpcd ports.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from edge.mrtd.errors import TransportError
from rig.mrtd.pcscd import PcscRig, missing_parts, pcsc_rig, port_open
from tests.rig import require

__all__ = ["PcscRig", "open_rig", "port_open"]


@contextlib.contextmanager
def open_rig(workdir: Path, *, with_server: bool = True) -> Iterator[PcscRig]:
    missing = missing_parts()
    require(not missing, ", ".join(missing))
    try:
        with pcsc_rig(workdir, with_server=with_server) as rig:
            yield rig
    except TransportError as exc:
        if exc.code != "pcsc.busy":
            raise
        require(False, str(exc))
