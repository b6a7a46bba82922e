"""model.fit: the one check that a network fits a data set (input volume, classes), with the fix."""
import pytest

from convviz.data import cifar, load_cifar10
from convviz.engine import Volume
from convviz.model.fit import fit_problem, presets_fitting
from convviz.model.presets import load_preset
from convviz.model.spec import Architecture, LayerSpec

CIFAR = (cifar.VOLUME, cifar.CLASSES, cifar.NAME)


def small_net(input=Volume(32, 32, 3), classes=10) -> Architecture:
    return Architecture(input, [LayerSpec("fc", {"units": classes}), LayerSpec("softmax")], classes)


@pytest.mark.parametrize("name, says", [
    ("vgg16", "it takes 224x224x3 images but CIFAR-10's are 32x32x3, and it ends with 1000 classes but CIFAR-10 has 10"),
    ("alexnet", "it takes 227x227x3 images"),
    ("zfnet", "it takes 227x227x3 images"),
    ("lenet5", "it takes 32x32x1 images but CIFAR-10's are 32x32x3."),
])
def test_case_studies_do_not_fit_cifar10_and_say_why_in_one_line(name, says):
    problem = fit_problem(load_preset(name), *CIFAR, name)
    assert problem.startswith(f"{name} does not fit CIFAR-10: ") and says in problem
    assert "set its input to 32x32x3" in problem and "\n" not in problem
    assert problem.endswith("Or train a preset made for CIFAR-10: seed, convnetjs, vgg-cifar, alexnet-cifar.")


def test_a_16x16_input_and_a_2_class_net_say_what_to_change():
    assert "it takes 16x16x3 images" in fit_problem(small_net(Volume(16, 16, 3)), *CIFAR)
    problem = fit_problem(small_net(classes=2), *CIFAR)
    assert "it ends with 2 classes but CIFAR-10 has 10" in problem
    assert "give its last fc layer 10 units (classes 10)" in problem and "input" not in problem


def test_fitting_networks_pass():
    assert fit_problem(small_net(), *CIFAR) is None
    for name in presets_fitting(cifar.VOLUME, cifar.CLASSES):
        assert fit_problem(load_preset(name), *CIFAR) is None
    assert fit_problem(small_net(Volume(28, 28, 1)), Volume(28, 28, 1), 10, "MNIST") is None


def test_the_loaded_data_describes_itself(sample_dir):
    sample_data = load_cifar10(sample_dir)
    assert (sample_data.volume, sample_data.classes, sample_data.name) == CIFAR
