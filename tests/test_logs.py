"""No secret reaches a log record: messages, args, exceptions, extra fields, extended mode."""

from __future__ import annotations

import io
import logging

import pytest

from tsed.logs import SecretRedactor, redact, register_secret, set_extended, setup_logging

SECRET = "pAsSw0rd-XYZ-42"


@pytest.fixture
def captured():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    old_level = root.level
    setup_logging(level="DEBUG", extended=True, handlers=[handler])
    yield stream
    root.removeHandler(handler)
    root.setLevel(old_level)
    set_extended(False)


def test_registered_secrets_are_masked_everywhere(captured) -> None:
    register_secret(SECRET)
    log = logging.getLogger("tsed.test")
    log.info("secret in message %s", SECRET)
    log.info("secret in args %s", {"api_secret": SECRET})
    log.warning("extra", extra={"TSED_EVENT": "x", "TSED_DETAIL": f"token {SECRET}"})
    try:
        raise ValueError(f"failed with {SECRET}")
    except ValueError:
        log.exception("error path")
    logging.getLogger("httpx").warning("HTTP Request: GET http://u:%s@proxy:3128/", SECRET)
    text = captured.getvalue()
    assert SECRET not in text
    assert text.count("***") >= 5
    assert "error path" in text and "ValueError" in text


@pytest.mark.parametrize(
    ("line", "hidden"),
    [
        ("Authorization: Bearer eyJhbGciOi.abc.def", "eyJhbGciOi"),
        ('{"api_key": "test_x", "api_secret": "abcdefghijk"}', "abcdefghijk"),
        ("admin_pin=864213 and admin_puk=1234567890", "864213"),
        ("http://shop:geheim99@192.0.2.1:3128", "geheim99"),
        ('{"refresh_token": "rtok-1234"}', "rtok-1234"),
        ("password: hunter22", "hunter22"),
        ("issued tsed_AbCdEfGhIjKlMnOpQrStUvWxYz0123", "AbCdEfGhIjKlMnOpQrStUvWxYz0123"),
    ],
)
def test_patterns_are_masked_without_registration(line: str, hidden: str) -> None:
    assert hidden not in redact(line)


def test_grouped_pairing_codes_are_masked_with_and_without_dashes() -> None:
    register_secret("K7QX-9MBT-ZR3A-PW2D")
    assert "K7QX" not in redact("code K7QX-9MBT-ZR3A-PW2D")
    assert "K7QX" not in redact("code K7QX9MBTZR3APW2D")


def test_the_filter_keeps_records_with_broken_format_strings() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s %s", ("only-one",), None)
    assert SecretRedactor().filter(record)
    assert "%s" in record.getMessage()


def test_noisy_libraries_are_quiet_unless_extended() -> None:
    set_extended(False)
    assert logging.getLogger("httpx").level == logging.WARNING
    set_extended(True)
    assert logging.getLogger("tsed.fiskaly").level == logging.DEBUG
    set_extended(False)
    assert logging.getLogger("tsed.fiskaly").level == logging.INFO
