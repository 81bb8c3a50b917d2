"""What the person and the clerk see: plain verdicts (verdict.py), in English and French,
and the person's full-screen local page (page.py). Nothing personal passes through here:
only prompts, part problems, EAR status, decision and reason codes."""
