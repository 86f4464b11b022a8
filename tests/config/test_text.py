"""Free-text rules: settings refuse control characters and overlong values, register strings
lose them, and tsectl prints everything as one plain line."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tsed.config.edit import set_value
from tsed.config.model import Config, config_from_dict
from tsed.config.text import LIMITS, clean_register_text, console_port, has_control, shown
from tsed.errors import ConfigError

PEM = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n"


@pytest.mark.parametrize(
    "port",
    ["/dev/ttyGS0", "/dev/ttyUSB1", "/dev/serial/by-id/usb-Gadget_Serial-if00", "loop://",
     "rfc2217://192.0.2.5:7000", "socket://service.local:4001", "rfc2217://[fe80::1]:7000"],
)  # fmt: skip
def test_console_ports_that_make_sense_are_taken(port: str) -> None:
    assert console_port(port) == port
    assert set_value(Config(), "console_port", port).console_port == port


@pytest.mark.parametrize(
    ("port", "fragment"),
    [
        (PEM, "control character U+000A"),
        ("/dev/ttyGS0\x1b[31m", "control character U+001B"),
        ("spy:///dev/ttyGS0", "not a serial device"),
        ("hwgrep://.*", "not a serial device"),
        ("alt:///dev/ttyGS0?class=PosixPollSerial", "not a serial device"),
        ("/etc/tsed/tsed.toml", "not a serial device"),
        ("/dev/../etc/shadow", "not a serial device"),
        ("socket://host", "not a serial device"),  # no port
        ("/dev/" + "x" * 300, "at most 200 are allowed"),
    ],
)
def test_console_ports_that_do_not_are_refused_naming_the_rule(port: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match="console_port") as caught:
        set_value(Config(), "console_port", port)
    assert fragment in caught.value.message
    assert caught.value.hint  # what to type instead
    with pytest.raises(ConfigError, match="console_port"):
        config_from_dict({"console_port": port})  # the file goes through the same rule


def test_proxy_user_and_tenant_names_are_plain_text_of_limited_length() -> None:
    proxy = {"host": "proxy.shop.lan", "port": 3128}
    for bad, fragment in (("kasse\r\nX-Injected: 1", "U+000D"), ("u" * 129, "at most 128")):
        with pytest.raises(ConfigError, match=r"proxy\.username") as caught:
            config_from_dict({"proxy": {**proxy, "username": bad}})
        assert fragment in caught.value.message
    ok = config_from_dict({"proxy": {**proxy, "username": "kasse@filiale-3"}})
    assert ok.proxy is not None and ok.proxy.username == "kasse@filiale-3"
    for bad in ("Firma\u202eHbmG", "Firma\x00A", "F" * (LIMITS["tenants.*.name"] + 1)):
        with pytest.raises(ConfigError, match=r"tenants\.nord\.name"):
            config_from_dict({"tenants": {"nord": {"name": bad}}})
    assert config_from_dict({"tenants": {"nord": {"name": "Nord GmbH & Co. KG"}}}).tenants
    for serial in ("ERS\x1b[2Kkasse", "E" * 71):
        with pytest.raises(ConfigError, match="workplaces"):
            config_from_dict({"workplaces": {serial: {"register_deadline": 2.0}}})
    assert config_from_dict({"workplaces": {"ERS kasse-1": {"register_deadline": 2.0}}})


@given(st.text(max_size=80))
def test_cleaned_register_text_has_no_control_and_prints_as_is(text: str) -> None:
    cleaned = clean_register_text(text)
    assert not has_control(cleaned)
    assert "\n" not in cleaned and "\r" not in cleaned


@given(st.text(max_size=80))
def test_shown_text_is_always_one_printable_line(text: str) -> None:
    line = shown(text)
    assert line.isprintable()
    if text.isprintable():
        assert line == text
