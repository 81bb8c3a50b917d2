"""The reverse proxy the verifier is deployed behind: Debian's nginx (docs/deploy.md).

`render_nginx_config` fills in verifier/deploy/nginx.conf.in; `NginxProxy` runs nginx in
the foreground with that configuration under a private prefix folder and stops it by PID.
Only the process handling lives here: the limits and timeouts are in the template.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent / "deploy" / "nginx.conf.in"


def render_nginx_config(listen: str, upstream: str, prefix: Path) -> str:
    """The template with its three holes filled; `listen` and `upstream` are host:port."""
    for name, value in (("listen", listen), ("upstream", upstream)):
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or any(c in value for c in " ;{}\n"):
            raise ValueError(f"{name} must be host:port, not {value!r}")
    text = TEMPLATE.read_text(encoding="utf-8")
    return (
        text.replace("@LISTEN@", listen)
        .replace("@UPSTREAM@", upstream)
        .replace("@PREFIX@", str(prefix.resolve()))
    )


def nginx_binary() -> str | None:
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


class NginxProxy:
    """nginx in the foreground (`daemon off`), its own process group, stopped by PID."""

    def __init__(self, prefix: Path, listen: str, upstream: str) -> None:
        binary = nginx_binary()
        if binary is None:
            raise FileNotFoundError("nginx is not installed (Debian package nginx)")
        self.binary = binary
        self.prefix = prefix
        self.listen = listen
        self.conf = prefix / "nginx.conf"
        self.proc: subprocess.Popen[bytes] | None = None
        prefix.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(render_nginx_config(listen, upstream, prefix), encoding="utf-8")

    def _args(self, *extra: str) -> list[str]:
        # -e: the error log before the configuration is read (never /var/log/nginx).
        p = str(self.prefix)
        return [self.binary, "-p", p, "-e", f"{p}/error.log", "-c", str(self.conf), *extra]

    def check(self) -> None:
        out = subprocess.run(self._args("-t"), capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"nginx -t: {out.stderr.strip()}")

    def start(self, timeout: float = 10.0) -> NginxProxy:
        import socket

        self.check()
        log = open(self.prefix / "nginx.out", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            self._args(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        host, _, port = self.listen.rpartition(":")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {(self.prefix / 'error.log').read_text()}")
            try:
                socket.create_connection((host, int(port)), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise TimeoutError("nginx did not start listening")

    def stop(self) -> None:
        """SIGQUIT (graceful) to the master by PID, then SIGKILL to its group if needed."""
        if self.proc is None:
            return
        try:
            self.proc.send_signal(signal.SIGQUIT)
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None
