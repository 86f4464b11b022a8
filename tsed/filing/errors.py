"""The errors of the notification duty (drawn in :mod:`tsed.errors`).

Their messages are German, as the tax office's form is, and they name what is wrong; the admin
API answers that message as the error's German text (``error.text.de``, catalogue line
``filing.error``), so the setup page and ``tsectl`` show it rather than the code's general line.
"""

from __future__ import annotations

from typing import Any

from tsed.errors import ConflictError, InputError, NotFoundError


class _GermanMessage:
    """Mixed into the filing's errors: the German message is the error's German text."""

    message: str
    hint: str

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)  # type: ignore[call-arg]  # the TsedError after it
        self.localized("filing.error", message=self.message, hint=self.hint)  # type: ignore[attr-defined]


class FilingInvalid(_GermanMessage, InputError, code="FILING_INVALID"):
    """A master data entry the filing cannot take; ``field`` (``filing.<key>``, the key of the
    request body) lets the setup page mark the input."""

    default_hint = (
        "Die Angabe korrigieren und erneut senden (Steuernummer wie auf dem Steuerbescheid, "
        "Datum als JJJJ-MM-TT)."
    )

    def __init__(self, message: str, *, field: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        if field is not None:
            self.about(field)

    def about(self, key: str) -> FilingInvalid:
        """Name the request body's ``key`` this error is about, unless one is named already."""
        if self.field is None:
            self.field = f"filing.{key}"
        return self


class FilingIncomplete(_GermanMessage, ConflictError, code="FILING_INCOMPLETE"):
    default_hint = (
        "Die fehlenden Stammdaten ergänzen (tsectl taxpayer / premises / registers set), dann "
        "die Mitteilung erneut erstellen."
    )


class PremisesUnknown(_GermanMessage, NotFoundError, code="PREMISES_UNKNOWN"):
    default_hint = "Die Betriebsstätten zeigt: tsectl premises list"


class SubmissionFailed(_GermanMessage, ConflictError, code="SUBMISSION_FAILED"):
    default_hint = (
        "fiskaly SUBMIT DE hat die Mitteilung nicht übermittelt: den Grund im Journal prüfen, "
        "die Daten korrigieren und erneut senden, oder die Mitteilung ausdrucken und in Mein "
        "ELSTER erfassen."
    )


class SubmissionOpen(_GermanMessage, ConflictError, code="SUBMISSION_OPEN"):
    """A submit of a premises while its open submission carries other data: that one's
    outcome is not this filing's (:mod:`tsed.filing.submissions`)."""

    default_hint = (
        "Die laufende Übermittlung wird zu Ende verfolgt: warten, bis tsectl filing status sie "
        "als abgeschlossen zeigt, dann die geänderte Mitteilung erneut senden."
    )
