"""Settings are declared once (tutela.setting_fields): reading, defaults and the errors for bad
values all come from the declaration on each field."""

from __future__ import annotations

from pathlib import Path

import pytest

from tutela.errors import ConfigurationError
from tutela.media.limits import MediaLimits
from tutela.setting_fields import declared, shown_default
from tutela.settings import Settings

DECLARED = list(declared(Settings))


def test_each_variable_is_declared_once_with_a_description() -> None:
    names = [setting.env for setting, _ in DECLARED]
    assert len(names) == len(set(names)) > 60
    for setting, _ in DECLARED:
        assert setting.env.startswith("TUTELA_")
        assert setting.doc.endswith(".") and "(default" not in setting.doc, setting.env


def test_unset_and_blank_variables_give_the_declared_defaults() -> None:
    assert Settings.from_env({}) == Settings()
    assert Settings.from_env({setting.env: " " for setting, _ in DECLARED}) == Settings()


def test_every_numeric_setting_refuses_text_naming_its_variable() -> None:
    numeric = [s for s, default in DECLARED if type(default) in (int, float)]
    assert len(numeric) > 30
    for setting in numeric:
        with pytest.raises(ConfigurationError, match=setting.env):
            Settings.from_env({setting.env: "twelve"})
        # Below every setting's minimum (some take -1 to mean "off").
        with pytest.raises(ConfigurationError, match=setting.env):
            Settings.from_env({setting.env: "-2"})


def test_values_are_parsed_as_declared() -> None:
    settings = Settings.from_env(
        {
            "TUTELA_DATA_DIR": "/srv/tutela",
            "TUTELA_MAX_PIXELS": "1000",
            "TUTELA_DECODE_TIMEOUT_S": "2.5",
            "TUTELA_PROVIDER_COUNTRY": "nl",
            "TUTELA_PROVIDER_SERVICES": " photos, chat,,",
            "TUTELA_REVIEW_FOUR_EYES": "yes",
            "TUTELA_LOG_LEVEL": "INFO",
            "TUTELA_REVIEW_SLA_HOURS": "urgent=2",
        }
    )
    assert settings.data_dir == Path("/srv/tutela")
    assert settings.media == MediaLimits(max_pixels=1000, decode_timeout_s=2.5)
    assert settings.provider_country == "NL"
    assert settings.provider_services == ("photos", "chat")
    assert settings.review_four_eyes and settings.log_level == "info"
    assert dict(settings.review_sla_hours)["urgent"] == 2.0


def test_a_media_limit_of_zero_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="TUTELA_MAX_PIXELS must be 1 or more"):
        Settings.from_env({"TUTELA_MAX_PIXELS": "0"})
    with pytest.raises(ConfigurationError, match="TUTELA_LOG_LEVEL must be one of"):
        Settings.from_env({"TUTELA_LOG_LEVEL": "verbose"})


def test_secrets_stay_out_of_the_repr_and_defaults_read_well() -> None:
    text = repr(Settings(vault_key="k1", secrets_key="k2", dsa_tdb_token="k3"))
    assert not {"k1", "k2", "k3"} & set(text.replace("'", " ").split())
    shown = {setting.env: shown_default(setting, default) for setting, default in DECLARED}
    assert shown["TUTELA_JOB_LEASE_S"] == "`120`"
    assert shown["TUTELA_BEHIND_TLS"] == "off"
    assert shown["TUTELA_CENTRE_URL"] == "unset"
    assert shown["TUTELA_REVIEW_SLA_HOURS"] == "`urgent=1,action=4,close=24,far=72`"
    assert shown["TUTELA_MAX_FILE_BYTES"] == "`104857600`"
