"""``%config ThinkConfig`` and the settings model say the same: one trait per setting, same default, same help."""

from __future__ import annotations

from typing import Any

import pytest
from traitlets import TraitError

from jupyter_think.core.config import ThinkSettings
from jupyter_think.ipython.config import ThinkConfig


def test_every_setting_has_a_trait_of_the_same_name_default_and_help() -> None:
    traits = ThinkConfig.class_traits(config=True)
    assert sorted(traits) == sorted(ThinkSettings.model_fields)
    for name, field in ThinkSettings.model_fields.items():
        trait = traits[name]
        unset = "" if field.default is None else field.default  # (an empty path or URL is unset)
        assert trait.default_value == unset, name
        assert trait.help and trait.help == field.description, name


def test_the_traits_build_the_settings_they_stand_for() -> None:
    config = ThinkConfig(durability="sync", max_thoughts=5, sessions_dir="/tmp/think")
    settings = ThinkSettings(**config.settings())
    assert (settings.durability, settings.max_thoughts, str(settings.sessions_dir)) == (
        "sync",
        5,
        "/tmp/think",
    )
    assert ThinkSettings(**ThinkConfig().settings()) == ThinkSettings()


@pytest.mark.parametrize(
    ("name", "value"), [("durability", "later"), ("max_thoughts", "many"), ("persist", "yes")]
)
def test_a_value_of_the_wrong_kind_is_refused_by_the_trait(name: str, value: Any) -> None:
    with pytest.raises(TraitError):
        ThinkConfig(**{name: value})
