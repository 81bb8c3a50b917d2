"""A plain verdict from a session's outcome: one word for the person, one line for the clerk.

The verifier speaks EAR (draft-ietf-rats-ear-04 section 3.1: `ear_status`) plus edgeproof's
decision claim and reason codes (verifier/errors.py); neither a clerk nor the person in
front of the device should have to read those. The table here is the one in
docs/operator.md ("Verdicts"); tests/edge/test_screen.py pins it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

LANGS = ("en", "fr")


class Plain(Enum):
    VERIFIED = "verified"
    NOT_SAME_PERSON = "not-same-person"
    TRY_AGAIN = "try-again"
    CHECK_BY_HAND = "check-by-hand"
    CHECK_MRZ = "check-mrz"
    NO_CONSENT = "no-consent"
    PENDING = "pending"
    DEVICE_PROBLEM = "device-problem"


#: (person's headline, what to do next), per language. Never anything personal.
PERSON: dict[str, dict[Plain, tuple[str, str]]] = {
    "en": {
        Plain.VERIFIED: ("Verified", "Thank you. You may take your passport."),
        Plain.NOT_SAME_PERSON: (
            "Not the same person",
            "The face does not match the passport photo. Please speak to the clerk.",
        ),
        Plain.TRY_AGAIN: (
            "Please try again",
            "The check could not finish. The clerk will restart it.",
        ),
        Plain.CHECK_BY_HAND: (
            "Please see the clerk",
            "The clerk will check your passport by hand.",
        ),
        Plain.CHECK_MRZ: ("Please see the clerk", "The passport could not be opened."),
        Plain.NO_CONSENT: ("No check was made", "Nothing was read or filmed."),
        Plain.PENDING: ("Please wait", "The result will come later. Please see the clerk."),
        Plain.DEVICE_PROBLEM: ("Please see the clerk", "This device needs attention."),
    },
    "fr": {
        Plain.VERIFIED: ("Vérifié", "Merci. Vous pouvez reprendre votre passeport."),
        Plain.NOT_SAME_PERSON: (
            "Pas la même personne",
            "Le visage ne correspond pas à la photo du passeport. Adressez-vous à l'agent.",
        ),
        Plain.TRY_AGAIN: (
            "Veuillez réessayer",
            "La vérification n'a pas pu aboutir. L'agent va la relancer.",
        ),
        Plain.CHECK_BY_HAND: (
            "Adressez-vous à l'agent",
            "L'agent va contrôler votre passeport à la main.",
        ),
        Plain.CHECK_MRZ: ("Adressez-vous à l'agent", "Le passeport n'a pas pu être ouvert."),
        Plain.NO_CONSENT: ("Aucune vérification", "Rien n'a été lu ni filmé."),
        Plain.PENDING: ("Veuillez patienter", "Le résultat viendra plus tard. Voyez l'agent."),
        Plain.DEVICE_PROBLEM: ("Adressez-vous à l'agent", "Cet appareil doit être vérifié."),
    },
}

#: The clerk's line: what happened and what to do, in operator terms.
CLERK: dict[str, dict[Plain, str]] = {
    "en": {
        Plain.VERIFIED: "VERIFIED: identity confirmed",
        Plain.NOT_SAME_PERSON: "NOT THE SAME PERSON: the live face does not match the chip photo",
        Plain.TRY_AGAIN: "TRY AGAIN: start a new session",
        Plain.CHECK_BY_HAND: "CHECK THE PASSPORT BY HAND: the device cannot vouch for it",
        Plain.CHECK_MRZ: "CHECK THE MRZ/CAN TYPED, then try again; if it repeats, check by hand",
        Plain.NO_CONSENT: "NO CONSENT: nothing was read",
        Plain.PENDING: "PENDING: verifier unreachable, evidence queued; check by hand for now",
        Plain.DEVICE_PROBLEM: "DEVICE PROBLEM: check by hand and call support",
    },
    "fr": {
        Plain.VERIFIED: "VÉRIFIÉ : identité confirmée",
        Plain.NOT_SAME_PERSON: (
            "PAS LA MÊME PERSONNE : le visage ne correspond pas à la photo de la puce"
        ),
        Plain.TRY_AGAIN: "RÉESSAYER : lancez une nouvelle session",
        Plain.CHECK_BY_HAND: (
            "CONTRÔLER LE PASSEPORT À LA MAIN : l'appareil ne peut pas s'en porter garant"
        ),
        Plain.CHECK_MRZ: "VÉRIFIEZ LA MRZ/LE CAN SAISI, puis réessayez ; sinon contrôle à la main",
        Plain.NO_CONSENT: "PAS DE CONSENTEMENT : rien n'a été lu",
        Plain.PENDING: "EN ATTENTE : vérificateur injoignable, preuve en file ; contrôle à la main",
        Plain.DEVICE_PROBLEM: "PROBLÈME D'APPAREIL : contrôle à la main et appelez le support",
    },
}


@dataclass(frozen=True)
class Verdict:
    plain: Plain
    reason: str | None  # the reason code for the clerk (verifier or session), if any

    def person(self, lang: str) -> tuple[str, str]:
        return PERSON[_lang(lang)][self.plain]

    def clerk(self, lang: str) -> str:
        line = CLERK[_lang(lang)][self.plain]
        return f"{line} [{self.reason}]" if self.reason else line


def _lang(lang: str) -> str:
    return lang if lang in LANGS else "en"


# Reason-code families (verifier/errors.py, session and chip codes) by what the clerk does.
_RETRY = (
    "liveness.", "capture.", "pcsc.", "apdu.", "session.erasure", "nonce.", "evidence.expired",
)  # fmt: skip
_BY_HAND = (
    "document.", "pa.", "trust.", "aa.", "ca.", "cam.", "sod.", "lds.", "tlv.", "crypto.",
    "cardsecurity.", "securityinfo.", "efcom.", "dump.", "commitment.", "transaction.",
)  # fmt: skip
_MRZ = ("bac.", "pace.", "sm.", "mrz.", "access.")
_DEVICE = ("device.", "reference.", "evidence.", "manifest.", "session.result", "config.")


def _by_code(code: str) -> Plain:
    if code == "session.no-consent" or code == "consent.missing":
        return Plain.NO_CONSENT
    if code == "session.verifier-unreachable" or code.startswith("request."):
        return Plain.DEVICE_PROBLEM
    for prefixes, plain in (
        (_RETRY, Plain.TRY_AGAIN),
        (_MRZ, Plain.CHECK_MRZ),
        (_BY_HAND, Plain.CHECK_BY_HAND),
        (_DEVICE, Plain.DEVICE_PROBLEM),
    ):
        if code.startswith(prefixes):
            return plain
    return Plain.TRY_AGAIN


def from_result(status: str | None, decision: str | None, reason: str | None = None) -> Verdict:
    """(EAR status, decision, first failed check's reason code) -> the plain verdict.

    status None means the evidence was queued (verifier unreachable at submission).
    Only `affirming` + `match` is "verified": a `warning` status (a check passed with a
    caveat, e.g. an expired document) sends the clerk to the passport, never to "verified".
    """
    if status is None:
        return Verdict(Plain.PENDING, reason)
    if status == "contraindicated" or status == "none":
        return Verdict(_by_code(reason) if reason else Plain.CHECK_BY_HAND, reason)
    if decision == "no-match":
        return Verdict(Plain.NOT_SAME_PERSON, reason)
    if decision == "inconclusive" or decision is None:
        return Verdict(Plain.TRY_AGAIN, reason)
    if status == "affirming":
        return Verdict(Plain.VERIFIED, reason)
    return Verdict(Plain.CHECK_BY_HAND, reason or f"ear.{status}")


def from_error(code: str) -> Verdict:
    """A session stopped before a result (edge.session.SessionError's code)."""
    return Verdict(_by_code(code), code)
