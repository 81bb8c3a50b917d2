from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import x509

from edge.mrtd.passive import TrustStore
from rig.mrtd.testdoc import DocOptions, TestDocument, generate

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def trust_of(doc: TestDocument) -> TrustStore:
    return TrustStore([x509.Certificate.load(doc.csca_der)])


_CACHE: dict[DocOptions, TestDocument] = {}


def document(options: DocOptions | None = None) -> TestDocument:
    """Documents are costly to sign and encode: one per option set per worker."""
    options = options or DocOptions()
    if options not in _CACHE:
        _CACHE[options] = generate(options, now=NOW)
    return _CACHE[options]


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from tests.mrtd.pcsc_rig import open_rig

    with open_rig(Path(tmp_path_factory.mktemp("pcscd"))) as r:
        yield r
