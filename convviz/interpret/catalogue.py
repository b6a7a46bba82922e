"""The methods the command line and the Explain tab offer, by name: what each shows and what it needs.
Imports nothing heavy, so the command line can list them without loading the computations."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Method:
    """name: the command line's METHOD; title: the Explain tab's; long: worth a progress bar;
    uses: the options it reads; needs_test_set: it runs over the test images; about_image: its picture
    is of the image explained (a class model, the embedding or the curve are not)."""

    name: str
    title: str
    summary: str
    long: bool = False
    uses: tuple[str, ...] = ()
    needs_test_set: bool = False
    about_image: bool = True


METHODS = {m.name: m for m in (
    Method("saliency", "Saliency", "How much each pixel changes the class score: max over colour of |d score / d pixel|.",
           uses=("cls",)),
    Method("smoothgrad", "SmoothGrad", "Saliency of the gradient averaged over 25 noisy copies of the image: less speckle.",
           uses=("cls",)),
    Method("gradcam", "Grad-CAM", "Where a conv layer's filters that matter for the class respond (at the layer's "
           "resolution, stretched over the image).", uses=("cls", "layer")),
    Method("occlusion", "Occlusion", "The class probability while a grey patch hides each part of the image: dark "
           "where hiding hurts.", long=True, uses=("cls", "patch", "stride")),
    Method("top-images", "Top images per filter", "The test images that excite one filter most, with the patch "
           "its receptive field covers outlined.", long=True, uses=("layer", "filter"), needs_test_set=True,
           about_image=False),
    Method("embedding", "Embedding (t-SNE)", "The test images' codes at the layer before the classifier, laid out "
           "in 2-D so similar codes sit together.", long=True, needs_test_set=True, about_image=False),
    Method("class-model", "Class model", "The image that maximises a class score (gradient ascent from the mean "
           "image, with jitter and an L2 or total-variation penalty).", long=True, uses=("cls", "steps", "penalty"),
           about_image=False),
    Method("deepdream", "DeepDream", "The image changed to amplify what a layer sees.", long=True,
           uses=("layer", "steps")),
    Method("fgsm", "FGSM", "The image moved by epsilon per pixel along the sign of the loss gradient: a small "
           "change that can fool the network.", uses=("epsilon",)),
    Method("targeted", "Targeted attack", "Small steps towards a chosen class until the network says it (within "
           "epsilon per pixel).", long=True, uses=("cls", "epsilon")),
    Method("epsilon-curve", "Accuracy vs epsilon", "Test accuracy on FGSM images for epsilon 0, 1, 2, 4, 8, 16 /255.",
           long=True, needs_test_set=True, about_image=False),
)}
