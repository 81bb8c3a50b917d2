"""The APDU transport: a small Protocol, the real PC/SC adapter, and the session channel.

Everything above this module speaks `Transport.transmit(bytes) -> bytes`; the pyscard adapter
is the only code that touches PC/SC, so the protocol logic runs unchanged against the
in-process emulator (rig.mrtd) and against a real reader.
"""

from __future__ import annotations

import contextlib
from typing import Any, Protocol

from edge.mrtd.apdu import CommandApdu, ResponseApdu
from edge.mrtd.errors import CardRemovedError, TransportError
from edge.mrtd.sm import SecureMessaging


class Transport(Protocol):
    """Sends one command APDU and returns the response data followed by SW1 SW2."""

    def transmit(self, apdu: bytes) -> bytes: ...


class Channel:
    """A transport plus, once access control succeeded, its secure-messaging session."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.sm: SecureMessaging | None = None
        self.max_le: int | None = None  # largest READ BINARY Le this chip accepted, once refused

    def send(self, cmd: CommandApdu) -> ResponseApdu:
        if self.sm is None:
            return ResponseApdu.parse(self.transport.transmit(cmd.encode()))
        wrapped = self.sm.wrap_command(cmd)
        return self.sm.unwrap_response(
            ResponseApdu.parse(self.transport.transmit(wrapped.encode()))
        )


def list_readers() -> list[str]:
    """Reader names known to pcscd; raises TransportError when pcscd is not reachable."""
    from smartcard.System import readers

    try:
        return [str(r) for r in readers()]
    except Exception as exc:  # pyscard raises several unrelated classes for "no service"
        raise TransportError(
            f"cannot reach the PC/SC daemon ({exc}); is pcscd running?", code="pcsc.unavailable"
        ) from exc


class PcscTransport:
    """pyscard adapter: picks a reader by name or index, connects, and maps PC/SC errors.

    Use as a context manager; `close()` disconnects. A card pulled from the field shows up as
    CardRemovedError on the next transmit.
    """

    def __init__(self, reader: str | int | None = None, *, timeout: float = 5.0) -> None:
        from smartcard.CardRequest import CardRequest
        from smartcard.Exceptions import CardConnectionException, CardRequestTimeoutException
        from smartcard.System import readers

        try:
            available = readers()
        except Exception as exc:
            raise TransportError(
                f"cannot reach the PC/SC daemon ({exc}); is pcscd running?",
                code="pcsc.unavailable",
            ) from exc
        if not available:
            raise TransportError("no smart-card reader is connected", code="pcsc.reader-not-found")
        chosen = _choose_reader(available, reader)
        self.reader_name = str(chosen)
        try:
            service = CardRequest(readers=[chosen], timeout=timeout).waitforcard()
            service.connection.release()  # its own PC/SC context; we open ours below
            self._conn: Any = chosen.createConnection()
            self._conn.connect()
        except CardRequestTimeoutException as exc:
            raise TransportError(
                f"no card on reader {self.reader_name!r} after {timeout:.0f} s; place the "
                "passport on the reader",
                code="pcsc.no-card",
            ) from exc
        except CardConnectionException as exc:
            raise TransportError(
                f"cannot connect to the card on {self.reader_name!r}: {exc}", code="pcsc.no-card"
            ) from exc
        self.atr = bytes(self._conn.getATR())

    def transmit(self, apdu: bytes) -> bytes:
        from smartcard.Exceptions import CardConnectionException

        try:
            data, sw1, sw2 = self._conn.transmit(list(apdu))
        except CardConnectionException as exc:
            raise CardRemovedError(
                f"the card stopped answering on {self.reader_name!r} ({exc}); keep the passport "
                "still on the reader and try again"
            ) from exc
        return bytes(data) + bytes([sw1, sw2])

    def reconnect(self) -> None:
        """SCardReconnect with a card reset: after a lost link or session the chip starts
        over (as it does when a tag re-enters the field); raises TransportError when the card
        or pcscd is gone."""
        from smartcard.Exceptions import CardConnectionException
        from smartcard.scard import SCARD_RESET_CARD

        try:
            self._conn.reconnect(disposition=SCARD_RESET_CARD)
        except (CardConnectionException, AttributeError, TypeError) as exc:
            raise CardRemovedError(
                f"the card on {self.reader_name!r} did not come back ({exc})"
            ) from exc

    def close(self) -> None:
        """Disconnect and release the PC/SC context, even when the card or pcscd is gone."""
        with contextlib.suppress(Exception):  # nothing left to release; never raise in cleanup
            self._conn.release()
        inner = getattr(self._conn, "component", self._conn)  # pyscard wraps it in a decorator
        inner.hcontext = None  # else pyscard's __del__ retries the release and raises

    def __enter__(self) -> PcscTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _choose_reader(available: list[Any], wanted: str | int | None) -> Any:
    if wanted is None:
        return available[0]
    if isinstance(wanted, int) or (isinstance(wanted, str) and wanted.isdigit()):
        index = int(wanted)
        if not 0 <= index < len(available):
            raise TransportError(
                f"reader index {index} out of range; readers: {[str(r) for r in available]}",
                code="pcsc.reader-not-found",
            )
        return available[index]
    for r in available:
        if str(r) == wanted:
            return r
    matches = [r for r in available if wanted.lower() in str(r).lower()]
    if len(matches) == 1:
        return matches[0]
    raise TransportError(
        f"no single reader matches {wanted!r}; readers: {[str(r) for r in available]}",
        code="pcsc.reader-not-found",
    )
