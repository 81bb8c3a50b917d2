"""`edgeproof passport`: the reader's commands (edge/mrtd/cli.py), and the test rig's
`emulate` and `make-doc` (rig/mrtd/cli.py) when the rig is installed.

Why the group is put together here: edge may not import rig (the device release carries no
rig file), so the reader's module cannot add the emulator's commands itself; the command
line, which may import both, does.
"""

from __future__ import annotations

import importlib.util
from typing import Any


def register(subparsers: Any) -> None:
    from edge.mrtd.cli import register as register_reader

    register_reader(subparsers)
    if importlib.util.find_spec("rig") is None:  # an install without the test rig
        return
    from rig.mrtd.cli import add_commands

    add_commands(subparsers.choices["passport"])
