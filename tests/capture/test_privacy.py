"""Privacy as a tested property: the device's whole session, as it ships, writes nothing
and sends nothing but its signed evidence.

The device runs in its own process (tests/capture/privacy_probe.py): `run_session` with
the real steps of edge/steps.py, reading an emulated passport through real pcscd + vpcd
with pyscard (chip authentication, DG2 photo decoded), filming a replayed clip with the
real liveness models, matching on device, signing with its key and submitting to a real
verifier under gunicorn. The rig (pcscd and the emulator, the verifier, a wire tap in front
of it) runs here, outside the device process. Three independent watchers:

- Python audit hooks inside the device process (every `open` for writing, file-system
  changes, subprocesses, sockets but the one to the verifier);
- `strace -f -yy` outside it, which also sees what C libraries (OpenCV, FFmpeg, LiteRT,
  pcsc-lite) do: no file written, no connection but pcscd's socket and the verifier;
- the wire tap between device and verifier: only the protocol's requests, the evidence
  token the only body that is not a relying party's JSON, and no personal datum (MRZ
  fields, DG1 and DG2 bytes, the chip photo's or the camera's pixels) in any byte sent or
  in the token.

Each is shown to catch a deliberate leak, so a green run means something. Plus: the chip
reading, the kept frames and the chip photo are zero after the session, and the frame
buffers are zero after an exception in the middle of a capture.

The verifier runs the `demo` policy: its fixed challenge (turn right, twice) is what the
shared stage clip performs (verifier/policy.py); the chip carries the clip's performer's
still as its photo, so the whole session ends in a signed, logged match.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.face.embed import DEFAULT_EMBEDDER
from tests.capture.watchers import (
    MAX_STDIO_BYTES,
    PersonalData,
    WireTap,
    trace_violations,
    wire_findings,
)
from tests.rig import REPO, require, require_binary
from tests.shared import CLIP, STILL, require_shared

MODELS = REPO / "firmware" / "models"
#: The close-ups of the clip's performer, turning right twice (docs/capture-liveness.md).
CLIP_FRAMES = (60, 211)
#: Frames the camera step films of that window: it stops once liveness is decided.
SESSION_FRAMES = 141


def _require_models() -> None:
    for name in ("face_detection_short_range", "face_landmark", DEFAULT_EMBEDDER):
        require((MODELS / f"{name}.tflite").is_file(), f"model file {name}.tflite")


@dataclass
class DeviceRig:
    """The world around the device: a passport on a reader, a verifier, a tap on the wire."""

    settings: dict[str, Any]  # what the probe is told (addresses, token, key, MRZ key)
    doc: Any  # rig.mrtd.testdoc.TestDocument
    pcsc: Any  # rig.mrtd.pcscd.PcscRig
    tap: WireTap
    personal: PersonalData
    device_keys: dict[bytes, Any]  # kid -> the device's public key

    def probe(
        self, *args: str, strace: str | None = None, trace: Path | None = None
    ) -> tuple[dict[str, Any], list[bytes]]:
        """One session in a fresh device process; its report and what it sent the verifier."""
        from rig.mrtd.card import EmulatedChip

        self.pcsc.insert(EmulatedChip(self.doc))  # a fresh chip: nothing from a previous read
        self.tap.take()
        cmd = [sys.executable, "-B", "-m", "tests.capture.privacy_probe", *args]
        if strace is not None and trace is not None:
            cmd = [strace, "-f", "-qq", "-yy", "-e", "trace=%file,%network,%desc",
                   "-o", str(trace), *cmd]  # fmt: skip
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        proc = subprocess.run(
            cmd,
            cwd=REPO,
            env=env,
            input=json.dumps(self.settings),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        return out, self.tap.take()


@pytest.fixture(scope="module")
def device_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeviceRig]:
    """One rig for the module's sessions: starting gunicorn and pcscd costs seconds, and
    each session gets a fresh chip and a fresh challenge anyway. pcsc_rig holds the
    machine's pcscd lock meanwhile (the tests share the `pcscd` xdist group)."""
    from attest.keys import SigningKey
    from attest.manifest import sign_manifest
    from edge.keystore.enroll import enrol
    from edge.keystore.software import SoftwareKeyStore
    from edge.measure import measure
    from rig.mrtd.pcscd import READER, missing_parts, pcsc_rig
    from rig.mrtd.testdoc import DocOptions, generate
    from tests.verifier.helpers import Release, VerifierServer

    require_shared("data/video")
    _require_models()
    require(not missing_parts(), f"pcscd rig ({', '.join(missing_parts())})")
    work = tmp_path_factory.mktemp("privacy")
    doc = generate(DocOptions(face_photo=str(STILL)))
    # The verifier trusts exactly this installation, as measured by the device itself.
    manifest = measure().manifest
    release_key = SigningKey.generate()
    (work / "verifier").mkdir()
    server = VerifierServer(work / "verifier", release_key, policy="demo", workers=1).start()
    try:
        admin = server.client()
        admin.add_release(Release(release_key, manifest, sign_manifest(manifest, release_key)))
        store = SoftwareKeyStore.create(work / "device.pem")
        enrol(store, server.base, server.admin, device_id="privacy-probe")
        tap = WireTap(("127.0.0.1", server.port)).start()
        frame = _clip_frame(100)
        settings = {
            "verifier": tap.url,
            "rp_token": admin.token("relying-party"),
            "key": str(store.path),
            "csca": doc.csca_der.hex(),
            "mrz": [doc.mrz_key.document_number, doc.mrz_key.date_of_birth,
                    doc.mrz_key.date_of_expiry],
            "reader": READER,
            "clip": str(CLIP),
            "start": CLIP_FRAMES[0],
            "end": CLIP_FRAMES[1],
        }  # fmt: skip
        personal = PersonalData.of(doc.files["DG1"], doc.files["DG2"], frame)
        try:
            with pcsc_rig(work / "pcsc") as pcsc:
                keys = {store.kid: store.public_key()}
                yield DeviceRig(settings, doc, pcsc, tap, personal, keys)
        finally:
            tap.stop()
    finally:
        server.stop()


def _clip_frame(index: int) -> np.ndarray:
    """One frame of the clip, as the camera step sees it (for the wire's byte needles)."""
    from edge.capture.replay import FileReplaySource

    src = FileReplaySource(CLIP, start_frame=index, end_frame=index + 1)
    try:
        frame = np.zeros(src.format.shape, np.uint8)
        assert src.read_into(frame) is not None
        return frame
    finally:
        src.close()


def _assert_clean_session(rig: DeviceRig, out: dict[str, Any], wire: list[bytes]) -> None:
    """The session ran to a logged match, wiped everything, and sent only its evidence."""
    from attest.evidence import verify_evidence

    assert "error" not in out, out["error"]
    # The chip was read and authenticated over PC/SC (ICAO 9303-11: PACE, passive and
    # chip authentication), the photo it carries decoded and matched.
    assert out["document"] == ["PASSED", "CHIP_AUTHENTICATION", "PASSED"]
    assert out["liveness"] == "passed" and out["match"] == "match"
    assert (out["status"], out["decision"]) == ("affirming", "match")
    # The device's step stops filming once the liveness engine has decided (run_check):
    # 141 of the window's 151 frames, each one erased, as the signed erasure claim says.
    assert out["frames_captured"] == out["frames_erased"] == SESSION_FRAMES
    assert out["verified_zero"] and out["candidates_zero"] and out["chip_zero"]
    assert out["chip_data_zero"]
    token = bytes.fromhex(out["evidence_token"])
    assert wire_findings(wire, token, rig.personal) == []
    # The token itself: signed by the device, its payload exactly the typed claims
    # (nothing hidden beside them), and none of the personal data in its bytes.
    evidence, msg = verify_evidence(token, rig.device_keys)
    assert evidence.encode() == msg.payload
    assert rig.personal.found_in(token) == []


@pytest.mark.xdist_group("pcscd")
@pytest.mark.shared("data/video")
def test_audit_hooks_see_no_write_in_a_whole_session(device_rig: DeviceRig, tmp_path: Path) -> None:
    out, wire = device_rig.probe()
    _assert_clean_session(device_rig, out, wire)
    assert out["violations"] == []
    assert out["links"] >= 1 and len(wire) == out["links"]  # the hooks saw the sockets
    # The same watcher catches a frame saved to disk from Python.
    leaked, _ = device_rig.probe("--leak", str(tmp_path))
    assert any("frame.npy" in v for v in leaked["violations"]), leaked["violations"]


@pytest.mark.xdist_group("pcscd")
@pytest.mark.shared("data/video")
def test_the_wire_tap_catches_chip_data_sent_to_the_verifier(device_rig: DeviceRig) -> None:
    """A device posting the document number and a row of the chip photo beside the
    protocol: the audit hooks allow the connection (it is the verifier's), the wire tap
    names what was sent."""
    leaked, wire = device_rig.probe("--leak-net")
    assert leaked["violations"] == []
    found = wire_findings(wire, bytes.fromhex(leaked["evidence_token"]), device_rig.personal)
    assert "document number on the wire" in found, found
    assert "chip photo on the wire" in found, found
    assert any("not JSON" in f for f in found), found


@pytest.mark.xdist_group("pcscd")
@pytest.mark.shared("data/video")
def test_strace_sees_no_write_in_a_whole_session(device_rig: DeviceRig, tmp_path: Path) -> None:
    strace = require_binary("strace")
    ok = subprocess.run([strace, "-f", "-o", os.devnull, "true"], capture_output=True)
    require(ok.returncode == 0, "strace allowed to trace (ptrace) in this container")
    port = device_rig.tap.port
    trace = tmp_path / "clean.trace"
    out, wire = device_rig.probe(strace=strace, trace=trace)
    _assert_clean_session(device_rig, out, wire)
    assert trace_violations(trace, port) == []
    # A frame written by a C library is invisible to audit hooks, but not to strace.
    leak_dir = tmp_path / "leak"
    leak_dir.mkdir()
    leak_trace = tmp_path / "leak.trace"
    leaked, _ = device_rig.probe("--leak-native", str(leak_dir), strace=strace, trace=leak_trace)
    assert leaked["violations"] == []  # audit hooks are blind to it...
    caught = trace_violations(leak_trace, port)
    assert any("frame.png" in v for v in caught), caught  # ...strace is not


@pytest.mark.shared("data/video")
def test_buffers_are_zero_after_an_exception_in_a_real_session() -> None:
    from edge.capture import CaptureSession
    from edge.capture.replay import FileReplaySource

    views: list[np.ndarray] = []
    session = CaptureSession(FileReplaySource(CLIP), buffer_frames=5)
    with pytest.raises(RuntimeError, match="mid-session"), session:
        for frame in session.frames():
            views.append(frame.pixels)
            assert frame.pixels.any()
            if frame.index == 97:
                raise RuntimeError("mid-session failure")
    report = session.report
    assert report.frames_captured == report.frames_erased == 98
    assert report.verified_zero and report.ended_by == "error"
    assert all(not v.any() for v in views)


def test_strace_allowances_are_only_the_readers_and_the_verifiers(tmp_path: Path) -> None:
    """The two links the device needs are allowed; anything beside them is named, also a
    write whose result strace shows later (another thread interleaved)."""
    pid = "4242  "
    allowed = [
        'connect(8<UNIX-STREAM:[600131]>, {sa_family=AF_UNIX, sun_path="/run/pcscd/pcscd.comm"}'
        ", 24) = 0",
        'sendto(8<UNIX-STREAM:[600131->599353]>, "\\x01", 1, MSG_NOSIGNAL, NULL, 0) = 1',
        "connect(7<TCP:[1]>, {sa_family=AF_INET, sin_port=htons(5000), "
        'sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS',
        'sendto(7<TCP:[127.0.0.1:4000->127.0.0.1:5000]>, "POST", 4, 0, NULL, 0) = 4',
        'write(1<pipe:[1]>, "{}", 2) = 2',
        'openat(AT_FDCWD</>, "/work/model.tflite", O_RDONLY|O_CLOEXEC) = 3</work/model.tflite>',
    ]
    refused = [
        'sendto(9<UNIX-STREAM:[700000->700001]>, "\\x01", 1, 0, NULL, 0) = 1',
        "connect(6<TCP:[2]>, {sa_family=AF_INET, sin_port=htons(5001), "
        'sin_addr=inet_addr("127.0.0.1")}, 16) = 0',
        'sendto(6<TCP:[127.0.0.1:4001->127.0.0.1:5001]>, "x", 1, 0, NULL, 0) = 1',
        'connect(5<UNIX-STREAM:[3]>, {sa_family=AF_UNIX, sun_path="/run/other.sock"}, 20) = 0',
        'write(11</tmp/frame.raw>, "\\x00\\x01"..., 691200 <unfinished ...>',
        'openat(AT_FDCWD</>, "/tmp/x.png", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 12</tmp/x.png>',
        'unlink("/tmp/x.png") = 0',
        "bind(13<TCP:[4]>, {sa_family=AF_INET, sin_port=htons(0)}, 16) = 0",
    ]
    trace = tmp_path / "t.trace"
    trace.write_text("".join(pid + line + "\n" for line in allowed))
    assert trace_violations(trace, 5000) == []
    trace.write_text("".join(pid + line + "\n" for line in allowed + refused))
    found = trace_violations(trace, 5000)
    assert len(found) == len(refused), found
    trace.write_text(
        pid + f'write(2<pipe:[2]>, "x"..., {MAX_STDIO_BYTES + 1}) = {MAX_STDIO_BYTES + 1}\n'
    )
    assert trace_violations(trace, 5000) == [
        f"{MAX_STDIO_BYTES + 1} bytes written to stdout/stderr"
    ]


def test_wire_findings_hold_the_device_to_its_protocol() -> None:
    token = b"\xd2\x84signed evidence"
    data = PersonalData({"document number": [b"C01X00T47"]})

    def post(path: str, body: bytes, *headers: str) -> bytes:
        head = "".join(f"{h}\r\n" for h in ("Host: v", f"Content-Length: {len(body)}", *headers))
        return f"POST {path} HTTP/1.1\r\n{head}\r\n".encode() + body

    good = post("/v1/challenges", b"{}", "Authorization: Bearer t") + post(
        "/v1/attestations", token, "Content-Type: application/eat+cwt"
    )
    assert wire_findings([good], token, data) == []
    bad = [
        post("/v1/attestations", token + b"!"),  # not the session's token
        post("/v1/challenges", b'{"note": "x"}'),  # a field no relying party sends
        post("/v1/challenges", b"{}", "X-Trace: C01X00T47"),  # a header, and the datum
        post("/v1/devices", b"{}"),  # a call the device does not make
        b"\x16\x03\x01 not HTTP at all",
    ]
    found = [wire_findings([stream], token, data) for stream in bad]
    assert all(found), found
    assert "document number on the wire" in found[2]
