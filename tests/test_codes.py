"""Voucher codes: format, entropy, check symbol and tolerant parsing."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.kit import codes


def test_generated_code_shape() -> None:
    code = codes.generate_code()
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{14}", code)
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{2}", codes.format_code(code))
    assert codes.normalize_code(code) == code


def test_entropy_is_at_least_64_bits() -> None:
    # 13 data symbols of 5 bits, minus the 5/37 of values redrawn because their check is not alphanumeric.
    assert 13 * 5 + math.log2(32 / 37) >= 64


def test_codes_do_not_repeat() -> None:
    sample = {codes.generate_code() for _ in range(20_000)}
    assert len(sample) == 20_000


@pytest.mark.parametrize(
    "transform",
    [
        lambda c: c,
        str.lower,
        codes.format_code,
        lambda c: " " + " ".join(c[i : i + 4] for i in range(0, 14, 4)) + " ",
        lambda c: codes.format_code(c).lower(),
    ],
    ids=["plain", "lower", "grouped", "spaced", "grouped-lower"],
)
def test_tolerant_parsing(transform: Callable[[str], str]) -> None:
    code = codes.generate_code()
    assert codes.normalize_code(transform(code)) == code


def test_confusable_letters_read_as_digits() -> None:
    code = codes.generate_code()
    typed = code.replace("0", "O").replace("1", "I")
    assert codes.normalize_code(typed) == code
    assert codes.normalize_code(code.replace("1", "l")) == code


@given(st.integers(min_value=0, max_value=13), st.sampled_from(codes.ALPHABET))
def test_any_single_substitution_is_detected(position: int, symbol: str) -> None:
    code = codes.generate_code()
    if code[position] == symbol:
        return
    typo = code[:position] + symbol + code[position + 1 :]
    with pytest.raises(codes.MalformedCode):
        codes.normalize_code(typo)


def test_adjacent_transpositions_are_detected() -> None:
    for _ in range(200):
        code = codes.generate_code()
        for i in range(13):
            if code[i] == code[i + 1]:
                continue
            swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
            with pytest.raises(codes.MalformedCode):
                codes.normalize_code(swapped)


@pytest.mark.parametrize(
    "text", ["", "ABC", "K7QM-2XHD-9RTW-FA-EXTRA", "K7QM-2XHD-9RTW-F!", "U" * 14, "x" * 100]
)
def test_malformed(text: str) -> None:
    with pytest.raises(codes.MalformedCode):
        codes.normalize_code(text)


def test_hash_is_keyed() -> None:
    code = codes.generate_code()
    one = codes.hash_code(code, codes.code_hash_key("secret one"))
    two = codes.hash_code(code, codes.code_hash_key("secret two"))
    assert one != two
    assert len(one) == 64
    assert code not in one
