"""Alembic migrations of the verifier schema (see storage.migrate)."""
