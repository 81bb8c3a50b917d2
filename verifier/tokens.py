"""Bearer tokens (RFC 6750): who may call the API and in which role.

Why stored hashed: a token is 256 random bits, so SHA-256 of it is a safe stored form
(no salt or slow hash needed), and a copy of the database lets no one call the API.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update

from verifier.context import Context
from verifier.errors import NotFoundError, RequestError
from verifier.storage import ApiToken

ROLES = ("admin", "auditor", "relying-party")


def hash_token(token: str) -> bytes:
    """Tokens carry 256 random bits, so a plain SHA-256 is a safe stored form."""
    return hashlib.sha256(token.encode("utf-8")).digest()


def new_token() -> str:
    return "ep_" + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Caller:
    """An authenticated request's token: relying parties see only what they own."""

    token_id: int
    role: str


class Tokens:
    """Creates, checks and revokes API tokens."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def authenticate(self, token: str) -> Caller | None:
        h = hash_token(token)
        with self.ctx.reader() as s:
            row = s.execute(
                select(ApiToken).where(ApiToken.token_hash == h, ApiToken.revoked_at.is_(None))
            ).scalar_one_or_none()
        # The index lookup finds the row; the constant-time compare is the actual check.
        if row is None or not hmac.compare_digest(row.token_hash, h):
            return None
        return Caller(row.id, row.role)

    def create(self, role: str, label: str) -> tuple[int, str]:
        """A new token, returned once: only its hash is kept."""
        if role not in ROLES:
            raise RequestError(f"role must be one of {ROLES}")
        token = new_token()
        with self.ctx.writer() as s, s.begin():
            row = ApiToken(
                token_hash=hash_token(token), role=role, label=label, created_at=self.ctx.now()
            )
            s.add(row)
            s.flush()
            return row.id, token

    def revoke(self, token_id: int) -> None:
        with self.ctx.writer() as s, s.begin():
            r = s.execute(
                update(ApiToken)
                .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
                .values(revoked_at=self.ctx.now())
            )
            if r.rowcount != 1:
                raise NotFoundError(f"no active token {token_id}")
