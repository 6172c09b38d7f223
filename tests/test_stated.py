"""Numbers stated in the docs: parsing, checking at their own precision, restating."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sphinx_paramcount.errors import OptionError
from sphinx_paramcount.stated import (
    Claim,
    ClaimKey,
    StatedCount,
    check_claims,
    describe_difference,
    parse_expect,
    parse_stated,
    read_expect,
)

LLAMA_7B = 6_738_415_616


@pytest.mark.parametrize("text", ["131618", "131,618", "131_618", " 131618 ", "\t131,618\n"])
def test_exact_forms(text: str) -> None:
    stated = parse_stated(text)
    assert stated.exact
    assert stated.value == 131_618
    assert stated.matches(131_618)
    assert not stated.matches(131_617)
    assert not stated.matches(131_619)


def test_exact_small_and_zero() -> None:
    assert parse_stated("0").value == 0
    assert parse_stated("448").value == 448
    assert parse_stated("1,000").value == 1000
    assert parse_stated("3,768,320").value == 3_768_320


@pytest.mark.parametrize(
    ("text", "actual", "ok"),
    [
        ("131.6K", 131_618, True),
        ("131.6K", 131_649, True),
        ("131.6K", 131_650, False),  # rounds half up to 131.7
        ("131.6K", 131_550, True),
        ("131.6K", 131_549, False),
        ("132K", 131_618, True),
        ("131K", 131_618, False),
        ("6.74B", LLAMA_7B, True),
        ("6.73B", LLAMA_7B, False),
        ("6.7B", LLAMA_7B, True),
        ("7B", LLAMA_7B, True),
        ("6B", LLAMA_7B, False),
        ("6.74G", LLAMA_7B, True),
        ("6738.4M", LLAMA_7B, True),
        ("6738.5M", LLAMA_7B, False),
        ("3.77M", 3_768_320, True),
        ("3.8M", 3_768_320, True),
        ("3.76M", 3_768_320, False),
        ("1.05M", 1_050_624, True),
        ("0.13M", 131_618, True),
        ("1T", 1_000_000_000_000, True),
        ("1.5k", 1500, True),
        ("1.5 K", 1500, True),
    ],
)
def test_rounded_forms_at_their_precision(text: str, actual: int, ok: bool) -> None:
    stated = parse_stated(text)
    assert not stated.exact
    assert stated.matches(actual) is ok


def test_rounded_fields() -> None:
    stated = parse_stated("6.74B")
    assert (stated.value, stated.unit, stated.decimals) == (6_740_000_000, "B", 2)
    assert stated.mantissa == Decimal("6.74")
    assert stated.round(LLAMA_7B) == Decimal("6.74")
    assert parse_stated("7B").value == 7_000_000_000
    assert parse_stated("131.6K").value == 131_600


def test_many_decimals_do_not_overflow_decimal_precision() -> None:
    stated = parse_stated("131.618000000000000000000000000000K")
    assert stated.decimals == 30
    assert stated.matches(131_618)
    assert not stated.matches(131_619)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("12a", ": unknown unit 'a' (use K, M, B or G, T)"),
        ("7Q", ": unknown unit 'Q' (use K, M, B or G, T)"),
        ("1.2.3", ""),
        ("-5", ": a count cannot be negative"),
        ("1e3", ": scientific notation is not accepted"),
        ("1,00", ""),
        ("13,1618", ""),
        ("131 618", ""),
        ("1_31_618", ""),
        ("1,000_000", ""),
        ("K", ""),
        (".5K", ""),
        ("1,00K", ""),
        ("5m", ": unknown unit 'm' (use K, M, B or G, T)"),
        ("131.6KB", ": unknown unit 'KB' (use K, M, B or G, T)"),
        ("many", ""),
    ],
)
def test_malformed(text: str, reason: str) -> None:
    with pytest.raises(OptionError) as info:
        parse_stated(text)
    assert info.value.subtype == "option"
    assert info.value.message == f"stated count {text!r} is not a number{reason}"
    assert info.value.hint == "write an exact count (131618, 131,618, 131_618) or a rounded one (131.6K, 6.74B, 7B)"


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty(text: str) -> None:
    with pytest.raises(OptionError) as info:
        parse_stated(text, what=":total:")
    assert info.value.message == ":total: is empty"


def test_too_long_is_an_option_error() -> None:
    # int() refuses over 4300 digits with a ValueError: must still be an OptionError
    for text in ["1" * 5000, "1" * 5000 + "K", "1," + "000," * 2000 + "000"]:
        with pytest.raises(OptionError, match="is too long to be a count"):
            parse_stated(text)


def test_what_names_the_option() -> None:
    with pytest.raises(OptionError) as info:
        parse_stated("12a", what=":trainable:")
    assert info.value.message.startswith(":trainable: '12a' is not a number")


# -- :expect: -------------------------------------------------------------------------


def test_parse_expect() -> None:
    pairs = parse_expect("conv1=448, fc1=131,104")
    assert [(name, stated.value, stated.text) for name, stated in pairs] == [
        ("conv1", 448, "448"),
        ("fc1", 131_104, "131,104"),
    ]


def test_parse_expect_forms() -> None:
    pairs = parse_expect("conv1 = 448,fc1=131_104,  fc2=66, layer1.0.conv-a=1.2K")
    assert [(name, stated.value) for name, stated in pairs] == [
        ("conv1", 448),
        ("fc1", 131_104),
        ("fc2", 66),
        ("layer1.0.conv-a", 1200),
    ]
    assert parse_expect("fc1=1,234,567")[0][1].value == 1_234_567


def test_parse_expect_sequential_row_names() -> None:
    # the rows of an nn.Sequential are named by digits
    pairs = parse_expect("0=20, 1=48, 2=72, layers.0.fc=20")
    assert [(name, stated.value) for name, stated in pairs] == [("0", 20), ("1", 48), ("2", 72), ("layers.0.fc", 20)]
    pairs = parse_expect("0=131,104, 1=66")
    assert [(name, stated.value) for name, stated in pairs] == [("0", 131_104), ("1", 66)]


def test_parse_expect_duplicates() -> None:
    with pytest.raises(OptionError) as info:
        parse_expect("conv1=448, conv1=449")
    assert info.value.message == ":expect: names row 'conv1' twice"
    assert info.value.hint == "state each row once"


@pytest.mark.parametrize("text", ["", "  "])
def test_parse_expect_empty(text: str) -> None:
    with pytest.raises(OptionError) as info:
        parse_expect(text)
    assert info.value.message == ":expect: is empty"


@pytest.mark.parametrize(("text", "entry"), [("conv1", "conv1"), ("=448", "=448"), ("conv1=448, 66", "66")])
def test_parse_expect_malformed_entry(text: str, entry: str) -> None:
    with pytest.raises(OptionError) as info:
        parse_expect(text)
    assert info.value.message == f":expect: entry {entry!r} is not of the form row=count"


def test_read_expect_keeps_every_good_entry_whatever_is_wrong_with_the_others() -> None:
    pairs, errors = read_expect("blocks.0=99, bogus, fc1=131,104, fc1=131,105, d.fc 1=6, fc2=6x")
    assert [(name, count.value) for name, count in pairs] == [
        ("blocks.0", 99),
        ("fc1", 131_104),
        ("fc1", 131_105),
        ("d.fc 1", 6),
    ]
    assert [e.message for e in errors] == [
        ":expect: entry 'bogus' is not of the form row=count",
        ":expect: names row 'fc1' twice",
        ":expect: count for 'fc2' '6x' is not a number: unknown unit 'x' (use K, M, B or G, T)",
    ]


def test_parse_expect_bad_count() -> None:
    with pytest.raises(OptionError) as info:
        parse_expect("conv1=44x8")
    assert info.value.message == ":expect: count for 'conv1' '44x8' is not a number"


# -- restating and differences -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "actual", "restated"),
    [
        ("131618", 131_650, "131650"),
        ("131,618", 131_650, "131,650"),
        ("131_618", 131_650, "131_650"),
        ("448", 1_234_567, "1234567"),
        ("131.6K", 131_650, "131.7K"),
        ("131.6k", 131_650, "131.7k"),
        ("6.74B", 6_748_000_000, "6.75B"),
        ("7B", LLAMA_7B, "7B"),
        ("7B", 7_600_000_000, "8B"),
        ("3.77M", 3_768_320, "3.77M"),
        ("1.50K", 2000, "2.00K"),
        ("6.74 B", 6_748_000_000, "6.75 B"),
        # Shrunk below one of the unit: the largest unit it reaches, not "0.00B".
        ("6.74B", 5_000_000, "5.00M"),
        ("6.74B", 4_321, "4.32K"),
        ("2.5T", 7_000_000_000, "7.0B"),
        ("1.5k", 999, "999"),
        ("12M", 3_400, "3K"),
    ],
)
def test_restate_keeps_style(text: str, actual: int, restated: str) -> None:
    stated = parse_stated(text)
    assert stated.restate(actual) == restated
    assert parse_stated(restated).matches(actual)


def test_describe_difference() -> None:
    assert describe_difference(parse_stated("131,618"), 131_650) == "+32 (+0.02%)"
    assert describe_difference(parse_stated("131,618"), 131_586) == "-32 (-0.02%)"
    assert describe_difference(parse_stated("100"), 150) == "+50 (+50.00%)"
    assert describe_difference(parse_stated("0"), 5) == "+5"


# -- fuzzing ----------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_stated_raises_only_option_error(text: str) -> None:
    try:
        stated = parse_stated(text)
    except OptionError:
        return
    assert isinstance(stated, StatedCount)
    assert stated.value >= 0
    stated.matches(stated.value)
    stated.restate(stated.value)


number_like = st.text(alphabet="0123456789.,_ KkMBGTe-+", max_size=30)


@settings(max_examples=300, deadline=None)
@given(number_like, st.integers(0, 10**13))
def test_number_like_text_parses_or_raises_option_error(text: str, actual: int) -> None:
    try:
        stated = parse_stated(text)
    except OptionError:
        return
    assert isinstance(stated.matches(actual), bool)
    assert parse_stated(stated.restate(actual)).matches(actual)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**15))
def test_every_exact_form_round_trips(n: int) -> None:
    for text in (str(n), f"{n:,}", f"{n:_}"):
        stated = parse_stated(text)
        assert stated.value == n and stated.matches(n) and stated.restate(n) == text
        assert not stated.matches(n + 1)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**15), st.sampled_from(["K", "M", "B", "T"]), st.integers(0, 3))
def test_rounded_form_of_a_number_matches_it(n: int, unit: str, decimals: int) -> None:
    scales = {"K": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}
    text = parse_stated(f"1{'.' + '0' * decimals if decimals else ''}{unit}").restate(n)
    stated = parse_stated(text)
    assert stated.matches(n)
    if n < 1000 and n < scales[unit]:
        assert stated.exact and stated.value == n  # below every unit: the exact count
        return
    # The stated unit, or the largest smaller one the count reaches; the same decimals.
    assert stated.decimals == decimals
    if n >= scales[unit]:
        assert stated.unit == unit
    else:
        assert scales[stated.unit] <= n < scales[stated.unit] * 1000
    scale = scales[stated.unit]
    # one step of the last decimal away no longer matches
    step = scale // 10**decimals if scale >= 10**decimals else 0
    if step:
        assert not stated.matches(n + 2 * step)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_parse_expect_raises_only_option_error(text: str) -> None:
    try:
        pairs = parse_expect(text)
    except OptionError:
        return
    assert pairs and all(name for name, _ in pairs)


TOTAL, TRAINABLE = ClaimKey("total"), ClaimKey("trainable")


def claims(**stated: str) -> list[Claim]:
    return [Claim(ClaimKey(what), parse_stated(text)) for what, text in stated.items()]


def test_check_claims_and_mismatch_message() -> None:
    actual = {TOTAL: 131_650, TRAINABLE: 131_650}
    check = check_claims("tests.models.seed:SimpleNet", actual, claims(total="131,618", trainable="131.7K"))
    (mismatch,) = check.mismatches
    assert (mismatch.key, mismatch.actual) == (TOTAL, 131_650)
    assert mismatch.message == (
        "stated total 131,618 for tests.models.seed:SimpleNet, but the model has 131,650: +32 (+0.02%)"
    )
    assert check.actual == ((TOTAL, 131_650), (TRAINABLE, 131_650))
    assert check_claims("x", {TOTAL: 131_618}, claims(total="131_618")).ok


def test_check_claims_unknown_row_with_suggestions() -> None:
    counts = {TOTAL: 10, ClaimKey("row", "fc1"): 6, ClaimKey("row", "fc2"): 4}
    check = check_claims("net", counts, [Claim(ClaimKey("row", "fc3"), parse_stated("4"))])
    (unknown,) = check.unknown
    assert (unknown.message, unknown.hint) == (
        ":expect: names row 'fc3', which the model does not have",
        "did you mean 'fc2', 'fc1'?",
    )
    assert not check.ok and check.mismatches == ()


def test_parse_expect_root_and_en_dash_ranges() -> None:
    pairs = parse_expect("(root)=12, blocks.0.0=272, blocks.1–3=144, blocks.4-5=1,152")
    assert [(name, count.value) for name, count in pairs] == [
        ("(root)", 12),
        ("blocks.0.0", 272),
        ("blocks.1–3", 144),
        ("blocks.4-5", 1152),
    ]


def test_rounded_mismatch_message() -> None:
    (mismatch,) = check_claims("llama", {TOTAL: LLAMA_7B}, claims(total="6.73B")).mismatches
    assert mismatch.message == (
        "stated total 6.73B for llama, but the model has 6,738,415,616 (6.74B at the stated precision): "
        "+8,415,616 (+0.13%)"
    )


def test_mismatch_below_the_unit_shows_the_stated_precision_and_update_a_smaller_unit() -> None:
    stated = parse_stated("6.74 B")
    (mismatch,) = check_claims("net", {TOTAL: 131_618}, [Claim(TOTAL, stated)]).mismatches
    assert mismatch.message.startswith(
        "stated total 6.74 B for net, but the model has 131,618 (0.00 B at the stated precision): "
    )
    assert stated.restate(131_618) == "131.62 K"


@pytest.mark.parametrize("text", ["١٣١٦١٨", "１３１,６１８", "١٣١.٦K", "131.６K"])
def test_only_ascii_digits_are_numbers(text: str) -> None:
    with pytest.raises(OptionError, match="is not a number"):
        parse_stated(text)


def test_input_shape_takes_only_ascii_digits() -> None:
    from sphinx_paramcount.shapes import parse_input_shape

    assert parse_input_shape("1, 3, 8, 8") == (1, 3, 8, 8)
    with pytest.raises(OptionError):
        parse_input_shape("1, ٣, 8, 8")
