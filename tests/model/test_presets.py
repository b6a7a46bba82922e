"""Presets against independently known figures: published parameter counts, and (where PyTorch is
installed) PyTorch's own layers built from the same description on the meta device."""
import pytest

from convviz.engine import Network, Volume
from convviz.model import infer
from convviz.model.presets import load_preset, preset_groups, preset_names, resolve_net

# Published figures. torchvision's model docs: alexnet 61,100,840 and vgg16 138,357,544 parameters.
# ConvNetJS CIFAR-10 demo: 22,466 (the issue). LeNet-5 with C3 fully connected: 61,706 (the paper's sparse
# C3 and trainable pools give about 60,000). ZFNet and the seed's net: the sum of their layers, by hand.
PUBLISHED_PARAMS = {
    "seed": (10 * 3 * 5 * 5 + 10) + (16 * 16 * 10 * 10 + 10),
    "convnetjs": 22_466,
    "lenet5": 61_706,
    "alexnet": 61_100_840,
    "zfnet": (96 * 3 * 49 + 96) + (256 * 96 * 25 + 256) + (384 * 256 * 9 + 384) + (384 * 384 * 9 + 384)
             + (256 * 384 * 9 + 256) + (9216 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000),
    "vgg16": 138_357_544,
    # He et al. 2016 (CIFAR-10 ResNets with 1x1 projection shortcuts, batchnorm, bias-free convs) and
    # torchvision's resnet18, resnet34 and googlenet (without the auxiliary classifiers) model docs
    "resnet20": 272_474,
    "resnet56": 855_770,
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "googlenet": 6_624_904,
}
# Volumes from the papers and the seed's case studies (width = height).
PUBLISHED_VOLUMES = {
    "alexnet": [55, 27, 27, 13, 13, 13, 13, 6],                 # conv1 55x55 on 227, pools 27, 13, 6
    "vgg16": [224, 224, 112, 112, 112, 56] + [56] * 3 + [28] * 4 + [14] * 4 + [7],
    "lenet5": [28, 14, 10, 5, 1],
    "convnetjs": [32, 16, 16, 8, 8, 4],
}


def test_names():
    names = preset_names()
    assert names[:2] == ["seed", "convnetjs"]
    assert set(names) >= {"seed", "convnetjs", "lenet5", "alexnet", "zfnet", "vgg16", "vgg-cifar", "alexnet-cifar"}
    with pytest.raises(ValueError, match="the presets are seed, convnetjs"):
        load_preset("resnet")
    with pytest.raises(ValueError, match="neither a preset nor an existing file"):
        resolve_net("resnet")


@pytest.mark.parametrize("name", sorted(PUBLISHED_PARAMS))
def test_published_parameter_counts(name):
    result = infer(load_preset(name))
    assert result.valid, result.errors
    assert result.total_params == PUBLISHED_PARAMS[name]


@pytest.mark.parametrize("name", sorted(PUBLISHED_VOLUMES))
def test_published_volumes(name):
    blocks = infer(load_preset(name)).blocks
    spatial = [b.output.width for b in blocks if b.type in ("conv", "maxpool", "avgpool")]
    assert spatial == PUBLISHED_VOLUMES[name]


@pytest.mark.parametrize("name, input, classes", [
    ("alexnet", (227, 227, 3), 1000), ("vgg16", (224, 224, 3), 1000), ("zfnet", (227, 227, 3), 1000),
    ("seed", (32, 32, 3), 10), ("convnetjs", (32, 32, 3), 10), ("vgg-cifar", (32, 32, 3), 10),
    ("alexnet-cifar", (32, 32, 3), 10), ("lenet5", (32, 32, 1), 10), ("resnet20", (32, 32, 3), 10),
    ("resnet56", (32, 32, 3), 10), ("resnet18", (224, 224, 3), 1000), ("resnet34", (224, 224, 3), 1000),
    ("googlenet", (224, 224, 3), 1000)])
def test_inputs_and_classes(name, input, classes):
    a = load_preset(name)
    assert (a.input, a.classes) == (Volume(*input), classes) and a.description


@pytest.mark.parametrize("name", ["seed", "convnetjs", "lenet5", "vgg-cifar", "alexnet-cifar", "resnet20", "resnet56"])
def test_small_presets_build_in_the_engine(name):
    a = load_preset(name)
    result = infer(a)
    net = Network(a)
    assert result.valid
    assert net.parameter_count == result.total_params
    by_key = {b.key: b for b in result.walk()}
    assert all(n.volume == by_key[n.key].output for n in net.plan.nodes[1:])


@pytest.mark.parametrize("name", ["resnet20", "googlenet", "resnet18"])
def test_branching_presets_run_in_pytorch_with_the_inferred_volumes(name):
    """The PyTorch mirror (PyTorch's own layers: floor for "fit": "crop", ceil_mode for "fit": "pad") on the
    meta device gives the inferred output and parameter count."""
    torch = pytest.importorskip("torch")
    from convviz.export.torch import torch_module

    a = load_preset(name)
    with torch.device("meta"):
        model = torch_module(a)
    x = torch.empty(1, a.input.depth, a.input.height, a.input.width, device="meta")
    assert tuple(model[:-1](x).shape) == (1, a.classes, 1, 1)
    assert sum(p.numel() for p in model.parameters()) == infer(a).total_params == PUBLISHED_PARAMS[name]


def torch_volumes(arch):
    """Build the architecture from PyTorch's own layers on the meta device (no memory) and run it:
    -> (each block's output as a Volume, parameter count)."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    x = torch.empty(1, arch.input.depth, arch.input.height, arch.input.width, device="meta")
    volumes, count = [], 0
    for layer in arch.layers:
        p, c = layer.params, x.shape[1]
        if layer.type == "conv":
            m = nn.Conv2d(c, p["filters"], p["size"], p.get("stride", 1), p.get("pad", 0), p.get("dilation", 1),
                          device="meta")
        elif layer.type in ("maxpool", "avgpool"):
            cls = nn.MaxPool2d if layer.type == "maxpool" else nn.AvgPool2d
            m = cls(p.get("size", 2), p.get("stride", p.get("size", 2)), p.get("pad", 0))
        elif layer.type == "fc":
            linear = nn.Linear(x[0].numel(), p["units"], device="meta")
            m = nn.Sequential(nn.Flatten(), linear, nn.Unflatten(1, (p["units"], 1, 1)))
        else:
            m = {"relu": nn.ReLU(), "tanh": nn.Tanh(), "dropout": nn.Dropout(p.get("rate", 0.5)),
                 "softmax": nn.Softmax(dim=1)}[layer.type]
        x = m(x)
        count += sum(t.numel() for t in m.parameters())
        volumes.append(Volume(x.shape[3], x.shape[2], x.shape[1]))
    return volumes, count


@pytest.mark.parametrize("name", ["seed", "convnetjs", "lenet5", "alexnet", "zfnet", "vgg16", "vgg-cifar",
                                  "alexnet-cifar"])
def test_presets_match_pytorch(name):
    a = load_preset(name)
    volumes, count = torch_volumes(a)
    result = infer(a)
    assert [b.output for b in result.blocks] == volumes
    assert result.total_params == count


def test_alexnet_with_the_seed_filters_gives_the_ungrouped_original_count():
    """The preset's description quotes 62,378,344 for the seed's AlexNet (96-256-384-384-256 filters)."""
    a = load_preset("alexnet")
    convs = [layer for layer in a.layers if layer.type == "conv"]
    for layer, filters in zip(convs, (96, 256, 384, 384, 256)):
        layer.params["filters"] = filters
    assert infer(a).total_params == 62_378_344
    assert "62,378,344" in load_preset("alexnet").description


def test_groups():
    """Trainable presets fit CIFAR-10 (32x32x3, 10 classes) and are valid; every preset is in a group."""
    groups = dict(preset_groups())
    assert list(groups) == ["Train on CIFAR-10", "Reference networks (view only)"]
    assert groups["Train on CIFAR-10"] == ["seed", "convnetjs", "vgg-cifar", "alexnet-cifar", "resnet20", "resnet56"]
    assert {"lenet5", "alexnet", "zfnet", "vgg16"} <= set(groups["Reference networks (view only)"])
    assert sorted(n for names in groups.values() for n in names) == sorted(preset_names())
    for name in groups["Train on CIFAR-10"]:
        a = load_preset(name)
        assert (a.input, a.classes, a.group) == (Volume(32, 32, 3), 10, "train") and infer(a).valid
    for name in groups["Reference networks (view only)"]:
        assert load_preset(name).group == "reference"


@pytest.mark.parametrize("name", preset_names())
def test_presets_open_without_warnings(name):
    """The reference nets' large fc layers follow a pool to 7x7 or less, as published; the ResNets' 1x1
    stride-2 projection shortcuts floor like PyTorch's ("fit": "crop") and lose only the row and column
    their stride skips anyway: nothing to warn about."""
    assert infer(load_preset(name)).warnings == []


def test_the_large_fc_warning_is_kept_for_an_unpooled_volume():
    a = load_preset("vgg16")
    del a.layers[30]  # VGG16 without its last pool: fc6 then sees 14x14x512
    [warning] = infer(a).warnings
    assert warning.path == (30,) and "unpooled 14x14x512 volume" in warning.message
