"""Readable block names (stages of ResNet and GoogLeNet) and the builder's ready-made blocks, Qt-free."""
import pytest

from convviz.engine import Volume
from convviz.model import Architecture, LayerSpec, infer
from convviz.model.names import block_names, name_of
from convviz.model.presets import load_preset
from convviz.model.templates import DEFAULT_DEPTH, TEMPLATES, volume_at


def test_resnet_blocks_are_named_by_stage_and_block():
    inference = infer(load_preset("resnet56"))
    names = block_names(inference.blocks)
    assert name_of(names, (0,)) == "conv 0" and name_of(names, (4,)) == "relu 1"
    assert name_of(names, (3,)) == "stage 1 · block 0"
    assert name_of(names, (21,)) == "stage 2 · block 0"          # the first block that halves the size
    assert name_of(names, (23, 0, 3)) == "stage 2 · block 1 · body · conv 1"
    assert name_of(names, (21, 1, 1)) == "stage 2 · block 0 · shortcut · batch norm 0"
    assert len(set(names.values())) == len(names) == sum(1 for _ in inference.walk())   # each name once


def test_googlenet_inception_stages_and_one_stage_nets():
    names = block_names(infer(load_preset("googlenet")).blocks)
    stages = sorted({parts[0].split(" · ")[0] for parts in names.values() if parts[0].startswith("stage")})
    assert stages == ["stage 1", "stage 2", "stage 3"]               # inception 3, 4 and 5
    assert name_of(names, (11, 3, 0)) == "stage 1 · block 0 · branch 3 · max pool 0"
    arch = Architecture(layers=[LayerSpec("residual", {}, [[LayerSpec("relu")], [LayerSpec("residual", {}, [[], []])]]),
                                LayerSpec("fc", {"units": 10}), LayerSpec("softmax")])
    nested = block_names(infer(arch).blocks)
    assert name_of(nested, (0,)) == "block 0"                        # a single stage: no stage number
    assert name_of(nested, (0, 1, 0)) == "block 0 · shortcut · residual 0"


@pytest.mark.parametrize("fed", [Volume(32, 32, 16), Volume(7, 7, 64), Volume(1, 1, 3), None])
def test_every_template_merges_whatever_it_is_fed(fed):
    for name, template in TEMPLATES.items():
        blocks = template.blocks(fed)
        depth = fed.depth if fed is not None else DEFAULT_DEPTH
        arch = Architecture(input=fed or Volume(32, 32, DEFAULT_DEPTH), layers=blocks)
        first = infer(arch).blocks[0]
        assert first.is_container and not first.errors, (name, fed, first.errors)
        assert first.output.depth in (depth, 2 * depth, 256), name
        assert template.title and template.tooltip.endswith(".") and template.icon


def test_the_volume_at_an_insertion_point():
    inference = infer(load_preset("resnet20"))
    assert volume_at(inference, (0,)) == Volume(32, 32, 3)
    assert volume_at(inference, (9, 0, 0)) == Volume(32, 32, 16)     # a lane starts from its container's input
    assert volume_at(inference, (9, 1, 2)) == Volume(16, 16, 32)     # the end of the projection shortcut
    assert volume_at(inference, (24,)) == Volume(1, 1, 10)
