"""The ``[telemetry]`` settings: off by default, every value checked like the others."""

from __future__ import annotations

from pathlib import Path

import pytest

from tsed.config.edit import set_value
from tsed.config.model import Config, config_from_dict, config_to_dict, load_config, save_config
from tsed.config.telemetry import Telemetry, telemetry_from_dict
from tsed.errors import ConfigError

GATEWAY = "https://push.chain.example:9091"


def test_off_by_default_and_absent_from_the_file(tmp_path: Path) -> None:
    assert Config().telemetry == Telemetry()
    assert not Config().telemetry.enabled
    assert Config().telemetry.interval == 60.0
    assert "telemetry" not in config_to_dict(Config())
    saved = save_config(tmp_path / "tsed.toml", Config())
    assert "telemetry" not in (tmp_path / "tsed.toml").read_text()
    assert saved.telemetry == Telemetry()


def test_a_full_table_round_trips(tmp_path: Path) -> None:
    raw = {
        "enabled": True,
        "gateway": GATEWAY + "/",
        "interval": 30,
        "shop": "filiale-7",
        "chain": "kette_nord",
        "auth": "bearer",
        "ca_file": "/etc/tsed/chain-ca.pem",
    }
    config = config_from_dict({"telemetry": raw})
    assert config.telemetry == Telemetry(
        True, GATEWAY, 30.0, "filiale-7", "kette_nord", "bearer", None, "/etc/tsed/chain-ca.pem"
    )
    assert config.telemetry.grouping == {"chain": "kette_nord", "shop": "filiale-7"}
    save_config(tmp_path / "tsed.toml", config)
    assert load_config(tmp_path / "tsed.toml").telemetry == config.telemetry


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ({"gateway": "http://push.chain.example:9091"}, ["telemetry.gateway", "https"]),
        ({"gateway": "https://unit:pw@push.chain.example"}, ["telemetry.gateway", "set-token"]),
        ({"gateway": "https://push.chain.example?token=x"}, ["telemetry.gateway"]),
        ({"gateway": "https://push.chain.example:99999"}, ["telemetry.gateway", "port"]),
        ({"gateway": "https://bad_host!/"}, ["telemetry.gateway", "host"]),
        ({"gateway": "https://push.chain.example\x1b[2J"}, ["telemetry.gateway", "control"]),
        ({"enabled": True}, ["telemetry.enabled", "telemetry.gateway"]),
        ({"interval": 5}, ["telemetry.interval", "10"]),
        ({"interval": 7200}, ["telemetry.interval", "3600"]),
        ({"interval": "fast"}, ["telemetry.interval"]),
        ({"shop": "Filiale 7"}, ["telemetry.shop", "label"]),
        ({"chain": "a/b"}, ["telemetry.chain"]),
        ({"shop": "x" * 65}, ["telemetry.shop"]),
        ({"auth": "digest"}, ["telemetry.auth", "basic or bearer"]),
        ({"username": "a b"}, ["telemetry.username"]),
        ({"ca_file": "chain-ca.pem"}, ["telemetry.ca_file", "absolute"]),
        ({"ca_file": "/etc/../root/ca.pem"}, ["telemetry.ca_file"]),
        ({"token": "secret-in-the-file"}, ["telemetry.token", "unknown setting"]),
        ({"url": GATEWAY}, ["telemetry.url", "V2"]),
    ],
)
def test_bad_values_are_refused_naming_the_setting(
    raw: dict[str, object], names: list[str]
) -> None:
    with pytest.raises(ConfigError) as caught:
        telemetry_from_dict(raw)
    text = f"{caught.value.message} {caught.value.hint or ''}"
    for name in names:
        assert name in text, text


def test_not_a_table() -> None:
    with pytest.raises(ConfigError, match="telemetry"):
        config_from_dict({"telemetry": "on"})


def test_tsectl_config_set_keys() -> None:
    config = set_value(Config(), "telemetry.gateway", GATEWAY)
    config = set_value(config, "telemetry.enabled", "ja")
    config = set_value(config, "telemetry.interval", "120")
    config = set_value(config, "telemetry.shop", "filiale-7")
    assert config.telemetry.enabled and config.telemetry.interval == 120.0
    assert config.telemetry.shop == "filiale-7"
    with pytest.raises(ConfigError, match=r"telemetry\.enabled"):
        set_value(config, "telemetry.gateway", "")  # enabled needs the gateway
    config = set_value(config, "telemetry.interval", "")  # cleared: the default again
    assert config.telemetry.interval == 60.0
    with pytest.raises(ConfigError, match="unknown setting"):
        set_value(config, "telemetry.token", "x")  # the credential is no setting
