"""The admin API's error bodies: the common shape plus the setting and the texts.

``{"error": {status, code, message, hint, details?}}`` as on every API of the unit, and, on the
admin API only (the setup page, ``tsectl``, the console read it):

* ``field``: the dotted configuration path when the error is about one setting;
* ``text``: ``{"de": {message, hint, field_label}, "en": {...}}`` from the message catalogue
  (:mod:`tsed.texts`), so a page or a console shows the installer's language.

The register API keeps its English body for developers, unchanged.
"""

from __future__ import annotations

from typing import Any

from tsed.errors import TsedError
from tsed.net.http import error_middleware_with
from tsed.texts import LANGUAGES, error_text


def admin_error_body(err: TsedError) -> dict[str, Any]:
    body = err.to_dict()
    error = body["error"]
    if err.field:
        error["field"] = err.field
    error["text"] = {
        lang: error_text(
            err.code,
            lang,
            text_id=err.text_id,
            params=err.text_params,
            field=err.field,
            message=err.message,
            hint=err.hint,
        )
        for lang in LANGUAGES
    }
    return body


admin_error_middleware = error_middleware_with(admin_error_body)
