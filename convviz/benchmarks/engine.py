"""Engine speed: training (forward + backward + SGD step) and inference images/s of the ConvNetJS
CIFAR-10 net, a small VGG and ResNet-20 at batch 64 and 128, and, when torch imports, PyTorch CPU's
figures for the same nets in the same process, interleaved rep by rep, with the ratio ConvViz/PyTorch;
training again with steps back to back, as a run takes them, the sides in turn for a second and a half
each; the same on one thread each in CPU time (what other processes on the machine change least); and the
peak memory of a training step on each side, each measured in a fresh process.

It prints the load average and the BLAS kernel NumPy runs (threadpoolctl): these machines pin
OpenBLAS to AVX2 kernels with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE; users' machines do not, so run it
once as is and once with `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE convviz bench --only engine`.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

import numpy as np

from ..engine import Network, make_optimizer, threads
from ..export.torch import logits as torch_logits
from ..export.torch import torch_module
from ..model import Architecture, LayerSpec
from ..model.presets import load_preset

BATCHES = (64, 128)
TORCH_THREADS = 2
SETTLE_SECONDS = 0.05  # idle before each timed call: PyTorch's OpenMP threads spin for milliseconds after
# each of its calls, and timed straight after one a ConvViz step ran with one of two cores taken
BLOCK_SECONDS = 1.5  # sustained training: each side trains back to back for this long, in turn
ROW_SECONDS = 6.0  # a row's reps go on past the minimum until the sides have run about this long: a fast
# net's 15 reps took under a second, so one slow stretch of a shared machine decided its figures


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


def _measure(arch, batch: int, reps: int, torch, train_only: bool = False, clock=time.perf_counter,
             seconds: float = ROW_SECONDS) -> dict:
    """Images/s of each side, best and median over rounds that alternate the sides, timed by clock:
    {side: (best, median)}. At least reps rounds, more while the sides have run less than `seconds`
    (wall time) in all. The best is the least disturbed by other processes on a shared machine."""
    x, y = _batch(batch)
    ours_train, net = _our_step(arch, x, y)
    sides = {"ours train": ours_train, "ours infer": lambda: net.forward(x)}
    if torch is not None:
        torch_train, torch_infer = _torch_steps(torch, arch, net, x, y)
        sides.update({"torch train": torch_train, "torch infer": torch_infer})
    if train_only:
        sides = {k: fn for k, fn in sides.items() if k.endswith("train")}
    for fn in sides.values():  # warm up
        fn()
    times = {k: [] for k in sides}
    ran = 0.0
    while len(times["ours train"]) < reps or ran < seconds:
        for k, fn in sides.items():
            time.sleep(SETTLE_SECONDS)
            start, wall = clock(), time.perf_counter()
            fn()
            times[k].append(clock() - start)
            ran += time.perf_counter() - wall
    return {k: (batch / min(v), batch / statistics.median(v)) for k, v in times.items()}


def _sustained(arch, batch: int, blocks: int, torch) -> dict:
    """Training images/s with steps back to back, as a run takes them: each side trains for BLOCK_SECONDS
    in turn (the order alternating), after one untimed step that wakes its threads. {side: (best, median)}
    over blocks. The reps of _measure start each step after SETTLE_SECONDS of idle, which costs a side
    whose threads sleep when idle (ConvViz's) the time to wake them on every step."""
    x, y = _batch(batch)
    ours, net = _our_step(arch, x, y)
    sides = {"ours train": ours}
    if torch is not None:
        sides["torch train"] = _torch_steps(torch, arch, net, x, y)[0]
    rates = {k: [] for k in sides}
    for b in range(blocks):
        for k in sorted(sides, reverse=b % 2 == 1):
            time.sleep(SETTLE_SECONDS)
            sides[k]()
            steps, start = 0, time.perf_counter()
            while time.perf_counter() - start < BLOCK_SECONDS:
                sides[k]()
                steps += 1
            rates[k].append(steps * batch / (time.perf_counter() - start))
    return {k: (max(v), statistics.median(v)) for k, v in rates.items()}


def _batch(batch: int) -> tuple[np.ndarray, np.ndarray]:
    """The same random batch for every measurement: images (batch, 3, 32, 32) float32, labels (batch,)."""
    rng = np.random.default_rng(0)
    return rng.standard_normal((batch, 3, 32, 32)).astype(np.float32), rng.integers(0, 10, batch)


def _our_step(arch, x, y):
    """(one ConvViz training step on x, y: forward, backward, SGD with momentum and weight decay; the network)."""
    net = Network(arch, seed=0)
    opt = make_optimizer("sgd", net.params, lr=0.01, momentum=0.9, weight_decay=5e-4)

    def step():
        _, grads = net.loss_and_gradients(x, y)
        opt.step(grads)

    return step, net


def _torch_steps(torch, arch, net, x, y):
    """(a PyTorch training step, a PyTorch inference pass) of the mirrored module, from net's weights."""
    model = torch_module(arch)
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in net.state().items()})
    topt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def train():
        model.train()
        topt.zero_grad()
        loss_fn(torch_logits(model, tx), ty).backward()
        topt.step()

    def infer():
        model.eval()
        with torch.no_grad():
            torch_logits(model, tx)

    return train, infer


def _ratio(r: dict, task: str) -> str:
    ours, theirs = r[f"ours {task}"], r.get(f"torch {task}")
    if theirs is None:
        return f" {ours[0]:>7.0f} {'-':>7} {'-':>12}"
    return f" {ours[0]:>7.0f} {theirs[0]:>7.0f} {f'{ours[0] / theirs[0]:.2f} ({ours[1] / theirs[1]:.2f})':>12}"


def _blas() -> str:
    """NumPy's BLAS as threadpoolctl reports it, with the environment that pins its kernel."""
    from threadpoolctl import threadpool_info

    pools = [i for i in threadpool_info() if i["user_api"] == "blas" and "numpy" in i["filepath"]] or \
        [i for i in threadpool_info() if i["user_api"] == "blas"]
    found = ", ".join(f"{i['internal_api']} {i['version']} kernel {i.get('architecture', '?')}" for i in pools) or "none found"
    pinned = ", ".join(f"{v}={os.environ.get(v, 'unset')}" for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"))
    return f"{found} ({pinned})"


def peak_step_memory(side: str, net_name: str, batch: int, steps: int = 3) -> float:
    """MiB the peak resident size of this process grows by over `steps` training steps of net_name on
    side "ours" or "torch", from its size once the network, optimizer and batch exist. Meant for a
    fresh process (see _memory): the peak is the process's."""
    arch = NETS[net_name]()
    x, y = _batch(batch)
    step, net = _our_step(arch, x, y)
    if side == "torch":
        import torch

        torch.set_num_threads(TORCH_THREADS)
        step, _ = _torch_steps(torch, arch, net, x, y)
    before = _status_mib("VmRSS")
    for _ in range(steps):
        step()
    return _status_mib("VmHWM") - before


def _status_mib(field: str) -> float:
    """A size from /proc/self/status in MiB: VmRSS (resident now), VmHWM (the peak of this program's
    memory; getrusage's peak would carry over from the process that started it)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise OSError(f"no {field} in /proc/self/status")


def _memory(side: str, net_name: str, batch: int) -> str:
    """peak_step_memory in a fresh Python process, as text ("-" where it cannot be measured)."""
    code = f"from convviz.benchmarks.engine import peak_step_memory; print(peak_step_memory({side!r}, {net_name!r}, {batch}))"
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
        return f"{float(done.stdout):.0f}"
    except (OSError, ValueError, subprocess.SubprocessError):
        return "-"


def _load() -> str:
    """The load averages over 1, 5 and 15 minutes."""
    return ", ".join(f"{a:.1f}" for a in os.getloadavg())


def run(quick: bool = False) -> None:
    """Print images/s of the nets at each batch size, ours beside PyTorch's, with the ratios, then one
    thread each in CPU time, then the peak memory of a training step."""
    try:
        import torch
        torch.set_num_threads(TORCH_THREADS)
    except ImportError:
        torch = None
    reps, seconds = (5, 0.0) if quick else (15, ROW_SECONDS)
    print(f"engine: images/s, best of at least {reps} interleaved reps, more until the sides have run "
          f"{seconds:g} s a row (ratio of medians in brackets); load average {_load()} on {os.cpu_count()} cores")
    print(f"  NumPy BLAS: {_blas()}")
    print(f"  ConvViz: {threads.WORKERS} batch-split worker thread(s), NumPy BLAS threads {threads.blas_threads()}, "
          f"freed memory {'kept for reuse' if threads.KEEPS_FREED_MEMORY else 'returned to the OS (not glibc)'}")
    if torch is not None:
        print(f"  PyTorch {torch.__version__}: {torch.get_num_threads()} intra-op threads, mkldnn "
              f"{'on' if torch.backends.mkldnn.is_available() else 'off'}")
    else:
        print("  PyTorch not importable: ConvViz figures only")
    print(f"  {'net':<10} {'batch':>5} {'train':>7} {'torch':>7} {'ratio':>12}   {'infer':>7} {'torch':>7} {'ratio':>12}")
    two_cores = {}
    for name, make in NETS.items():
        for batch in BATCHES:
            r = _measure(make(), batch, reps, torch, seconds=seconds)
            two_cores.setdefault(name, r)
            print(f"  {name:<10} {batch:>5}{_ratio(r, 'train')}  {_ratio(r, 'infer')}", flush=True)
    blocks = 2 if quick else 6
    print(f"  sustained training, steps back to back as a run takes them, each side {BLOCK_SECONDS:g} s in turn, "
          f"{blocks} times (images/s of the best block, ratio of medians in brackets); load {_load()}:")
    for name, make in NETS.items():
        for batch in BATCHES:
            print(f"  {name:<10} {batch:>5}{_ratio(_sustained(make(), batch, blocks, torch), 'train')}", flush=True)
    print(f"  one thread each (ConvViz without the batch split, PyTorch with 1 thread), images per CPU second; load "
          f"{_load()}:")
    if torch is not None:
        torch.set_num_threads(1)
    single = {}
    try:
        with threads.limit_workers(1):
            for name, make in NETS.items():
                single[name] = r = _measure(make(), BATCHES[0], reps, torch, clock=time.thread_time, seconds=seconds)
                print(f"  {name:<10} {BATCHES[0]:>5}{_ratio(r, 'train')}  {_ratio(r, 'infer')}", flush=True)
    finally:
        if torch is not None:
            torch.set_num_threads(TORCH_THREADS)
    print(f"  peak memory of a training step, MiB over the process before it ({TORCH_THREADS} threads each, fresh "
          f"processes; load {_load()}):")
    for name in NETS:
        cells = []
        for batch in BATCHES[:1] if quick else BATCHES:
            ours = _memory("ours", name, batch)
            theirs = _memory("torch", name, batch) if torch is not None else "-"
            cells.append(f"batch {batch}: {ours:>4} vs PyTorch {theirs:>4}")
        print(f"  {name:<10} " + "   ".join(cells), flush=True)
    if torch is not None and any(n in single and single[n]["torch train"][0] > two_cores[n]["torch train"][0] for n in NETS):
        print("  note: PyTorch ran faster on 1 thread than on 2, so other processes are loading the cores and the\n"
              "  2-thread ratios above are not meaningful (OpenMP's spinning threads suffer most: rerun on a quiet\n"
              f"  machine, or with OMP_WAIT_POLICY=PASSIVE, now {os.environ.get('OMP_WAIT_POLICY', 'unset')}); the "
              "one-thread CPU-time ratios hold.")


if __name__ == "__main__":
    run()
