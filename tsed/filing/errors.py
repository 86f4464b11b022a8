"""The errors of the notification duty (drawn in :mod:`tsed.errors`)."""

from __future__ import annotations

from tsed.errors import ConflictError, InputError, NotFoundError


class FilingInvalid(InputError, code="FILING_INVALID"):
    default_hint = (
        "Die Angabe korrigieren und erneut senden (Steuernummer wie auf dem Steuerbescheid, "
        "Datum als JJJJ-MM-TT)."
    )


class FilingIncomplete(ConflictError, code="FILING_INCOMPLETE"):
    default_hint = (
        "Die fehlenden Stammdaten ergänzen (tsectl taxpayer / premises / registers set), dann "
        "die Mitteilung erneut erstellen."
    )


class PremisesUnknown(NotFoundError, code="PREMISES_UNKNOWN"):
    default_hint = "Die Betriebsstätten zeigt: tsectl premises list"


class SubmissionFailed(ConflictError, code="SUBMISSION_FAILED"):
    default_hint = (
        "fiskaly SUBMIT DE hat die Mitteilung nicht übermittelt: den Grund im Journal prüfen, "
        "die Daten korrigieren und erneut senden, oder die Mitteilung ausdrucken und in Mein "
        "ELSTER erfassen."
    )
