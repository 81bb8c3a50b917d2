"""Private key files: created 0600 in one atomic step, refused when others could read them.

Both back ends keep one file: the software store its PKCS#8 PEM, the TPM store the TPM's
wrapped key blob. The rules are OpenSSH's for private keys (a group or world bit or a symlink
makes the file untrustworthy; another owner cannot open a 0600 file anyway) because an
operator already knows them.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from edge.keystore.errors import (
    InsecureKeyFileError,
    KeyAccessError,
    KeyExistsError,
    KeyFileFormatError,
    KeyNotFoundError,
)

MAX_KEY_FILE = 16 * 1024


def write_new(path: Path, data: bytes) -> None:
    """Write `data` to a new file `path`, mode 0600, never replacing an existing file.

    The bytes go to a temporary file made 0600 at creation (mkstemp: O_EXCL, mode 0600, so
    no window in which they are readable by others), are flushed to disk, and are then
    hard-linked to `path`; link(2) fails if `path` exists, so a second keygen cannot
    overwrite an enrolled key, and a crash leaves either no key or a complete one.
    """
    directory = path.parent
    if not directory.is_dir():
        raise KeyNotFoundError(
            f"the key directory {directory} does not exist; create it (mode 0700) first",
            code="keystore.no-directory",
        )
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise KeyExistsError(
                f"{path} already holds a key; refusing to overwrite it (remove it first "
                "only if this device will be re-enrolled)"
            ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_private(path: Path) -> bytes:
    """The bytes of a private file, after checking nobody else can read or replace it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise KeyNotFoundError(
            f"no key at {path}; create one with `edgeproof device keygen --key {path}`"
        ) from None
    except PermissionError:
        raise KeyAccessError(
            f"{path} exists but this user (uid {os.geteuid()}) may not read it; run as the "
            "service user that owns it"
        ) from None
    except OSError as exc:
        if os.path.islink(path):
            raise InsecureKeyFileError(
                f"{path} is a symlink; a key file must be a regular file"
            ) from None
        raise KeyNotFoundError(f"cannot open {path}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InsecureKeyFileError(f"{path} is not a regular file")
        if st.st_mode & 0o077:
            raise InsecureKeyFileError(
                f"{path} has mode {stat.S_IMODE(st.st_mode):04o}: group or others may read "
                f"or change the key; run `chmod 600 {path}`"
            )
        if st.st_size > MAX_KEY_FILE:
            raise KeyFileFormatError(f"{path} is {st.st_size} bytes; no key file is that big")
        chunks = []
        while chunk := os.read(fd, MAX_KEY_FILE + 1):
            chunks.append(chunk)
            if sum(map(len, chunks)) > MAX_KEY_FILE:
                raise KeyFileFormatError(f"{path} grew past {MAX_KEY_FILE} bytes while read")
        return b"".join(chunks)
    finally:
        os.close(fd)
