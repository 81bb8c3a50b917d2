"""The person's full-screen page: served on loopback by the device service, shown by
Chromium in kiosk mode (firmware/image/edgeproof-kiosk.service).

One state object, replaced as the session moves on (consent, passport, each gesture with its
countdown, the verdict); the page polls /state (JSON) four times a second. Polling rather
than server-sent events keeps the server a plain stdlib `http.server` with no open streams
to manage. The state holds prompts, part problems and verdict words only: the document
number, dates, names and images never reach it (tests/edge/test_screen.py checks).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from edge.screen.verdict import LANGS, Verdict

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "idle": "Welcome",
        "idle.detail": "The clerk will start your check.",
        "consent": "May we check that you are the passport's holder?",
        "consent.detail": (
            "The device reads your passport's chip and films your face for a few seconds. "
            "It compares the two here, on this device, then erases them. Nothing about you "
            "is kept or sent: only the result. You do not have to accept: the clerk can "
            "check your passport by hand instead. Tell the clerk yes or no."
        ),
        "passport": "Place your passport on the reader",
        "passport.detail": "Open it at the photo page and leave it on the reader.",
        "camera": "Look at the camera",
        "camera.detail": "Follow the instructions on this screen.",
        "working": "Checking…",
        "working.detail": "Please wait a moment.",
        "problem": "Out of order",
        "problem.detail": "Please see the clerk.",
        "blink": "Blink once",
        "turn_left": "Turn your head to your left, then back",
        "turn_right": "Turn your head to your right, then back",
        "smile": "Smile",
        "extra": "Not sure yet: blink or turn your head now",
        "step": "Step {step} of {total}",
        "seconds": "seconds",
    },
    "fr": {
        "idle": "Bienvenue",
        "idle.detail": "L'agent va lancer votre vérification.",
        "consent": "Pouvons-nous vérifier que vous êtes le titulaire du passeport ?",
        "consent.detail": (
            "L'appareil lit la puce de votre passeport et filme votre visage quelques "
            "secondes. Il compare les deux ici, sur cet appareil, puis les efface. Rien sur "
            "vous n'est gardé ni envoyé : seulement le résultat. Vous pouvez refuser : "
            "l'agent contrôlera alors votre passeport à la main. Répondez oui ou non à l'agent."
        ),
        "passport": "Posez votre passeport sur le lecteur",
        "passport.detail": "Ouvrez-le à la page de la photo et laissez-le sur le lecteur.",
        "camera": "Regardez la caméra",
        "camera.detail": "Suivez les instructions de cet écran.",
        "working": "Vérification…",
        "working.detail": "Merci de patienter un instant.",
        "problem": "Hors service",
        "problem.detail": "Adressez-vous à l'agent.",
        "blink": "Clignez des yeux une fois",
        "turn_left": "Tournez la tête vers votre gauche, puis revenez",
        "turn_right": "Tournez la tête vers votre droite, puis revenez",
        "smile": "Souriez",
        "extra": "Pas encore sûr : clignez des yeux ou tournez la tête",
        "step": "Étape {step} sur {total}",
        "seconds": "secondes",
    },
}


class Screen:
    """The page's current state; safe to update from the session thread."""

    def __init__(self, lang: str = "en") -> None:
        self._lock = threading.Lock()
        self._lang = lang if lang in LANGS else "en"
        self._state: dict[str, Any] = {}
        self._seq = 0
        self._pending: tuple[float, str] | None = None
        self.phase("idle")

    @property
    def lang(self) -> str:
        return self._lang

    def set_lang(self, lang: str) -> None:
        self._lang = lang if lang in LANGS else "en"

    def _put(self, state: dict[str, Any]) -> None:
        with self._lock:
            self._seq += 1
            self._state = {**state, "seq": self._seq, "lang": self._lang}

    def state(self) -> dict[str, Any]:
        pending = self._pending
        if pending is not None and time.monotonic() >= pending[0]:
            self.phase(pending[1])
        with self._lock:
            return dict(self._state)

    def phase(self, name: str, *, after: float = 0.0) -> None:
        """idle, consent, passport, camera, working or problem. With `after`, a verdict on
        screen stays that many seconds first (the person reads it; the next one starts)."""
        if after > 0 and self._state.get("phase") == "verdict":
            self._pending = (time.monotonic() + after, name)
            return
        self._pending = None
        t = TEXT[self._lang]
        self._put({"phase": name, "title": t[name], "detail": t[f"{name}.detail"]})

    def prompt(self, event: dict[str, object]) -> None:
        """A liveness prompt (edge.liveness.prompts.PublishingOverlay's dict)."""
        self._pending = None
        if event.get("kind") != "prompt":
            self.phase("working")
            return
        t = TEXT[self._lang]
        gesture = event.get("gesture")
        if event.get("extra"):
            title, detail = t["extra"], ""
        elif gesture is None:
            title, detail = t["camera"], t["camera.detail"]
        else:
            title = t[str(gesture)]
            detail = t["step"].format(step=event.get("step"), total=event.get("total"))
        seconds = event.get("seconds")
        self._put(
            {
                "phase": "prompt",
                "title": title,
                "detail": detail,
                "gesture": gesture,
                "deadline_ms": int((time.time() + float(seconds)) * 1000)  # type: ignore[arg-type]
                if seconds
                else None,
                "seconds_word": t["seconds"],
            }
        )

    def verdict(self, verdict: Verdict) -> None:
        self._pending = None
        title, detail = verdict.person(self._lang)
        self._put({"phase": "verdict", "verdict": verdict.plain.value, "title": title,
                   "detail": detail})  # fmt: skip


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edgeproof</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
html,body{margin:0;height:100%;background:#10213a;color:#fff;font-family:sans-serif}
main{display:flex;flex-direction:column;justify-content:center;align-items:center;
 height:100%;text-align:center;padding:0 6vw;box-sizing:border-box}
h1{font-size:7vh;margin:0 0 3vh}
p{font-size:3.6vh;max-width:60em;line-height:1.35;margin:0}
#count{font-size:14vh;font-weight:bold;margin-top:4vh;min-height:16vh}
body.verdict-verified{background:#145a32}
body.verdict-not-same-person,body.phase-problem{background:#7b241c}
body.verdict-try-again,body.verdict-check-by-hand,body.verdict-check-mrz,
body.verdict-pending,body.verdict-device-problem,body.verdict-no-consent{background:#7d5a00}
</style></head>
<body class="phase-idle"><main role="status" aria-live="assertive">
<h1 id="title"></h1><p id="detail"></p><div id="count" aria-hidden="true"></div></main>
<script>
"use strict";
let state = {seq: -1};
function render() {
  document.body.className = "phase-" + state.phase +
    (state.verdict ? " verdict-" + state.verdict : "");
  document.documentElement.lang = state.lang || "en";
  document.getElementById("title").textContent = state.title || "";
  document.getElementById("detail").textContent = state.detail || "";
  const count = document.getElementById("count");
  if (state.deadline_ms) {
    const left = Math.max(0, Math.ceil((state.deadline_ms - Date.now()) / 1000));
    count.textContent = String(left);
    count.title = left + " " + (state.seconds_word || "");
  } else {
    count.textContent = "";
  }
}
async function poll() {
  try {
    const r = await fetch("/state", {cache: "no-store"});
    const s = await r.json();
    if (s.seq !== state.seq) { state = s; }
  } catch (e) { /* the service restarts: keep the last screen */ }
  render();
}
setInterval(poll, 250);
poll();
</script></body></html>
"""


CSP = "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'"


def serve(screen: Screen, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Start the page's server in a daemon thread; loopback only (the kiosk is local)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/":
                body, ctype = PAGE.encode(), "text/html; charset=utf-8"
            elif self.path == "/state":
                body, ctype = json.dumps(screen.state()).encode(), "application/json"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Security-Policy", CSP)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the journal gets the session's lines, not every poll

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="screen", daemon=True).start()
    return server
