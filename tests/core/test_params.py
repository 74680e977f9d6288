"""ConvParams: every spelling of one geometry is one equal, hashable object."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convcli import ConvParams, ParameterError, convolve2d
from convcli.core.params import PAD_MODES, Pair


def spellings(pair: Pair) -> st.SearchStrategy[Any]:
    """The ways the API takes `pair`: a tuple, a list, a 1-D array of any integer type, one
    int when both axes agree, and ``"valid"`` for no padding."""
    forms: list[Any] = [
        pair,
        list(pair),
        np.array(pair),
        np.array(pair, dtype=np.uint16),
        (np.int64(pair[0]), np.int8(pair[1])),
    ]
    if pair[0] == pair[1]:
        forms += [pair[0], np.int32(pair[0])]
    if pair == (0, 0):
        forms.append("valid")
    return st.sampled_from(forms)


pairs = st.tuples(st.integers(1, 9), st.integers(1, 9))
paddings = st.tuples(st.integers(0, 9), st.integers(0, 9))


@given(
    stride=pairs, padding=paddings, dilation=pairs, mode=st.sampled_from(PAD_MODES), data=st.data()
)
def test_every_spelling_gives_an_equal_hashable_object(
    stride: Pair, padding: Pair, dilation: Pair, mode: str, data: st.DataObject
) -> None:
    canonical = ConvParams(stride=stride, padding=padding, dilation=dilation, pad_mode=mode)  # type: ignore[arg-type]
    spelled: dict[str, Any] = {
        "stride": data.draw(spellings(stride)),
        "padding": data.draw(
            spellings(padding) | st.just("valid") if padding == (0, 0) else spellings(padding)
        ),
        "dilation": data.draw(spellings(dilation)),
        "pad_mode": mode,
    }
    for built in (ConvParams(**spelled), ConvParams.from_args(**spelled)):
        assert built == canonical
        assert hash(built) == hash(canonical)
        assert built.stride == stride
        assert all(type(value) is int for value in (*built.stride, *built.dilation))
        assert {built, canonical} == {canonical}


def test_an_int_stride_is_stored_as_a_pair_the_arithmetic_can_use() -> None:
    params = ConvParams(stride=2)  # type: ignore[arg-type]
    assert params.stride == (2, 2)
    assert params == ConvParams(stride=(2, 2))
    image = np.arange(36.0).reshape(6, 6)
    assert convolve2d(image, np.ones((3, 3)), stride=params.stride).shape == (2, 2)


def test_same_padding_is_kept_and_valid_is_none() -> None:
    assert ConvParams(padding="same").padding == "same"
    assert ConvParams(padding="valid") == ConvParams()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"stride": 0}, "stride must be an integer >= 1"),
        ({"stride": True}, "stride must be an integer >= 1"),
        ({"stride": 1.0}, "stride must be an integer >= 1"),
        ({"stride": (1, 2, 3)}, "stride must be an integer >= 1"),
        ({"dilation": [0, 1]}, "dilation must be an integer >= 1"),
        ({"padding": -1}, "padding must be an integer >= 0"),
        ({"padding": "full"}, "padding must be an integer >= 0, an (h, w) pair, 'same' or 'valid'"),
        ({"pad_mode": "mirror"}, "pad mode must be one of zeros, reflect, replicate, circular"),
        ({"flip": 1}, "flip must be True or False"),
        ({"padding": "same", "stride": 2}, "padding 'same' needs stride 1, got stride 2"),
    ],
)
def test_what_is_refused_says_why(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ParameterError) as refused:
        ConvParams(**fields)
    assert message in str(refused.value)
