"""Engine speed: training (forward + backward + SGD step) and inference images/s of the ConvNetJS
CIFAR-10 net and a small VGG at batch 64 and 128, and, when torch imports, PyTorch CPU's figures
for the same nets in the same process, interleaved rep by rep, with the ratio ConvViz/PyTorch.
"""
from __future__ import annotations

import os
import statistics
import time

import numpy as np

from ..engine import Network, make_optimizer, threads
from ..export.torch import logits as torch_logits
from ..export.torch import torch_module
from ..model import Architecture, LayerSpec
from ..model.presets import load_preset

BATCHES = (64, 128)
TORCH_THREADS = 2


def _arch(*layers: tuple) -> Architecture:
    return Architecture(layers=[LayerSpec(t, dict(p)) for t, p in layers])


def convnetjs_net() -> Architecture:
    """ConvNetJS's CIFAR-10 demo net."""
    conv = lambda k: ("conv", {"filters": k, "size": 5, "stride": 1, "pad": 2})  # noqa: E731
    pool = ("maxpool", {"size": 2, "stride": 2})
    relu = ("relu", {})
    return _arch(conv(16), relu, pool, conv(20), relu, pool, conv(20), relu, pool, ("fc", {"units": 10}), ("softmax", {}))


def small_vgg() -> Architecture:
    conv = lambda k: ("conv", {"filters": k, "size": 3, "pad": 1})  # noqa: E731
    pool = ("maxpool", {"size": 2, "stride": 2})
    relu = ("relu", {})
    return _arch(conv(32), relu, conv(32), relu, pool, conv(64), relu, conv(64), relu, pool,
                 ("fc", {"units": 256}), relu, ("fc", {"units": 10}), ("softmax", {}))


def resnet20() -> Architecture:
    """He et al. 2016's CIFAR-10 ResNet-20 (the preset: 272,474 parameters)."""
    return load_preset("resnet20")


NETS = {"ConvNetJS": convnetjs_net, "small VGG": small_vgg, "ResNet-20": resnet20}


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _measure(arch, batch: int, reps: int, torch, train_only: bool = False) -> dict:
    """Images/s of each side, best and median over reps that alternate the sides:
    {side: (best, median)}. The best is the least disturbed by other processes on a shared machine."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    net = Network(arch, seed=0)
    opt = make_optimizer("sgd", net.params, lr=0.01, momentum=0.9, weight_decay=5e-4)

    def ours_train():
        _, grads = net.loss_and_gradients(x, y)
        opt.step(grads)

    sides = {"ours train": ours_train, "ours infer": lambda: net.forward(x)}
    if torch is not None:
        model = torch_module(arch)
        model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in net.state().items()})
        topt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        loss_fn = torch.nn.CrossEntropyLoss()
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)

        def torch_train():
            model.train()
            topt.zero_grad()
            loss_fn(torch_logits(model, tx), ty).backward()
            topt.step()

        def torch_infer():
            model.eval()
            with torch.no_grad():
                torch_logits(model, tx)

        sides.update({"torch train": torch_train, "torch infer": torch_infer})
    if train_only:
        sides = {k: fn for k, fn in sides.items() if k.endswith("train")}
    for fn in sides.values():  # warm up
        fn()
    times = {k: [] for k in sides}
    for _ in range(reps):
        for k, fn in sides.items():
            times[k].append(_time(fn))
    return {k: (batch / min(v), batch / statistics.median(v)) for k, v in times.items()}


def _ratio(r: dict, task: str) -> str:
    ours, theirs = r[f"ours {task}"], r.get(f"torch {task}")
    if theirs is None:
        return f" {ours[0]:>7.0f} {'-':>7} {'-':>12}"
    return f" {ours[0]:>7.0f} {theirs[0]:>7.0f} {f'{ours[0] / theirs[0]:.2f} ({ours[1] / theirs[1]:.2f})':>12}"


def run(quick: bool = False) -> None:
    """Print images/s of both nets at each batch size, ours beside PyTorch's, with the ratios."""
    try:
        import torch
        torch.set_num_threads(TORCH_THREADS)
    except ImportError:
        torch = None
    reps = 5 if quick else 15
    print(f"engine: images/s, best of {reps} interleaved reps (ratio of medians in brackets)")
    print(f"  ConvViz: {threads.WORKERS} batch-split worker thread(s), NumPy BLAS threads {threads.blas_threads()}, "
          f"freed memory {'kept for reuse' if threads.KEEPS_FREED_MEMORY else 'returned to the OS (not glibc)'}")
    if torch is not None:
        from threadpoolctl import threadpool_info

        pools = ", ".join(f"{i['prefix']} {i['num_threads']}" for i in threadpool_info())
        print(f"  PyTorch {torch.__version__}: {torch.get_num_threads()} intra-op threads "
              f"(thread pools in this process: {pools}; ConvViz limits only NumPy's BLAS)")
    else:
        print("  PyTorch not importable: ConvViz figures only")
    print(f"  {'net':<10} {'batch':>5} {'train':>7} {'torch':>7} {'ratio':>12}   {'infer':>7} {'torch':>7} {'ratio':>12}")
    two_cores = {}
    for name, make in NETS.items():
        for batch in BATCHES:
            r = _measure(make(), batch, reps, torch)
            two_cores.setdefault(name, r)
            print(f"  {name:<10} {batch:>5}{_ratio(r, 'train')}  {_ratio(r, 'infer')}", flush=True)
    print("  one core each (ConvViz without the batch split, PyTorch with 1 thread), training:")
    if torch is not None:
        torch.set_num_threads(1)
    single = {}
    try:
        with threads.limit_workers(1):
            for name, make in NETS.items():
                single[name] = r = _measure(make(), BATCHES[0], reps, torch, train_only=True)
                print(f"  {name:<10} {BATCHES[0]:>5}{_ratio(r, 'train')}", flush=True)
    finally:
        if torch is not None:
            torch.set_num_threads(TORCH_THREADS)
    if torch is not None and any(single[n]["torch train"][0] > two_cores[n]["torch train"][0] for n in NETS):
        print("  note: PyTorch ran faster on 1 thread than on 2, so other processes are loading the cores and the\n"
              "  2-core ratios above are not meaningful. OpenMP's spinning threads suffer most; rerun on a quiet\n"
              f"  machine, or with OMP_WAIT_POLICY=PASSIVE (now {os.environ.get('OMP_WAIT_POLICY', 'unset')}).")


if __name__ == "__main__":
    run()
