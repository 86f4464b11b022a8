"""The ``[offbox]`` settings: repository forms, secrets kept out of the URL, round trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from tsed.config.edit import set_value
from tsed.config.model import Config, config_from_dict, load_config, save_config
from tsed.config.offbox import parse_repository
from tsed.errors import ConfigError

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOnY0JHcx1Qvq4jQwKqUhX6t4Y1p4rS6o9m2B0r9cXkZ"


@pytest.mark.parametrize(
    ("text", "kind", "host", "port", "path", "user"),
    [
        ("sftp:tsed@nas.example:/srv/tsed", "sftp", "nas.example", None, "/srv/tsed", "tsed"),
        ("sftp:nas.example:/srv", "sftp", "nas.example", None, "/srv", None),
        ("sftp://tsed@192.0.2.7:2222/srv/a", "sftp", "192.0.2.7", 2222, "/srv/a", "tsed"),
        ("rest:https://backup.example:8000/shop7/", "rest", "backup.example", 8000, "/shop7/",
         None),
        ("rest:http://127.0.0.1:8000/x", "rest", "127.0.0.1", 8000, "/x/", None),
    ],
)  # fmt: skip
def test_repository_forms(
    text: str, kind: str, host: str, port: int | None, path: str, user: str | None
) -> None:
    repo = parse_repository(text)
    assert (repo.kind, repo.host, repo.port, repo.path, repo.user) == (kind, host, port, path, user)
    assert parse_repository(repo.display) == repo


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("rest:https://shop:geheim123@backup.example/x", "no user or password"),
        ("sftp://tsed:geheim123@nas.example/srv", "no password"),
        ("rest:http://backup.example:8000/x", "only to a loopback"),
        ("rest:ftp://backup.example/x", "https"),
        ("s3:s3.amazonaws.com/bucket", "not an SFTP or REST"),
        ("/srv/local", "not an SFTP or REST"),
        ("sftp:nas.example:relative/path", "not an SFTP or REST"),
        ("sftp:tsed@nas.example:/srv/a b", "absolute path"),
        ("sftp:bad user@nas.example:/srv", "not valid"),
    ],
)
def test_bad_repositories_are_refused_clearly(text: str, said: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_dict({"offbox": {"repository": text}})
    assert said in caught.value.message
    assert caught.value.message.startswith("offbox.repository")
    assert "geheim123" not in str(caught.value.to_dict())


def test_other_keys_are_checked() -> None:
    base = {"repository": "sftp:tsed@nas.example:/srv"}
    for extra, said in (
        ({"check_subset": "0%"}, "check_subset"),
        ({"check_subset": "lots"}, "check_subset"),
        ({"timeout_minutes": 0}, "timeout_minutes"),
        ({"timeout_minutes": 2.5}, "timeout_minutes"),
        ({"host_key": "not a key"}, "host_key"),
        ({"ca_file": "/etc/ca.pem"}, "ca_file"),  # REST only
        ({"password": "x"}, "unknown setting"),
        ({"user": "a b"}, "offbox.user"),
    ):
        with pytest.raises(ConfigError, match=said):
            config_from_dict({"offbox": {**base, **extra}})


def test_round_trip_through_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tsed.toml"
    config = config_from_dict({"offbox": {
        "repository": "sftp://tsed@nas.example:2222/srv/tsed", "host_key": HOST_KEY + " c",
        "check_subset": "1/10", "timeout_minutes": 30,
    }})  # fmt: skip
    saved = save_config(path, config)
    loaded = load_config(path)
    assert loaded == saved and loaded.offbox is not None
    assert loaded.offbox.host_key == HOST_KEY  # the comment dropped
    assert loaded.offbox.login == "tsed" and loaded.offbox.check_subset == "1/10"
    assert "[offbox]" in path.read_text()
    assert load_config(tmp_path / "none.toml").offbox is None


def test_tsectl_config_set() -> None:
    config = set_value(Config(), "offbox.repository", "rest:https://backup.example/shop7")
    config = set_value(config, "offbox.user", "shop7")
    config = set_value(config, "offbox.timeout_minutes", "90")
    assert config.offbox is not None and config.offbox.login == "shop7"
    assert config.offbox.timeout_minutes == 90
    with pytest.raises(ConfigError, match="unknown setting"):
        set_value(config, "offbox.password", "x")
    assert set_value(config, "offbox.repository", "").offbox is None


@pytest.mark.parametrize(
    "text",
    [
        "rest:https://u:S3cr3t-Pw@backup.example:99999/repo",
        "rest:ftp://u:S3cr3t-Pw@backup.example/repo",
        "sftp:u:S3cr3t-Pw@",
        "rest:http://u:S3cr3t-Pw@backup.example/repo?x",
    ],
)
def test_a_refused_repository_never_shows_its_credential(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_repository(text)
    assert "S3cr3t-Pw" not in f"{caught.value.message} {caught.value.hint}"
