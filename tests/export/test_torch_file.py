"""The standalone PyTorch file: imported from where it was written, Net with load_weights gives the
engine's logits for a sequential and a branching network, its optimisers take the engine's steps, its
train command trains on a CIFAR-10 folder and writes a weights file the engine loads, and its code has
no unused import."""
import ast
import importlib.util
import pickle

import numpy as np
import pytest
from export_nets import NETS, architecture, block_types, images, trained_network

from convviz.cli import main
from convviz.engine import BLOCK_TYPES, OPTIMIZERS, Network, make_optimizer
from convviz.export.torch_code import torch_source, write_torch_file
from convviz.model.io import save_architecture
from convviz.model.presets import load_preset
from convviz.training import TrainConfig, Trainer

SETTINGS = TrainConfig().to_dict()


def load_module(path):
    """Import the generated file the way a user's script would, from its own folder."""
    spec = importlib.util.spec_from_file_location(f"exported_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def exported(arch, tmp_path, name="net", settings=SETTINGS):
    path = tmp_path / f"{name}.py"
    write_torch_file(arch, path, settings)
    return load_module(path)


def test_the_nets_use_every_declared_block_type():
    assert block_types() == set(BLOCK_TYPES)


@pytest.mark.parametrize("name", NETS)
def test_net_with_load_weights_gives_the_engines_logits(name, tmp_path):
    torch = pytest.importorskip("torch")
    net = trained_network(name)
    weights = tmp_path / "w.npz"
    net.save_weights(weights)
    module = exported(net.arch, tmp_path, name)
    model = module.Net()
    assert set(model.state_dict()) - {k for k in model.state_dict() if k.endswith("num_batches_tracked")} == \
        set(net.state())
    module.load_weights(model, weights)
    model.eval()
    x = images(net)
    with torch.no_grad():
        scores = model(torch.from_numpy(x)).numpy()
    ours = net.forward(x)
    assert scores.shape == ours.shape == (len(x), 10)
    np.testing.assert_allclose(scores, ours, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_make_optimizer_takes_the_engines_steps(optimizer, tmp_path):
    """Same gradients in, same parameters out after two steps: hyperparameters, L2 decay on conv and fc
    weights only, momentum and moments."""
    torch = pytest.importorskip("torch")
    net = trained_network("branching")
    module = exported(net.arch, tmp_path)
    model = module.Net()
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in net.state().items()})
    ours = make_optimizer(optimizer, net.params, weight_decay=0.05, **({"momentum": 0.8} if optimizer == "sgd" else {}))
    theirs = module.make_optimizer(model, optimizer, None, 0.8, 0.05)
    x, y = images(net, 4), np.arange(4)
    named = dict(model.named_parameters())
    for _ in range(2):
        _, grads, _ = net.backprop(x, y)
        for key, p in named.items():
            p.grad = torch.from_numpy(grads[key].copy())
        ours.step(grads)
        theirs.step()
    for key, p in named.items():
        np.testing.assert_allclose(p.detach().numpy(), net.params[key], rtol=1e-5, atol=1e-6, err_msg=key)


def write_fake_cifar(folder, per_batch=6):
    """CIFAR-10's python layout with per_batch random images in each batch."""
    rng = np.random.default_rng(4)
    batches = folder / "cifar-10-batches-py"
    batches.mkdir(parents=True)
    for name in [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        with open(batches / name, "wb") as f:
            pickle.dump({"data": data, "labels": rng.integers(0, 10, per_batch).tolist()}, f)
    with open(batches / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class{k}" for k in range(10)]}, f)
    return folder


def test_train_writes_weights_the_engine_loads(tmp_path, capsys):
    pytest.importorskip("torch")
    arch = load_preset("convnetjs")
    start = Network(arch, seed=3)
    start.save_weights(tmp_path / "start.npz")
    module = exported(arch, tmp_path, settings={**SETTINGS, "optimizer": "adam"})
    out = tmp_path / "trained.npz"
    module.main(["train", "--data", str(write_fake_cifar(tmp_path / "data")), "--epochs", "2", "--max-steps", "3",
                 "--batch-size", "4", "--val-split", "6", "--init-weights", str(tmp_path / "start.npz"),
                 "--save-weights", str(out), "--device", "cpu"])
    printed = capsys.readouterr().out
    assert "epoch 1/2" in printed and "3 steps" in printed
    with np.load(out) as arrays:
        assert not any(k.endswith("num_batches_tracked") for k in arrays.files)
    trained = Network(arch)
    trained.load_weights(out)
    assert all(np.isfinite(a).all() for a in trained.params.values())
    assert not np.allclose(trained.params["0.weight"], start.params["0.weight"])


def test_train_refuses_a_network_that_does_not_take_cifar10(tmp_path):
    pytest.importorskip("torch")
    module = exported(architecture("sequential"), tmp_path)  # 16x16 images
    with pytest.raises(SystemExit, match="CIFAR-10 has"):
        module.main(["train", "--data", str(tmp_path)])


@pytest.mark.parametrize("name", NETS)
def test_the_code_compiles_and_imports_nothing_it_does_not_use(name):
    source = torch_source(architecture(name), SETTINGS)
    tree = ast.parse(source)
    imported = {(a.asname or a.name).split(".")[0] for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for a in node.names}
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert imported <= used, imported - used
    compile(source, name, "exec")


def test_the_command_checks_the_weights_and_names_them_in_the_file(tmp_path, capsys):
    net = trained_network("sequential")
    save_architecture(net.arch, tmp_path / "net.json")
    net.save_weights(tmp_path / "w.npz")
    assert main(["export", str(tmp_path / "net.json"), "--weights", str(tmp_path / "w.npz"), "--to", "torch",
                 str(tmp_path / "out.py")]) == 0
    assert 'load_weights(model, "w.npz")' in (tmp_path / "out.py").read_text()
    assert main(["export", "convnetjs", "--weights", str(tmp_path / "w.npz"), str(tmp_path / "other.py")]) == 1
    assert "does not fit this architecture" in capsys.readouterr().err
    assert not (tmp_path / "other.py").exists()


def test_a_checkpoint_gives_its_weights_and_its_runs_settings(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    from convviz.data import Cifar10

    rng = np.random.default_rng(0)
    data = Cifar10(rng.integers(0, 256, (12, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, 12),
                   rng.integers(0, 256, (4, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, 4),
                   [str(k) for k in range(10)], None)
    trainer = Trainer(load_preset("convnetjs"), data, TrainConfig(optimizer="sgd", batch_size=4, val_split=4, epochs=1))
    for _ in trainer.run():
        pass
    trainer.set_hyper(lr=0.003, momentum=0.5)                        # changed while it ran
    trainer.save_checkpoint(tmp_path / "run.npz")
    assert main(["export", "convnetjs", "--weights", str(tmp_path / "run.npz"), str(tmp_path / "run.py")]) == 0
    assert "run-weights.npz" in capsys.readouterr().out
    module = load_module(tmp_path / "run.py")
    assert module.TRAINING["lr"] == 0.003 and module.TRAINING["momentum"] == 0.5 and module.TRAINING["epochs"] == 1
    model = module.Net()
    module.load_weights(model, tmp_path / "run-weights.npz")
    model.eval()
    x = images(trainer.net, 3)
    with torch.no_grad():
        np.testing.assert_allclose(model(torch.from_numpy(x)).numpy(), trainer.net.forward(x), rtol=1e-4, atol=1e-4)


def test_the_export_never_writes_over_the_weights_it_reads(tmp_path, capsys):
    Network(load_preset("convnetjs")).save_weights(tmp_path / "w.npz")
    before = (tmp_path / "w.npz").read_bytes()
    assert main(["export", "convnetjs", "--weights", str(tmp_path / "w.npz"), "--to", "onnx", str(tmp_path / "w.npz")]) == 1
    assert "is the weights file the export reads" in capsys.readouterr().err
    assert (tmp_path / "w.npz").read_bytes() == before
