"""The errors of the notification duty (drawn in :mod:`tsed.errors`)."""

from __future__ import annotations

from typing import Any

from tsed.errors import ConflictError, InputError, NotFoundError


class FilingInvalid(InputError, code="FILING_INVALID"):
    """A master data entry the filing cannot take. The message is German (it names the form's
    field, as the tax office's form does) and is the admin API's German text too; ``field``
    (``filing.<key>``, the key of the request body) lets the setup page mark the input."""

    default_hint = (
        "Die Angabe korrigieren und erneut senden (Steuernummer wie auf dem Steuerbescheid, "
        "Datum als JJJJ-MM-TT)."
    )

    def __init__(self, message: str, *, field: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.localized("filing.invalid", message=message, hint=self.hint)
        if field is not None:
            self.about(field)

    def about(self, key: str) -> FilingInvalid:
        """Name the request body's ``key`` this error is about, unless one is named already."""
        if self.field is None:
            self.field = f"filing.{key}"
        return self


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
