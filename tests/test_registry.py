"""senet_lib.registry: one function builds what fills an attention slot, from a name and options."""

import pytest
import torch
from torch import nn

from senet_lib.block import SEBlock
from senet_lib.registry import ATTENTION, attention_options, make_attention


def test_options_are_filled_in_and_the_same_block_compares_equal():
    assert attention_options("se", {"reduction": 2}) == {"reduction": 2, "pool": "avg", "gate": "sigmoid",
                                                         "bias1": False, "bias2": True}
    assert attention_options("se") == attention_options("se", {"reduction": 16})
    assert attention_options("none") == {}
    assert attention_options("ge")["extent"] == 4  # the book's arms use e = 4
    assert attention_options("ge_learned", {"feature_size": [8, 8]})["feature_size"] == (8, 8)


def test_every_option_reaches_the_block():
    se = make_attention("se", 32, reduction=4, pool="max", gate="tanh", bias1=True)
    assert isinstance(se, SEBlock) and se.hidden == 8 and se.squeeze.pool == "max" and se.gate_name == "tanh"
    assert se.fc1.bias is not None
    assert make_attention("eca", 64, kernel_size=5).kernel_size == 5
    assert make_attention("cbam", 64, reduction=8).channel.fc1.out_features == 8
    assert make_attention("no_squeeze", 32, reduction=2).hidden == 16
    assert make_attention("ge", 16, extent=2).extent == 2 and not make_attention("ge", 16).learned
    assert make_attention("ge_learned", 16).learned
    torch.testing.assert_close(make_attention("scale", 4, init=0.25).gates(torch.zeros(2, 4, 1, 1)),
                               torch.full((2, 4), 0.25))
    x = torch.randn(2, 4, 3, 3)
    torch.testing.assert_close(make_attention("constant", 4, value=0.2)(x), 0.2 * x)
    assert isinstance(make_attention("none", 4), nn.Identity)
    assert set(ATTENTION) == {"none", "se", "no_squeeze", "scale", "constant", "eca", "cbam", "ge", "ge_learned"}


@pytest.mark.parametrize("call, err, match", [
    (lambda: make_attention("sk", 8), ValueError, r"attn must be one of \('none', 'se'"),
    (lambda: make_attention(None, 8), ValueError, "attn must be one of"),
    (lambda: make_attention("eca", 8, reduction=4), ValueError, r"'eca' takes kernel_size, minimum_kernel; got \['reduction'\]"),
    (lambda: make_attention("scale", 8, reduction=4), ValueError, "'scale' takes init"),
    (lambda: make_attention("none", 8, reduction=4), ValueError, "'none' takes no options"),
    (lambda: attention_options("se", [("reduction", 2)]), TypeError, "attn_options must be a dict"),
    (lambda: make_attention("se", 8, reduction=0), ValueError, "reduction must be a positive int"),
    (lambda: make_attention("se", 8, pool="median"), ValueError, "pool"),
    (lambda: make_attention("constant", 8, value="half"), TypeError, "value must be a number"),
    (lambda: make_attention("none", 0), ValueError, "channels must be a positive int"),
])
def test_bad_names_and_options_are_refused_naming_them(call, err, match):
    with pytest.raises(err, match=match):
        call()
