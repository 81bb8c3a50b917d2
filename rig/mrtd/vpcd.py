"""Serve an EmulatedChip to pcscd through vsmartcard's `vpcd` reader driver.

The vpcd protocol (virtualsmartcard docs, "Creating a virtual smart card"): every message is
a 2-byte big-endian length and a payload. A 1-byte payload is a control code (0 power off,
1 power on, 2 reset, 4 get ATR; only ATR is answered); anything longer is an APDU, answered
with the response APDU. vpcd connects out to 127.0.0.1:35963 for reader 0 and :35964 for
reader 1. Binds loopback only.

Debian's vpcd (vsmartcard 0.9) aborts the whole pcscd ("bit out of range 0 - FD_SETSIZE")
whenever its link drops or cannot be opened, and an empty ATR (the protocol's "no card")
drops the link. So: the emulator must listen before pcscd starts, every slot always answers
with an ATR (reader 1, and reader 0 without a passport, hold a blank card that knows no
command), and a card pulled mid-read is emulated by closing the link, which ends that pcscd
too: the reader sees the transmit fail exactly as with a real card leaving the field.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

from rig.mrtd.card import ATR, ChipRemovedError, EmulatedChip, TagLostError

VPCD_PORT = 35963
_POWER_OFF, _POWER_ON, _RESET, _GET_ATR = 0, 1, 2, 4


class VpcdServer:
    """Accepts vpcd on `port` (the card) and `port + 1` (an empty slot), in daemon threads."""

    def __init__(
        self, chip: EmulatedChip | None, *, host: str = "127.0.0.1", port: int = VPCD_PORT
    ) -> None:
        self.chip = chip
        self.host = host
        self.port = port
        self._listeners: list[socket.socket] = []
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        # Set when we closed a link on purpose (card removed): that takes Debian's pcscd
        # down, perhaps not at once; the rig restarts pcscd before the next use.
        self.link_dropped = threading.Event()

    def insert(self, chip: EmulatedChip | None) -> None:
        """Put a different chip on the reader (None: a blank card); takes effect at power-on."""
        with self._lock:
            self.chip = chip

    def start(self) -> VpcdServer:
        for slot in (0, 1):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((self.host, self.port + slot))
            s.listen(4)
            self._listeners.append(s)
            threading.Thread(target=self._accept, args=(s, slot), daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        for s in self._listeners:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close alone does not
            with contextlib.suppress(OSError):
                s.close()
        for c in list(self._conns):
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                c.close()

    def _accept(self, listener: socket.socket, slot: int) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # Close with a reset, not FIN: a server-side close otherwise leaves the port in
            # TIME_WAIT for a minute, and the next rig cannot bind it even with SO_REUSEADDR.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn, slot), daemon=True).start()

    def _serve(self, conn: socket.socket, slot: int) -> None:
        try:
            while True:
                payload = _recv_message(conn)
                if payload is None:
                    return
                chip = self.chip if slot == 0 else None
                if len(payload) == 1:
                    if payload[0] == _GET_ATR:
                        if chip is not None and chip.removed:
                            self.link_dropped.set()
                            return  # the link drops: see the module docstring
                        _send_message(conn, ATR)
                    elif payload[0] in (_POWER_ON, _RESET) and chip is not None:
                        chip.reset()
                    continue
                if chip is None:
                    _send_message(conn, b"\x6a\x82")  # a blank card: no such application
                    continue
                try:
                    response = chip.process(payload)
                except TagLostError:
                    # The chip reset itself; through vpcd the lost response cannot be shown
                    # as a failed transmit without killing pcscd, so the reset chip answers
                    # this command as it answers any outside a session.
                    response = b"\x69\x82"
                except ChipRemovedError:
                    self.link_dropped.set()
                    return  # closing the link is how vpcd learns the card is gone
                _send_message(conn, response)
        except OSError:
            return
        finally:
            self._conns.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()


_QUICKACK = getattr(socket, "TCP_QUICKACK", None)


def _recv_exact(conn: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        if _QUICKACK is not None:
            # Debian's vpcd writes the length and the APDU in two sends; with Nagle on its
            # side, our delayed ACK of the first would stall every APDU by 40 ms.
            conn.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
        part = conn.recv(n - len(buf))
        if not part:
            return None
        buf += part
    return buf


def _recv_message(conn: socket.socket) -> bytes | None:
    head = _recv_exact(conn, 2)
    if head is None:
        return None
    (length,) = struct.unpack(">H", head)
    return _recv_exact(conn, length) if length else b""


def _send_message(conn: socket.socket, payload: bytes) -> None:
    conn.sendall(struct.pack(">H", len(payload)) + payload)
