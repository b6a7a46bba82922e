"""Every layer declaration says how many bytes per image its forward keeps for backward while training
(LayerType.cache_bytes, summed by model.memory): checked against what forward really keeps."""
import numpy as np
import pytest

from convviz.engine import LAYER_TYPES, Volume
from convviz.engine.layers import Context, to_engine

CASES = [("conv", {"filters": 5, "size": 3, "pad": 1}, Volume(9, 7, 4)),
         ("conv", {"filters": 5, "size": 3, "stride": 2}, Volume(9, 7, 4)),
         ("conv", {"filters": 5, "size": 5, "stride": 2, "pad": 2}, Volume(11, 11, 3)),
         ("conv", {"filters": 2, "size": 3, "dilation": 2, "pad": 2}, Volume(8, 8, 3)),
         ("conv", {"filters": 6, "size": 3, "groups": 3, "bias": False}, Volume(9, 7, 6)),
         ("maxpool", {"size": 2}, Volume(8, 6, 3)),
         ("maxpool", {"size": 2, "fit": "pad"}, Volume(9, 7, 3)),
         ("maxpool", {"size": 3, "stride": 2}, Volume(9, 9, 3)),
         ("avgpool", {"size": 2}, Volume(8, 8, 3)), ("globalavgpool", {}, Volume(5, 4, 6)),
         ("lrn", {"size": 3}, Volume(4, 4, 6)),
         ("relu", {}, Volume(5, 5, 4)), ("leakyrelu", {}, Volume(5, 5, 4)), ("tanh", {}, Volume(5, 5, 4)),
         ("sigmoid", {}, Volume(5, 5, 4)), ("dropout", {"rate": 0.3}, Volume(5, 5, 4)),
         ("dropout", {"rate": 0.0}, Volume(5, 5, 4)), ("batchnorm", {}, Volume(5, 5, 4)),
         ("fc", {"units": 7}, Volume(3, 3, 4)), ("softmax", {}, Volume(1, 1, 10))]


def kept_bytes(cache, params) -> int:
    """Bytes of the distinct arrays a cache holds, the layer's parameters aside (a view counts as the
    array it looks into)."""
    owners, own = {}, {id(a) for a in params.values()}

    def visit(x):
        if isinstance(x, np.ndarray):
            while isinstance(x.base, np.ndarray):
                x = x.base
            owners[id(x)] = x.nbytes
        elif isinstance(x, (tuple, list)):
            for item in x:
                visit(item)

    visit(cache)
    return sum(nbytes for key, nbytes in owners.items() if key not in own)


def test_every_layer_type_is_covered():
    assert {name for name, _, _ in CASES} == set(LAYER_TYPES)


@pytest.mark.parametrize("name, given, vol", CASES)
def test_declared_cache_bytes_match_what_forward_keeps(name, given, vol):
    t = LAYER_TYPES[name]
    hp = t.resolve(given)
    assert t.hyper_problems(given) == []
    out = t.output_volume(hp, vol)
    rng = np.random.default_rng(0)
    params = t.init_params(hp, vol, rng, np.float32)
    buffers = t.initial_buffers(hp, vol, np.float32)
    kept = {}
    for n in (3, 6):  # per image: what a bigger batch adds (a per-channel array is not per image)
        x = to_engine(rng.standard_normal((n, vol.depth, vol.height, vol.width)).astype(np.float32))
        _, cache = t.forward(hp, params, buffers, x, Context(train=True, rng=rng))
        kept[n] = kept_bytes(cache, params)
    assert kept[6] - kept[3] == 3 * t.cache_bytes(hp, vol, out, 4)
    assert kept[3] - 3 * t.cache_bytes(hp, vol, out, 4) <= 2 * vol.depth * 4  # per-depth statistics


@pytest.mark.parametrize("given, vol, n", [({"filters": 64, "size": 3, "pad": 1}, Volume(48, 48, 64), 4),
                                           ({"filters": 32, "size": 3, "stride": 2}, Volume(49, 49, 32), 4),
                                           ({"filters": 16, "size": 3, "pad": 1}, Volume(32, 32, 16), 32),
                                           ({"filters": 20, "size": 5, "pad": 2}, Volume(16, 16, 16), 32),
                                           ({"filters": 8, "size": 3, "pad": 2, "dilation": 2, "groups": 2},
                                            Volume(16, 16, 4), 8)])
def test_conv_workspace_bounds_what_a_chunk_allocates_beyond_its_arrays(given, vol, n):
    """tracemalloc sees NumPy's allocations: the scratch of forward and of backward, beyond the input
    (which the cache holds), the output and the gradients, is at most the declared workspace (backward:
    plus the allowance model.memory adds for any layer's transients, twice its input and output), and
    the larger is at least half of it."""
    import tracemalloc

    t = LAYER_TYPES["conv"]
    hp = t.resolve(given)
    out = t.output_volume(hp, vol)
    rng = np.random.default_rng(0)
    params = t.init_params(hp, vol, rng, np.float32)
    x = to_engine(rng.standard_normal((n, vol.depth, vol.height, vol.width)).astype(np.float32))
    dout = np.ones((out.depth, out.height, out.width, n), np.float32)
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        y, cache = t.forward(hp, params, {}, x, Context(train=True, rng=rng))
        forward = tracemalloc.get_traced_memory()[1] - start - y.nbytes  # its cache is the input x
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        dx, grads = t.backward(hp, params, dout, cache)
        backward = tracemalloc.get_traced_memory()[1] - start - dx.nbytes - sum(g.nbytes for g in grads.values())
    finally:
        tracemalloc.stop()
    declared = t.workspace_bytes(hp, vol, out, 4, n)
    allowance = n * 2 * (out.size + vol.size) * 4
    assert forward <= declared and backward <= declared + allowance and max(forward, backward) >= declared / 2
