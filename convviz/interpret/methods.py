"""Every method behind one call, for the command line and the Explain tab alike:
explain(subject, method, image, options, test set) -> Explanation.

An Explanation carries the numbers the JSON output gives ("predicted", "class", "input": the
normalised image the network saw, "map": the method's raw result) and what a picture of it needs:
a heat map over the image with what its colour scale measures, pictures with captions (and the
receptive-field boxes of top images), the embedding's points, or the accuracy curve.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import adversarial, embedding, features, gradients, occlusion, synthesis
from .catalogue import METHODS
from .subject import Cancel, Progress, Subject, conv_nodes, embedding_node, find_node


@dataclass
class Options:
    """cls: the class explained (None: the predicted one; for "targeted" the target, None: the runner-up);
    layer: a conv layer's key, label or path (None: the last conv layer); filter: a filter of that layer;
    patch, stride: occlusion's patch side and step (pixels); epsilon: pixel units (/255);
    steps: ascent steps (None: the method's default); penalty: "l2" or "tv" for class models."""

    cls: int | None = None
    layer: str | None = None
    filter: int = 0
    patch: int = 8
    stride: int = 2
    epsilon: float = 8.0
    steps: int | None = None
    penalty: str = "l2"


@dataclass
class Picture:
    """An image to show (uint8 (D, H, W)), its caption, and boxes (top, left, bottom, right) to outline."""

    title: str
    image: np.ndarray
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)
    index: int | None = None  # the test image it is, if any


@dataclass
class Explanation:
    """See the module docstring. heat: (H, W) over the image, heat_label what it measures, heat_range
    its colour scale's (low, high); points: the embedding (N, 2) with labels (N,);
    curve: (epsilons, accuracies); extra: more JSON fields."""

    method: str
    predicted: int
    cls: int
    input: np.ndarray
    map: np.ndarray
    caption: str
    heat: np.ndarray | None = None
    heat_label: str = ""
    heat_range: tuple[float, float] | None = None
    pictures: list[Picture] = field(default_factory=list)
    points: np.ndarray | None = None
    labels: np.ndarray | None = None
    curve: tuple[np.ndarray, np.ndarray] | None = None
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """The JSON object of `convviz explain --json` (nested lists)."""
        return {"method": self.method, "predicted": self.predicted, "class": self.cls,
                "input": self.input.tolist(), "map": np.asarray(self.map).tolist(), **self.extra}


@dataclass
class ImageSet:
    """uint8 images (N, D, H, W) and labels (N,) the data-set methods run over."""

    images: np.ndarray
    labels: np.ndarray


def layer_node(subject: Subject, layer: str | None):
    """The conv layer a user named (None: the last one). ValueError naming the conv layers."""
    convs = conv_nodes(subject.net)
    if layer is None:
        if not convs:
            raise ValueError("this network has no conv layer to look at")
        return convs[-1]
    node = find_node(subject.net, layer)
    if node.volume.width * node.volume.height < 2 and node.op is not None and not node.op.has_filters:
        raise ValueError(f"layer {layer} gives a {node.volume} volume: pick a layer with width and height, "
                         f"e.g. a conv layer ({', '.join(n.key for n in convs) or 'none'})")
    return node


def explain(subject: Subject, method: str, image: np.ndarray, options: Options | None = None,
            test: ImageSet | None = None, cache: dict | None = None, progress: Progress = None,
            cancel: Cancel = None) -> Explanation:
    """Run method on image (uint8 (D, H, W)) -> Explanation. cache: a dict the caller keeps for one
    subject and test set, so the data-set passes are done once (top images per layer, the embedding).
    Raises ValueError for options that do not fit, Cancelled when cancel() says so."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
    if METHODS[method].needs_test_set and test is None:
        raise ValueError(f"{method} runs over the test images: load a data set first")
    o = options or Options()
    net, names = subject.net, subject.label_names
    classes = net.classes
    if o.cls is not None and not 0 <= o.cls < classes:
        raise ValueError(f"class {o.cls} is not one of this network's classes (0 to {classes - 1})")
    x = subject.normalise(image)
    probs = net.predict_proba(x[None])[0]
    predicted = int(probs.argmax())
    cls = predicted if o.cls is None else o.cls
    cache = {} if cache is None else cache
    _, h, w = x.shape
    said = f"The network says {names[predicted]} ({probs[predicted]:.0%})"

    def result(m, caption, **kw) -> Explanation:
        return Explanation(method, predicted, cls, x, m, caption, **kw)

    if method in ("saliency", "smoothgrad"):
        m = (gradients.saliency if method == "saliency" else gradients.smoothgrad)(net, x, cls)
        return result(m, f"{said}. {METHODS[method].title} of the {names[cls]} score.", heat=m,
                      heat_label=f"|d score({names[cls]}) / d pixel|", heat_range=(0.0, float(m.max()) or 1.0))
    if method == "gradcam":
        node = layer_node(subject, o.layer)
        m = gradients.grad_cam(net, x, cls, node.id)
        heat = gradients.upsample(m, h, w)
        return result(m, f"{said}. Grad-CAM of {names[cls]} at layer {node.label} ({node.volume.width}x"
                         f"{node.volume.height}, stretched over the image).", heat=heat,
                      heat_label=f"Grad-CAM {names[cls]}", heat_range=(0.0, float(m.max()) or 1.0),
                      extra={"layer": node.key})
    if method == "occlusion":
        fill = subject.normalise(np.full((x.shape[0], 1, 1), occlusion.GREY, np.uint8))[:, 0, 0]
        m = occlusion.occlusion(net, x, cls, fill, o.patch, o.stride, progress=progress, cancel=cancel)
        heat = occlusion.per_pixel(m, h, w, o.patch, o.stride)
        return result(m, f"{said}. P({names[cls]}) with a grey {o.patch}x{o.patch} patch at each place (stride "
                         f"{o.stride}); {probs[cls]:.0%} unhidden: dark where hiding it hurts.", heat=heat,
                      heat_label=f"P({names[cls]})", heat_range=(float(m.min()), max(float(m.max()), float(m.min()) + 1e-3)),
                      extra={"rows": occlusion.patch_starts(h, o.patch, o.stride).tolist(),
                             "cols": occlusion.patch_starts(w, o.patch, o.stride).tolist()})
    if method == "top-images":
        node = layer_node(subject, o.layer)
        if not 0 <= o.filter < node.volume.depth:
            raise ValueError(f"layer {node.label} has filters 0 to {node.volume.depth - 1}, not {o.filter}")
        key = ("maxima", node.id)
        if key not in cache:
            cache[key] = features.filter_maxima(subject, test.images, node.id, progress=progress, cancel=cancel)
        values, where = cache[key]
        top = features.top_images(net, node.id, values, where, o.filter)
        response = net.run(x[None], stop=node.id + 1).output[0, o.filter]
        pictures = [Picture(f"#{t.index} {names[test.labels[t.index]]} · {t.value:.2f}", test.images[t.index],
                            [t.box], t.index) for t in top]
        return result(response, f"Layer {node.label}, filter {o.filter}: the {len(top)} test images it responds to "
                                f"most; the box is the part of the image the strongest response sees.",
                      pictures=pictures, extra={"layer": node.key, "filter": o.filter,
                                                "top": [{"index": t.index, "value": t.value, "box": list(t.box)}
                                                        for t in top]})
    if method == "embedding":
        node = embedding_node(net)
        key = ("embedding", node.id)
        if key not in cache:
            parts = lambda lo, hi: (None if progress is None else lambda f: progress(lo + (hi - lo) * f))  # noqa: E731
            c = embedding.codes(subject, test.images, node.id, progress=parts(0.0, 0.1), cancel=cancel)
            cache[key] = embedding.tsne(c, progress=parts(0.1, 1.0), cancel=cancel)
        points = cache[key]
        return result(points, f"t-SNE of the {len(points)} test images' codes at layer {node.label} "
                              f"({node.volume.size} numbers each), coloured by true class.",
                      points=points, labels=np.asarray(test.labels), extra={"layer": node.key})
    if method == "class-model":
        made = synthesis.class_model(net, cls, subject.bounds(), steps=o.steps or 200, penalty=o.penalty,
                                     progress=progress, cancel=cancel)
        before, after = (float(net.forward(z[None])[0, cls]) for z in (np.zeros_like(made), made))
        return result(made, f"Class model of {names[cls]}: its score rose from {before:.2f} (mean image) to "
                            f"{after:.2f}.", pictures=[Picture(f"{names[cls]} (score {after:.1f})", subject.pixels(made))],
                      extra={"score_before": before, "score_after": after})
    if method == "deepdream":
        node = layer_node(subject, o.layer)
        dreamed = synthesis.deep_dream(net, x, node.id, subject.bounds(), steps=o.steps or 40,
                                       progress=progress, cancel=cancel)
        now = net.predict_proba(dreamed[None])[0]
        return result(dreamed, f"{said}. DeepDream at layer {node.label}; the dreamed image is "
                               f"{names[int(now.argmax())]} ({now.max():.0%}).",
                      pictures=[Picture("image", image), Picture(f"dreamed at {node.label}", subject.pixels(dreamed))],
                      extra={"layer": node.key})
    if method == "fgsm":
        label = predicted if o.cls is None else o.cls
        adv = adversarial.fgsm(subject, x[None], [label], o.epsilon)[0]
        return _attack_result(subject, image, x, adv, result, said,
                              f"FGSM at epsilon {o.epsilon:g}/255 (away from {names[label]})", {"epsilon": o.epsilon})
    if method == "targeted":
        target = int(np.argsort(probs)[-2]) if o.cls is None else o.cls
        cls = target
        attack = adversarial.targeted_attack(subject, x, target, o.epsilon, progress=progress, cancel=cancel)
        how = (f"reached {names[target]} in {attack.steps} steps" if attack.fooled else
               f"did not reach {names[target]} within epsilon {o.epsilon:g}/255 ({attack.steps} steps)")
        return _attack_result(subject, image, x, attack.image, result, said,
                              f"Targeted attack towards {names[target]}: {how}",
                              {"epsilon": o.epsilon, "target": target, "steps": attack.steps, "fooled": attack.fooled})
    accuracy = adversarial.accuracy_vs_epsilon(subject, test.images, test.labels, progress=progress, cancel=cancel)
    eps = np.array(adversarial.EPSILONS, float)
    return result(accuracy, f"Test accuracy on FGSM images of {len(test.labels)} test images: "
                            + ", ".join(f"{e:g}/255 {a:.0%}" for e, a in zip(eps, accuracy)) + ".",
                  curve=(eps, accuracy), extra={"epsilons": eps.tolist()})


def _attack_result(subject: Subject, image, x, adv, result, said: str, what: str, extra: dict) -> Explanation:
    """The attacked image, its prediction and the perturbation magnified to the full range."""
    names = subject.label_names
    now = subject.net.predict_proba(adv[None])[0]
    fooled_to = int(now.argmax())
    adv_pixels = subject.pixels(adv)
    delta = adv_pixels.astype(np.int16) - image.astype(np.int16)
    peak = max(int(np.abs(delta).max()), 1)
    magnified = np.clip(128 + delta * (127 / peak), 0, 255).astype(np.uint8)
    return result(adv - x, f"{said}. {what}: it now says {names[fooled_to]} ({now[fooled_to]:.0%}).",
                  pictures=[Picture("image", image), Picture(f"attacked: {names[fooled_to]} {now[fooled_to]:.0%}", adv_pixels),
                            Picture(f"change x{127 / peak:.0f} (largest {peak}/255)", magnified)],
                  extra={**extra, "attacked_predicted": fooled_to})
