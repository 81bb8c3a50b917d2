"""What the person and the clerk see: plain verdicts (verdict.py), in English and French,
and the person's full-screen local page (page.py). Nothing personal passes through here:
only prompts, part problems, EAR status, decision and reason codes.

Code outside edge/screen imports the names below and nothing deeper
(tests/test_architecture.py)."""

from edge.screen.page import Screen, serve
from edge.screen.verdict import LANGS, Plain, Verdict, from_error, from_result

__all__ = ["LANGS", "Plain", "Screen", "Verdict", "from_error", "from_result", "serve"]
