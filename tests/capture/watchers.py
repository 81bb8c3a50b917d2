"""The watchers outside the device process, for test_privacy.py.

- `WireTap`: a loopback TCP relay in front of the verifier that keeps every byte the device
  sends it (the device is configured with the tap's address, as it would be with a proxy).
  `wire_findings` then parses those bytes as HTTP/1.1 (h11, httpx's own parser) and holds
  them to the protocol: only the verifier API calls the device makes, only the headers
  httpx sends, the one non-JSON body being the signed evidence token itself.
- `PersonalData`: what the session handles that must never leave it (MRZ fields, DG1 and
  DG2 bytes, the decoded chip photo, camera frames), as byte needles to look for in the
  wire bytes and in the evidence token.
- `trace_violations`: reads an `strace -f -yy` log of the device process: anything that
  changes the file system, any connection but the two the device needs (pcscd's socket and
  the verifier's address) and any write or send to another descriptor.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

import h11
import numpy as np

from rig.mrtd.pcscd import PCSCD_SOCKET

#: Bytes kept per connection: far above a session's few kilobytes, bounded all the same.
TAP_LIMIT = 8 << 20
#: What the device may ask of the verifier (edge/verifier_link.py), with its body's kind.
ALLOWED_CALLS = {
    ("POST", "/v1/challenges"): "json",
    ("POST", "/v1/attestations"): "evidence",
    ("GET", "/.well-known/edgeproof/keys.json"): "empty",
}
#: The fields a challenge request may carry (all relying-party values, none personal).
CHALLENGE_FIELDS = {"txn_hash", "commitment_salt", "document_commitment"}
ALLOWED_HEADERS = {
    b"host", b"accept", b"accept-encoding", b"connection", b"user-agent", b"content-length",
    b"content-type", b"authorization",
}  # fmt: skip
#: The probe's own JSON line and the runtime's log lines: far below one frame (691 kB).
MAX_STDIO_BYTES = 64 * 1024


class WireTap:
    """127.0.0.1:port -> the verifier; records the client-to-server half of each connection."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.port: int = self._server.getsockname()[1]
        self._streams: list[bytearray] = []
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="wire-tap", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> WireTap:
        self._thread.start()
        return self

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            up = socket.create_connection(self.upstream, timeout=30)
            record = bytearray()
            with self._lock:
                self._streams.append(record)
                self._sockets += [conn, up]
            threading.Thread(target=_pump, args=(conn, up, record), daemon=True).start()
            threading.Thread(target=_pump, args=(up, conn, None), daemon=True).start()

    def take(self) -> list[bytes]:
        """What the device sent since the last call, one byte string per connection."""
        with self._lock:
            out = [bytes(s) for s in self._streams]
            self._streams.clear()
        return out

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._server.close()
        with self._lock:
            for s in self._sockets:
                s.close()


def _pump(src: socket.socket, dst: socket.socket, record: bytearray | None) -> None:
    try:
        while data := src.recv(65536):
            if record is not None and len(record) < TAP_LIMIT:
                record += data
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


@dataclass
class Request:
    method: str
    target: str
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""


def parse_requests(stream: bytes) -> list[Request]:
    """The HTTP/1.1 requests in one connection's client bytes (h11 raises on bad framing)."""
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(stream)
    conn.receive_data(b"")
    found: list[Request] = []
    current: Request | None = None
    while True:
        event = conn.next_event()
        if isinstance(event, h11.Request):
            current = Request(event.method.decode(), event.target.decode(), list(event.headers))
        elif isinstance(event, h11.Data) and current is not None:
            current.body += event.data
        elif isinstance(event, h11.EndOfMessage) and current is not None:
            found.append(current)
            current = None
            # h11 wants the server's side of the cycle before the next request.
            conn.send(h11.Response(status_code=204, headers=[]))
            conn.send(h11.EndOfMessage())
            conn.start_next_cycle()
        else:  # NEED_DATA at the end of the bytes, or ConnectionClosed
            return found


def protocol_findings(requests: list[Request], evidence_token: bytes) -> list[str]:
    """Every way these requests step outside the device's protocol with the verifier."""
    found: list[str] = []
    for r in requests:
        kind = ALLOWED_CALLS.get((r.method, r.target))
        where = f"{r.method} {r.target}"
        if kind is None:
            found.append(f"{where}: not a call the device makes")
            continue
        extra = {name.lower() for name, _ in r.headers} - ALLOWED_HEADERS
        if extra:
            found.append(f"{where}: unexpected headers {sorted(extra)}")
        if kind == "evidence" and r.body != evidence_token:
            found.append(f"{where}: a body other than the session's evidence token")
        elif kind == "empty" and r.body:
            found.append(f"{where}: a body ({len(r.body)} bytes)")
        elif kind == "json":
            try:
                doc = json.loads(r.body)
            except ValueError:
                found.append(f"{where}: a body that is not JSON ({len(r.body)} bytes)")
                continue
            if not isinstance(doc, dict) or not set(doc) <= CHALLENGE_FIELDS:
                found.append(f"{where}: unexpected fields {doc!r}"[:200])
    return found


def _pixel_needles(image: np.ndarray) -> list[bytes]:
    """Two 48-byte runs of every row (at a third and two thirds of its width), skipping
    flat runs (a white background could occur anywhere)."""
    rows = image.reshape(image.shape[0], -1)
    width = rows.shape[1]
    needles = []
    for row in rows:
        for start in (width // 3, 2 * width // 3):
            run = row[start : start + 48].tobytes()
            if len(set(run)) >= 8:
                needles.append(run)
    return needles


def _windows(data: bytes, size: int, step: int) -> list[bytes]:
    """Runs of `data`, leaving out near-constant ones (padding, zero fields, MRZ fillers)."""
    runs = (data[i : i + size] for i in range(0, max(1, len(data) - size + 1), step))
    return [run for run in runs if len(set(run)) >= 4]


@dataclass
class PersonalData:
    """Byte needles per kind of personal datum, to search any bytes that left the device."""

    needles: dict[str, list[bytes]] = field(default_factory=dict)

    @classmethod
    def of(cls, dg1: bytes, dg2: bytes, frame: np.ndarray) -> PersonalData:
        from edge.mrtd.dg2 import parse_dg2
        from edge.mrtd.lds import parse_dg1

        mrz = parse_dg1(dg1)
        text = mrz.raw.decode("ascii")
        photo = parse_dg2(dg2).to_rgb()
        names = f"{mrz.primary_identifier} {mrz.secondary_identifier}".split()
        return cls(
            {
                "document number": [mrz.document_number.encode()],
                "date of birth": [mrz.date_of_birth.encode()],
                "date of expiry": [mrz.date_of_expiry.encode()],
                "name": [n.encode() for n in names if len(n) >= 3],
                "MRZ": [text[i : i + 22].encode() for i in range(0, len(text), 22)],
                "DG1": _windows(dg1, 16, 8),
                "DG2": _windows(dg2, 32, 64),
                "chip photo": _pixel_needles(photo),
                "camera frame": _pixel_needles(frame),
            }
        )

    def found_in(self, data: bytes) -> list[str]:
        return [kind for kind, needles in self.needles.items() if any(n in data for n in needles)]


def wire_findings(streams: list[bytes], evidence_token: bytes, data: PersonalData) -> list[str]:
    """All that is wrong with what the device sent: protocol breaches and personal data."""
    found: list[str] = []
    for stream in streams:
        try:
            found += protocol_findings(parse_requests(stream), evidence_token)
        except h11.RemoteProtocolError as exc:
            found.append(f"bytes that are not HTTP/1.1 requests: {exc}")
        found += [f"{kind} on the wire" for kind in data.found_in(stream)]
    return found


_MUTATING = re.compile(
    r"^(rename|renameat2?|unlink|unlinkat|mkdir|mkdirat|rmdir|truncate|ftruncate|link|linkat|"
    r"symlink|symlinkat|chmod|fchmod|fchmodat|chown|fchown|fchownat|lchown|mknod|mknodat|"
    r"bind|utimensat)\("
)
_OPEN = re.compile(r"^(open|openat|openat2|creat)\(")
_WRITE_FLAGS = re.compile(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND")
#: A write or send, its descriptor and (with -yy) what the descriptor is.
_SEND = re.compile(
    r"^(write|pwrite64|writev|pwritev2?|send|sendto|sendmsg|sendmmsg)\((\d+)(?:<(.*?)>)?,"
)
_COUNT = re.compile(r"(?:\) = |, )(\d+)(?:$| <unfinished)")
_CONNECT = re.compile(r"^connect\((\d+)(?:<(.*?)>)?, \{sa_family=(\w+), (.*?)\}")
_TCP_PEER = re.compile(r"^TCP:\[[\d.]+:\d+->([\d.]+):(\d+)\]$")
_UNIX = re.compile(r"^UNIX(?:-STREAM)?:\[(\d+)")


def trace_violations(trace: Path, verifier_port: int | None = None) -> list[str]:
    """What the traced process did that the device must not: see the module docstring.

    Allowed: connecting to pcscd's socket (pyscard, the reader) and to 127.0.0.1 on
    `verifier_port`, and writing to those connections; stdout and stderr up to
    MAX_STDIO_BYTES together. What the verifier connection carries is the wire tap's part.
    """
    found: list[str] = []
    links: set[str] = set()  # socket inodes connected to pcscd
    stdio = 0
    verifier = ("127.0.0.1", str(verifier_port))
    for line in trace.read_text(errors="replace").splitlines():
        call = line.split(" ", 1)[1].lstrip() if " " in line else line
        if m := _CONNECT.match(call):
            what, family, address = m.group(2) or "", m.group(3), m.group(4)
            if family == "AF_UNIX" and f'sun_path="{PCSCD_SOCKET}"' in address:
                if u := _UNIX.match(what):
                    links.add(u.group(1))
                continue
            port = re.search(r"htons\((\d+)\).*inet_addr\(\"([\d.]+)\"\)", address)
            if family == "AF_INET" and port and (port.group(2), port.group(1)) == verifier:
                continue
            found.append(call[:200])
        elif (
            call.startswith("connect(")
            or _MUTATING.match(call)
            or (_OPEN.match(call) and _WRITE_FLAGS.search(call.split(")", 1)[0]))
        ):
            found.append(call[:200])
        elif m := _SEND.match(call):
            fd, what = int(m.group(2)), m.group(3) or ""
            if fd in (1, 2):
                count = _COUNT.search(call)
                stdio += int(count.group(1)) if count else 0
                continue
            tcp, unix = _TCP_PEER.match(what), _UNIX.match(what)
            if tcp and (tcp.group(1), tcp.group(2)) == verifier:
                continue
            if unix and unix.group(1) in links:
                continue
            found.append(call[:200])
    if stdio > MAX_STDIO_BYTES:
        found.append(f"{stdio} bytes written to stdout/stderr")
    return found
