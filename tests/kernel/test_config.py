"""Settings: ``PLUGBOARD_*`` parsing, overrides, and production's refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernel import create_app
from kernel.config import DEV_SECRET_KEY, ConfigError, Settings
from kernel.services import kernel_services

GOOD_SECRET = "s" * 48
PG_URL = "postgresql+psycopg://plugboard@db:5432/plugboard"


def test_defaults_need_no_services() -> None:
    settings = Settings.from_env(environ={})
    assert settings.env == "development" and not settings.is_production
    assert settings.secret_key == DEV_SECRET_KEY
    assert settings.redis_url == "" and settings.smtp_url == ""
    assert settings.sqlalchemy_url.startswith("sqlite:///")
    assert settings.sqlalchemy_url.endswith("/var/plugboard.db")
    assert settings.plugins_allow == () and settings.max_content_length == 1024 * 1024


def test_production_refuses_the_default_secret() -> None:
    with pytest.raises(ConfigError, match="PLUGBOARD_SECRET_KEY"):
        Settings.from_env(environ={"PLUGBOARD_ENV": "production",
                                   "PLUGBOARD_DATABASE_URL": PG_URL})


def test_production_refuses_a_short_secret() -> None:
    environ = {"PLUGBOARD_ENV": "production", "PLUGBOARD_DATABASE_URL": PG_URL,
               "PLUGBOARD_SECRET_KEY": "too-short"}
    with pytest.raises(ConfigError, match="32"):
        Settings.from_env(environ=environ)


def test_production_needs_a_database_url() -> None:
    environ = {"PLUGBOARD_ENV": "production", "PLUGBOARD_SECRET_KEY": GOOD_SECRET}
    with pytest.raises(ConfigError, match="PLUGBOARD_DATABASE_URL"):
        Settings.from_env(environ=environ)


def test_production_starts_with_a_real_secret() -> None:
    environ = {"PLUGBOARD_ENV": "production", "PLUGBOARD_SECRET_KEY": GOOD_SECRET,
               "PLUGBOARD_DATABASE_URL": PG_URL}
    settings = Settings.from_env(environ=environ)
    assert settings.is_production and settings.sqlalchemy_url == PG_URL


def test_create_app_refuses_production_with_the_default_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PLUGBOARD_SECRET_KEY"):
        create_app({"env": "production", "secret_key": DEV_SECRET_KEY,
                    "database_url": PG_URL, "data_dir": str(tmp_path)})


def test_unknown_environment_name_is_refused() -> None:
    with pytest.raises(ConfigError, match="PLUGBOARD_ENV"):
        Settings.from_env(environ={"PLUGBOARD_ENV": "prod"})


@pytest.mark.parametrize("key", ["acess_token_ttl", "PLUGBOARD_SECRET", "database"])
def test_unknown_override_key_raises(key: str) -> None:
    with pytest.raises(ConfigError, match="Unknown setting") as info:
        Settings.from_env(environ={}, overrides={key: "x"})
    assert "access_token_ttl" in str(info.value)  # it lists the known names


def test_create_app_rejects_unknown_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="secret_keys"):
        create_app({"secret_keys": GOOD_SECRET, "data_dir": str(tmp_path)})


def test_overrides_win_over_the_environment() -> None:
    settings = Settings.from_env(
        environ={"PLUGBOARD_ACCESS_TOKEN_TTL": "60", "PLUGBOARD_BASE_DOMAIN": "env.example"},
        overrides={"access_token_ttl": 120, "PLUGBOARD_BASE_DOMAIN": "shop.example"},
    )
    assert settings.access_token_ttl == 120
    assert settings.base_domain == "shop.example"


@pytest.mark.parametrize(("raw", "expected"), [
    ("1", True), ("true", True), ("TRUE", True), ("yes", True), ("on", True), (" On ", True),
    ("0", False), ("false", False), ("False", False), ("no", False), ("off", False),
])
def test_env_bool_parsing(raw: str, expected: bool) -> None:
    assert Settings.from_env(environ={"PLUGBOARD_S3_SECURE": raw}).s3_secure is expected


@pytest.mark.parametrize("raw", ["maybe", "flase", "", "2"])
def test_env_bool_typo_is_refused(raw: str) -> None:
    # A typo must not silently turn TLS off.
    with pytest.raises(ConfigError, match="PLUGBOARD_S3_SECURE"):
        Settings.from_env(environ={"PLUGBOARD_S3_SECURE": raw})


def test_env_int_parsing() -> None:
    settings = Settings.from_env(environ={"PLUGBOARD_ACCESS_TOKEN_TTL": "60",
                                          "PLUGBOARD_MAX_CONTENT_LENGTH": " 4096 "})
    assert settings.access_token_ttl == 60 and settings.max_content_length == 4096


@pytest.mark.parametrize("raw", ["ten", "1.5", ""])
def test_env_int_garbage_is_refused(raw: str) -> None:
    with pytest.raises(ConfigError, match="PLUGBOARD_ACCESS_TOKEN_TTL"):
        Settings.from_env(environ={"PLUGBOARD_ACCESS_TOKEN_TTL": raw})


def test_env_csv_parsing() -> None:
    settings = Settings.from_env(environ={"PLUGBOARD_PLUGINS_ALLOW": " pages, billing,, ",
                                          "PLUGBOARD_PLUGINS_DENY": ""})
    assert settings.plugins_allow == ("pages", "billing")
    assert settings.plugins_deny == ()


def test_string_overrides_are_parsed_like_the_environment() -> None:
    # create_app accepts variable names, so it accepts their string values too.
    settings = Settings.from_env(environ={}, overrides={
        "PLUGBOARD_S3_SECURE": "false", "PLUGBOARD_ACCESS_TOKEN_TTL": "30",
        "plugins_deny": "comms,ticketing"})
    assert settings.s3_secure is False
    assert settings.access_token_ttl == 30
    assert settings.plugins_deny == ("comms", "ticketing")


def test_string_settings_are_kept_verbatim() -> None:
    url = "smtp://user:p%40ss@mail.example:587"
    assert Settings.from_env(environ={"PLUGBOARD_SMTP_URL": url}).smtp_url == url


def test_max_content_length_reaches_flask(tmp_path: Path) -> None:
    app = create_app({"env": "test", "data_dir": str(tmp_path), "max_content_length": 1234,
                      "secret_key": GOOD_SECRET})
    assert app.config["MAX_CONTENT_LENGTH"] == 1234
    kernel_services(app).engine.dispose()
