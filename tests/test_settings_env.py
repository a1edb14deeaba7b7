"""Settings read from the environment the way an operator writes them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.config import Settings


def test_embed_origins_are_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBED_ALLOWED_ORIGINS", "https://www.almelo.nl, HTTPS://Wijken.Almelo.nl:443/,,")
    assert Settings(_env_file=None).embed_allowed_origins == [  # type: ignore[call-arg]
        "https://www.almelo.nl",
        "https://wijken.almelo.nl",
    ]


def test_no_embed_origins_means_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBED_ALLOWED_ORIGINS", "")
    assert Settings(_env_file=None).embed_allowed_origins == []  # type: ignore[call-arg]


@pytest.mark.parametrize("value", ["*", "https://www.almelo.nl/wijken", "www.almelo.nl", "ftp://x.nl"])
def test_an_embed_origin_that_is_not_an_origin_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("EMBED_ALLOWED_ORIGINS", value)
    with pytest.raises(ValidationError, match="EMBED_ALLOWED_ORIGINS"):
        Settings(_env_file=None)  # type: ignore[call-arg]
