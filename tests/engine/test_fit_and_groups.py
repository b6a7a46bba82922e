"""The declarations' new rules: fit (exact | crop | pad) against PyTorch's output sizes, the crop
warning against the rows the kernels really never read, and conv groups' divisibility rules."""
import itertools
import re

import numpy as np
import pytest

from convviz.engine import LAYER_TYPES, Volume, VolumeError, spatial_out
from convviz.engine.layers import Context

from .gradcheck import backward, forward


def test_exact_still_refuses_what_is_not_whole_and_crop_and_pad_round():
    with pytest.raises(VolumeError, match=r"\(32 - 3 \+ 2\)/2 \+ 1 = 16.5 is not a whole number"):
        spatial_out("width", 32, 3, 2, 1)
    assert spatial_out("width", 32, 3, 2, 1, fit="crop") == 16
    assert spatial_out("width", 32, 3, 2, 1, fit="pad") == 17
    assert spatial_out("width", 31, 3, 2, 1, fit="crop") == spatial_out("width", 31, 3, 2, 1) == 16


@pytest.mark.parametrize("fit", ["crop", "pad"])
def test_a_filter_larger_than_the_padded_input_is_an_error_whatever_the_fit(fit):
    with pytest.raises(VolumeError, match=r"filter \(5\) is larger than the padded input height \(1 \+ 0 = 1\)"):
        spatial_out("height", 1, 5, 2, 0, fit=fit)


def test_fit_sizes_are_pytorchs():
    """Every small case: crop = PyTorch's floor, pad = its ceil_mode (an error exactly where PyTorch
    refuses); conv crop with dilation = Conv2d's output size."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    for size, f, s in itertools.product(range(1, 10), range(1, 5), range(1, 4)):
        for p in range(f // 2 + 1):
            x = torch.zeros(1, 1, size, 1)
            for fit, ceil in (("crop", False), ("pad", True)):
                try:
                    want = F.max_pool2d(x, (f, 1), (s, 1), (p, 0), ceil_mode=ceil).shape[2]
                except RuntimeError:
                    want = None
                try:
                    got = spatial_out("height", size, f, s, p, fit=fit)
                except VolumeError:
                    got = None
                assert got == want, (size, f, s, p, fit)
    for size, f, s, p, d in itertools.product(range(1, 9), range(1, 4), range(1, 4), range(0, 3), range(1, 3)):
        try:
            want = F.conv2d(torch.zeros(1, 1, size, 1), torch.zeros(1, 1, f, 1), None, (s, 1), (p, 0), (d, 1)).shape[2]
        except RuntimeError:
            want = None
        try:
            got = spatial_out("height", size, f, s, p, d, fit="crop")
        except VolumeError:
            got = None
        assert got == want, (size, f, s, p, d)


@pytest.mark.parametrize("name, given, vol, want", [
    ("conv", {"size": 1, "stride": 2, "fit": "crop"}, Volume(32, 32, 3), None),  # skips every other row anyway
    ("conv", {"size": 2, "stride": 3, "fit": "crop"}, Volume(10, 10, 1),  # rows 8, 9 unseen; row 8 is the gap
     "fit crop: the last 1 input row and 1 column are never seen"),
    ("conv", {"size": 3, "stride": 2, "pad": 1, "fit": "crop"}, Volume(32, 32, 3), None),  # only padding dropped
    ("conv", {"size": 3, "stride": 4, "fit": "crop"}, Volume(10, 10, 1),
     "fit crop: the last 2 input rows and 2 columns are never seen"),  # rows 7-9 unseen, 7 the stride's gap
    ("maxpool", {"size": 2, "fit": "crop"}, Volume(7, 6, 2), "fit crop: the last 1 input column is never seen"),
    ("avgpool", {"size": 2, "fit": "crop"}, Volume(6, 9, 2), "fit crop: the last 1 input row is never seen"),
    ("avgpool", {"size": 3, "stride": 3, "fit": "crop"}, Volume(5, 8, 2),
     "fit crop: the last 2 input rows and 2 columns are never seen"),
    ("maxpool", {"size": 2, "fit": "pad"}, Volume(7, 7, 2), None),
    ("conv", {"size": 2, "stride": 2}, Volume(8, 8, 2), None),
])
def test_crop_warning_names_the_input_rows_and_columns_never_seen(name, given, vol, want):
    t = LAYER_TYPES[name]
    assert t.warnings(t.resolve(given), vol) == ([want] if want else [])


@pytest.mark.parametrize("given", [
    {"size": 1, "stride": 2}, {"size": 3, "stride": 2, "pad": 1}, {"size": 3, "stride": 4}, {"size": 2, "stride": 3},
    {"size": 2, "stride": 4}, {"size": 5, "stride": 2, "pad": 2}, {"size": 4, "stride": 5, "pad": 1},
])
@pytest.mark.parametrize("height", [9, 10, 11, 12, 13])
def test_the_crop_warning_counts_the_rows_the_conv_never_reads(given, height):
    """The warning's count equals the trailing input rows whose gradient is zero (their numbers never
    reach the output), less the gap a stride wider than the filter leaves after every window anyway.
    Undilated filters: a dilated one also skips rows between its taps, which no fit drops."""
    t = LAYER_TYPES["conv"]
    hp = t.resolve({"filters": 2, **given, "fit": "crop"})
    vol = Volume(8, height, 1)
    rng = np.random.default_rng(0)
    params = t.init_params(hp, vol, rng, np.float64)
    x = rng.standard_normal((1, 1, height, 8))
    out, cache = forward(t, hp, params, {}, x, Context(train=True))
    dx, _ = backward(t, hp, params, np.ones_like(out), cache)
    read = np.flatnonzero(np.abs(dx[0, 0]).sum(axis=1))
    never = max(height - 1 - read[-1] - max(hp["stride"] - hp["size"], 0), 0)
    found = re.findall(r"the last (\d+) input rows?", " ".join(t.warnings(hp, vol)))
    assert [int(n) for n in found] == ([never] if never else [])


def test_groups_must_divide_the_filters_and_the_fix_works():
    t = LAYER_TYPES["conv"]
    message, fix = t.problem(t.resolve({"filters": 10, "groups": 4}))
    assert message == "filters 10 is not divisible by groups 4"
    assert fix in ({"filters": 8}, {"filters": 12})
    assert t.problem(t.resolve({"filters": 3, "groups": 8})) == ("filters 3 is not divisible by groups 8", {"filters": 8})
    assert t.problem(t.resolve({"filters": 12, "groups": 4})) is None


def test_groups_must_divide_the_input_depth_and_the_fix_works_for_every_case():
    t = LAYER_TYPES["conv"]
    message, fix = t.volume_problem(t.resolve({"filters": 8, "groups": 4}), Volume(5, 5, 6))
    assert (message, fix) == ("the input depth 6 is not divisible by groups 4", {"groups": 2})
    assert t.volume_problem(t.resolve({"filters": 8, "groups": 4}), Volume(5, 5, 12)) is None
    for depth, filters, groups in itertools.product(range(1, 13), range(1, 13), range(1, 13)):
        hp = t.resolve({"filters": filters, "groups": groups})
        problem = t.problem(hp)
        if problem:
            hp = t.resolve({"filters": filters, "groups": groups, **problem[1]})
            assert t.problem(hp) is None
        problem = t.volume_problem(hp, Volume(3, 3, depth))
        if problem:
            hp = {**hp, **problem[1]}
            assert t.problem(hp) is None and t.volume_problem(hp, Volume(3, 3, depth)) is None
        assert hp["filters"] % hp["groups"] == 0 and depth % hp["groups"] == 0


def test_grouped_and_bias_free_conv_parameters_and_costs():
    t = LAYER_TYPES["conv"]
    hp = t.resolve({"filters": 8, "size": 3, "pad": 1, "groups": 4, "bias": False})
    vol = Volume(6, 6, 12)
    assert t.param_shapes(hp, vol) == {"weight": (8, 3, 3, 3)}
    assert set(t.init_params(hp, vol, np.random.default_rng(0), np.float32)) == {"weight"}
    assert t.fan_in(hp, vol) == 27
    assert t.macs(hp, vol, t.output_volume(hp, vol)) == 6 * 6 * 8 * 27
    assert t.torch_module(hp, vol)[1] == {"in_channels": 12, "out_channels": 8, "kernel_size": 3, "stride": 1,
                                          "padding": 1, "dilation": 1, "groups": 4, "bias": False}


def test_globalavgpool_and_lrn_volumes():
    assert LAYER_TYPES["globalavgpool"].output_volume({}, Volume(7, 5, 32)) == Volume(1, 1, 32)
    assert LAYER_TYPES["globalavgpool"].window({}, Volume(7, 5, 32)) == (7, 1)
    lrn = LAYER_TYPES["lrn"]
    assert lrn.output_volume(lrn.resolve({}), Volume(7, 5, 32)) == Volume(7, 5, 32)
