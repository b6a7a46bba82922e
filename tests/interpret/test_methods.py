"""The methods on a network trained on the real sample: attacks fool it, occlusion and class models do
what they say, receptive fields match the gradient's reach, t-SNE keeps neighbours, cancel stops."""
import numpy as np
import pytest

from convviz.engine import Network
from convviz.engine.fields import receptive_fields
from convviz.interpret import adversarial, embedding, features, occlusion, synthesis
from convviz.interpret.gradients import upsample
from convviz.interpret.methods import METHODS, Options, ImageSet, explain
from convviz.interpret.subject import Cancelled, conv_nodes, embedding_node, find_node
from convviz.model import Architecture, LayerSpec as L

from .nets import branching_net


def test_fgsm_lowers_test_accuracy(trained, sample):
    subject, _ = trained
    accuracy = adversarial.accuracy_vs_epsilon(subject, sample.test_images[:400], sample.test_labels[:400],
                                               epsilons=(0, 2, 8))
    assert accuracy[0] > 0.3, "the network must have learned something for the attack to mean anything"
    assert accuracy[2] < accuracy[1] < accuracy[0]
    assert accuracy[2] < accuracy[0] / 2


def test_fgsm_moves_each_pixel_by_epsilon_within_the_pixel_range(trained, sample):
    subject, _ = trained
    x = subject.normalise(sample.test_images[:4])
    adv = adversarial.fgsm(subject, x, sample.test_labels[:4], 8.0)
    moved = np.abs(subject.normalizer.std[None, :, None, None] * (adv - x))
    low, high = subject.bounds()
    assert moved.max() == pytest.approx(8.0, abs=1e-3)
    assert np.all(adv >= low - 1e-6) and np.all(adv <= high + 1e-6)


def test_targeted_attack_reaches_its_target_on_real_images(trained, sample):
    subject, _ = trained
    reached = 0
    for index in range(6):
        x = subject.normalise(sample.test_images[index])
        target = (int(sample.test_labels[index]) + 3) % 10
        attack = adversarial.targeted_attack(subject, x, target, epsilon=16.0, max_steps=100)
        assert attack.fooled == (int(subject.net.forward(attack.image[None]).argmax()) == target)
        assert np.abs(subject.normalizer.std[:, None, None] * (attack.image - x)).max() <= 16.0 + 1e-3
        reached += attack.fooled
    assert reached == 6


def test_occluding_the_whole_image_gives_the_probability_of_a_grey_image(trained, sample):
    subject, _ = trained
    image = sample.test_images[7]
    x = subject.normalise(image)
    grey = np.full_like(image, int(occlusion.GREY))
    fill = subject.normalise(grey)[:, 0, 0]
    for cls in (0, 5):
        m = occlusion.occlusion(subject.net, x, cls, fill, patch=32, stride=1)
        assert m.shape == (1, 1)
        assert m[0, 0] == pytest.approx(subject.net.predict_proba(subject.normalise(grey)[None])[0, cls], abs=1e-6)


def test_occlusion_places_cover_the_far_border():
    assert occlusion.patch_starts(32, 8, 2).tolist() == list(range(0, 25, 2))
    assert occlusion.patch_starts(10, 4, 4).tolist() == [0, 4, 6]
    m = np.arange(9, dtype=np.float32).reshape(3, 3)
    spread = occlusion.per_pixel(m, 10, 10, 4, 4)
    assert spread[0, 0] == 0 and spread[9, 9] == 8 and spread[5, 0] == 3 and spread[6, 0] == pytest.approx((3 + 6) / 2)


def test_class_models_raise_their_class_score(trained):
    subject, _ = trained
    net = subject.net
    for cls in (1, 8):
        made = synthesis.class_model(net, cls, subject.bounds(), steps=40)
        start = np.zeros_like(made)
        # the rise is 4.3 to 19 over training seeds 0 to 3 (class 8 of seed 0: 4.3 with the engine's
        # batch-last kernels' float rounding, 6.5 before), so the margin asked is 2
        assert net.forward(made[None])[0, cls] > net.forward(start[None])[0, cls] + 2
        low, high = subject.bounds()
        assert np.all(made >= low - 1e-6) and np.all(made <= high + 1e-6)
    tv = synthesis.class_model(net, 3, subject.bounds(), steps=40, penalty="tv")
    assert net.forward(tv[None])[0, 3] > net.forward(np.zeros_like(tv)[None])[0, 3]


def test_deep_dream_raises_what_the_layer_sees(trained, sample):
    subject, _ = trained
    net = subject.net
    node = conv_nodes(net)[-1].id
    x = subject.normalise(sample.test_images[2])
    dreamed = synthesis.deep_dream(net, x, node, subject.bounds(), steps=20)

    def seen(z):
        return float((net.run(z[None], stop=node + 1).output ** 2).sum())

    assert seen(dreamed) > 1.5 * seen(x)


def _linear_net() -> Network:
    """Convs and an average pool without activations: the gradient reaches exactly the receptive field."""
    return Network(Architecture((23, 23, 1), [
        L("conv", {"filters": 2, "size": 3, "pad": 1}), L("conv", {"filters": 2, "size": 3, "stride": 2}),
        L("avgpool", {"size": 3, "stride": 2, "pad": 1}),
        L("residual", {}, [[L("conv", {"filters": 2, "size": 5, "pad": 2})], []]),
        L("fc", {"units": 3}), L("softmax")]), seed=1)


@pytest.mark.parametrize("make", [_linear_net, lambda: Network(branching_net(), seed=2)], ids=["linear", "branching"])
def test_receptive_field_boxes_hold_the_gradient_reach(make):
    net = make()
    fields = receptive_fields(net.plan)
    size = net.nodes[0].volume
    x = np.random.default_rng(0).normal(size=(1, size.depth, size.height, size.width)).astype(np.float32)
    linear = all(n.op is None or n.op.has_filters or n.is_merge or n.op.window(n.hp, n.in_volumes[0]) for n in net.nodes[:-3])
    for node in net.nodes[1:-2]:
        v = node.volume
        for row, col in ((0, 0), (v.height - 1, v.width - 1), (v.height // 2, v.width // 3)):
            p = net.run(x, stop=node.id + 1, input_grad=True)
            seed = np.zeros_like(p.output)
            seed[0, :, row, col] = 1
            g = net.backward(p, {node.id: seed}, input_grad=True).input[0]
            rows, cols = np.nonzero(np.abs(g).sum(axis=0))
            top, left, bottom, right = fields[node.id].box(row, col, size.height, size.width)
            assert rows.min() >= top and rows.max() < bottom and cols.min() >= left and cols.max() < right, node.key
            if linear:
                assert (rows.min(), cols.min(), rows.max() + 1, cols.max() + 1) == (top, left, bottom, right), node.key


def test_top_images_are_the_strongest_responses(trained, sample):
    subject, _ = trained
    node = conv_nodes(subject.net)[0].id
    images = sample.test_images[:50]
    values, where = features.filter_maxima(subject, images, node, batch=16)
    out = subject.net.run(subject.normalise(images), stop=node + 1).output
    # batches of 16 against one of 50: float32 sums in another order, off by a few units of the last place
    np.testing.assert_allclose(values, out.max(axis=(2, 3)), rtol=1e-5, atol=1e-6 * np.abs(out).max())
    top = features.top_images(subject.net, node, values, where, 3, count=5)
    assert [t.index for t in top] == list(np.argsort(-out[:, 3].max(axis=(1, 2)), kind="stable")[:5])
    r, c = divmod(int(where[top[0].index, 3]), out.shape[3])
    assert top[0].box == (max(r - 2, 0), max(c - 2, 0), min(r + 3, 32), min(c + 3, 32))  # 5x5 pad 2


def test_tsne_keeps_clusters_apart_and_can_be_cancelled():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 10, (3, 20))
    labels = np.repeat(np.arange(3), 40)
    x = centres[labels] + rng.normal(0, 1, (120, 20))
    y = embedding.tsne(x, perplexity=15, iterations=300)
    d = ((y[:, None] - y[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    nearest = np.argsort(d, axis=1)[:, :5]
    assert (labels[nearest] == labels[:, None]).mean() > 0.97
    seen = []
    with pytest.raises(Cancelled):
        embedding.tsne(x, iterations=300, progress=seen.append, cancel=lambda: len(seen) > 3)
    assert len(seen) == 4


def test_affinities_reach_the_perplexity():
    x = np.random.default_rng(1).normal(size=(60, 5))
    p = embedding.affinities(x, 10.0)
    assert p.sum() == pytest.approx(1.0) and np.allclose(p, p.T)


def test_layers_are_found_by_key_label_or_path():
    net = Network(branching_net())
    for name in ("3.branches.1.0", "3.branches[1][0]", "layers[3].branches[1][0]"):
        assert find_node(net, name).key == "3.branches.1.0"
    with pytest.raises(ValueError, match="conv layers are 0, 2.body.0"):
        find_node(net, "9")
    assert embedding_node(net).key == "4"  # the maxpool feeding the fc


def test_upsample_keeps_constants_and_corners():
    assert np.allclose(upsample(np.full((4, 4), 3.0), 32, 32), 3.0)
    m = upsample(np.array([[0.0, 1.0]]), 1, 4)
    assert m[0].tolist() == pytest.approx([0.0, 0.25, 0.75, 1.0])


def test_every_method_explains_through_one_call(trained, sample):
    subject, _ = trained
    test = ImageSet(sample.test_images[:60], sample.test_labels[:60])
    cache = {}
    for name in METHODS:
        e = explain(subject, name, sample.test_images[1], Options(steps=10, layer="3"), test, cache)
        d = e.to_json()
        assert d["predicted"] == int(subject.net.forward(subject.normalise(sample.test_images[1])[None]).argmax())
        assert np.array(d["input"]).shape == (3, 32, 32) and np.isfinite(np.array(d["map"], float)).all(), name
        assert e.heat is not None or e.pictures or e.points is not None or e.curve is not None, name
    assert ("embedding", embedding_node(subject.net).id) in cache
    with pytest.raises(ValueError, match="class 12"):
        explain(subject, "saliency", sample.test_images[1], Options(cls=12))
    with pytest.raises(ValueError, match="test images"):
        explain(subject, "embedding", sample.test_images[1])
