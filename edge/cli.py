"""`edgeproof device keygen|show-key|measure|enroll|verify|run|flush-queue`: the edge device.

keygen     create the device key (TPM or software file); never overwrites an existing one
show-key   print the public key: kid, algorithm, JWK, COSE_Key or PEM (never the private key)
measure    print the device's measurement (release manifest digest and model digests)
enroll     create or load the key and register it with the verifier (admin token)
verify     run one verification session (edge/verify_cmd.py)
run        the device service: an operator console running session after session
flush-queue send evidence queued while the verifier was unreachable

The group belongs to the device as a whole, so it lives here; each command lives beside what
it drives: the key's in edge/keystore/cli.py, the sessions' in edge/verify_cmd.py, and the
measurement (edge/measure.py, the device's own) below.

The key is named by a spec: tpm:PATH (default, blob under /var/lib/edgeproof/keys) or
file:PATH (a 0600 PKCS#8 PEM). $EDGEPROOF_KEY and $EDGEPROOF_TCTI set the defaults.
Exit codes: 0 success; 1 the key store, TPM or verifier refused; 2 bad arguments;
3 the evidence was queued (verify: the verifier was unreachable).
"""

from __future__ import annotations

import argparse
import json
import sys

EXIT_OK, EXIT_FAILED = 0, 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from edge.keystore.cli import add_parsers as add_key_parsers
    from edge.verify_cmd import add_parsers as add_session_parsers

    p = sub.add_parser(
        "device",
        help="the edge device: key, measurement, enrolment",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g = p.add_subparsers(dest="device_command", metavar="SUBCOMMAND", required=True)
    add_key_parsers(g)
    me = g.add_parser("measure", help="print this device's measurement")
    me.set_defaults(func=_measure)
    add_session_parsers(g)


def _measure(args: argparse.Namespace) -> int:
    from edge.measure import MeasureError, describe, measure

    try:
        m = measure()
    except MeasureError as exc:
        print(f"edgeproof device: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(describe(m), indent=2))
    return EXIT_OK
