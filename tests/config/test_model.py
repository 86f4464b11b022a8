"""Configuration: the mask's rules, validation naming field/value/rule, atomic saves."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsed.config.check import validate_vat_id, vat_check_digit
from tsed.config.edit import set_value
from tsed.config.model import (
    DEFAULT_NAME,
    Config,
    effective,
    fiskaly_urls,
    load_config,
    save_config,
    workplaces_with_overrides,
)
from tsed.errors import ConfigError


def _valid_vat(first8: str) -> str:
    return f"DE{first8}{vat_check_digit(first8)}"


def test_defaults_mirror_the_mask(tmp_path: Path) -> None:
    config = load_config(tmp_path / "missing.toml")
    assert config.name == DEFAULT_NAME == "KassenSichV-Fiskaly"
    assert config.usage == "clientseitig"
    assert config.created_at is None and not config.saved
    assert config.proxy is None
    assert config.register_deadline == 3.0
    assert not config.multi_tenant and len(config.tenant_list()) == 1


def test_first_save_sets_created_at_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "tsed.toml"
    saved = save_config(path, set_value(Config(), "proxy.host", "192.0.2.10"))
    assert saved.created_at is not None and saved.saved
    loaded = load_config(path)
    assert loaded == saved
    assert loaded.proxy is not None and loaded.proxy.port == 3128
    again = save_config(path, set_value(loaded, "name", "Filiale 7"))
    assert again.created_at == saved.created_at  # never changes after the first save
    with pytest.raises(ConfigError, match="read-only"):
        set_value(again, "created_at", "2020-01-01T00:00:00Z")


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("proxy.port", "70000", "proxy.port"),
        ("proxy.port", "abc", "must be a number"),
        ("proxy.host", "not a host!", "host name or an IP address"),
        ("register_deadline", "0.1", "register_deadline"),
        ("extended_logging", "vielleicht", "true or false"),
        ("pairing_minutes", "2.5", "whole number"),
        ("frobnicate", "1", "unknown setting"),
        ("url", "https://kassensichv.io/api/v1", "only fiskaly SIGN DE API V2"),
        ("name", "", None),
        ("name", "   ", "only spaces is not a name"),
        ("tenants.filiale-1.name", " \t ", "only spaces is not a name"),
        ("name", "x" * 47 + "ä", "1 to 48 bytes"),  # 49 bytes (the page counts bytes too)
    ],
)
def test_bad_values_name_field_value_and_rule(key: str, value: str, fragment: str | None) -> None:
    assert set_value(Config(), "name", "x" * 46 + "ä").name == "x" * 46 + "ä"  # 48 bytes
    if fragment is None:
        assert set_value(Config(), key, value).name == DEFAULT_NAME  # empty clears
        return
    with pytest.raises(ConfigError) as info:
        set_value(Config(), key, value)
    assert fragment in info.value.message
    assert info.value.hint


def test_invalid_file_names_the_field_and_keeps_the_old_one(tmp_path: Path) -> None:
    path = tmp_path / "tsed.toml"
    save_config(path, Config())
    before = path.read_bytes()
    path.write_text('name = "x"\n[proxy]\nhost = "proxy.local"\nport = 0\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "proxy.port" in info.value.message and "0" in info.value.message
    path.write_bytes(before)
    broken = Config(register_deadline=999.0)
    with pytest.raises(ConfigError):
        save_config(path, broken)
    assert path.read_bytes() == before  # an invalid configuration is never written


@pytest.mark.parametrize(
    "text",
    [
        'url = "https://kassensichv.io/api/v1"\n',
        "api_version = 1\n",
        'fiskaly_url = "https://kassensichv-middleware.fiskaly.com/api/v2"\n',
        '[proxy]\nhost = "kassensichv.io"\nport = 80\nendpoint = "/api/v1"\n',
    ],
)
def test_v1_configuration_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "tsed.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "V2" in info.value.message


def test_vat_ids_and_multi_tenant_rules() -> None:
    good = _valid_vat("13669597")
    assert good == "DE136695976"
    assert validate_vat_id("de 136695976", "x") == good
    with pytest.raises(ConfigError, match="check digit"):
        validate_vat_id("DE136695977", "tenants.a.vat_id")
    with pytest.raises(ConfigError, match="'DE' followed by 9 digits"):
        validate_vat_id("AT12345678", "tenants.a.vat_id")
    config = set_value(Config(), "tenants.nord.name", "Nord GmbH")
    config = set_value(config, "tenants.nord.vat_id", good)
    with pytest.raises(ConfigError, match="every tenant needs a VAT ID"):
        set_value(set_value(config, "tenants.sued.name", "Süd GmbH"), "multi_tenant", "ja")
    config = set_value(config, "tenants.sued.name", "Süd GmbH")
    config = set_value(config, "tenants.sued.vat_id", _valid_vat("12345678"))
    multi = set_value(config, "multi_tenant", "true")
    assert [t.id for t in multi.tenant_list()] == ["nord", "sued"]
    assert len(config.tenant_list()) == 1  # without the flag: one tenant
    with pytest.raises(ConfigError, match="cannot change after the fiskaly credentials"):
        set_value(multi, "multi_tenant", "false", credentials_created=True)
    assert not set_value(multi, "multi_tenant", "false").multi_tenant


def test_workplace_overrides_and_filter() -> None:
    config = set_value(Config(), "workplaces.kasse-2.register_deadline", "5")
    config = set_value(config, "workplaces.kasse-3.extended_logging", "")
    assert effective(config, "kasse-2").register_deadline == 5.0
    assert effective(config, "kasse-1").register_deadline == 3.0
    assert [w.id for w in workplaces_with_overrides(config)] == ["kasse-2"]
    with pytest.raises(ConfigError, match="must be one of"):
        set_value(config, "workplaces.kasse-2.tenant", "nowhere")


def test_fiskaly_url_follows_the_mode(caplog: pytest.LogCaptureFixture) -> None:
    urls = fiskaly_urls("TEST", {})
    assert urls.sign == "https://kassensichv-middleware.fiskaly.com" and not urls.overridden
    assert fiskaly_urls("LIVE", {}).management == "https://dashboard.fiskaly.com"
    with caplog.at_level(logging.WARNING):
        staged = fiskaly_urls("TEST", {"TSED_FISKALY_BASE_URL": "http://127.0.0.1:9"})
    assert staged.sign == "http://127.0.0.1:9" and staged.overridden
    assert any(getattr(r, "TSED_EVENT", "") == "fiskaly_url_override" for r in caplog.records)
    with pytest.raises(ConfigError, match="LIVE"):
        fiskaly_urls("LIVE", {"TSED_FISKALY_BASE_URL": "http://127.0.0.1:9"})
    with pytest.raises(ConfigError, match="V1"):
        fiskaly_urls("TEST", {"TSED_FISKALY_BASE_URL": "https://kassensichv.io/api/v1"})


@settings(max_examples=200, deadline=None)
@given(key=st.sampled_from(["name", "proxy.host", "proxy.port", "register_deadline",
                            "extended_logging", "multi_tenant", "tenants.a.vat_id",
                            "workplaces.w.register_deadline", "x.y.z.w"]),
       raw=st.text(max_size=40))  # fmt: skip
def test_arbitrary_text_never_crashes(key: str, raw: str) -> None:
    try:
        config = set_value(Config(), key, raw)
    except ConfigError as err:
        assert err.message and err.hint is not None
        return
    assert isinstance(config, Config)


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet="0123456789", min_size=8, max_size=8))
def test_computed_vat_ids_validate(first8: str) -> None:
    assert validate_vat_id(_valid_vat(first8), "k") == _valid_vat(first8)


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from tsed.config.model import Config, save_config
    path = Path(sys.argv[1])
    i = 0
    while True:
        i += 1
        save_config(path, Config(name=f"Unit {i % 2}", created_at="2026-01-01T00:00:00Z",
                                 register_deadline=1.0 + (i % 2)))
    """
)


def test_power_loss_during_save_leaves_old_or_new(tmp_path: Path) -> None:
    path = tmp_path / "tsed.toml"
    save_config(path, Config(name="Unit 0", created_at="2026-01-01T00:00:00Z"))
    deadline = time.monotonic() + 8
    kills = 0
    while kills < 25 and time.monotonic() < deadline:
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)])
        time.sleep(0.05 + (kills % 5) * 0.03)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
        config = load_config(path)  # never broken
        assert config.name in ("Unit 0", "Unit 1")
        assert (config.name == "Unit 0") == (config.register_deadline in (3.0, 1.0))
    assert kills >= 5
    leftovers = [p for p in tmp_path.iterdir() if p.name != "tsed.toml"]
    assert all(p.name.endswith(".tmp") for p in leftovers)
