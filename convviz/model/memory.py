"""How much memory training a network takes, estimated from its plan before anything is built, and
how much memory this machine has available.

The peak of a training step in this engine is the larger of two moments:
- the end of backward: parameters and buffers, the trainer's copy of the last good state, the
  optimiser's slots, the batch, every node's forward cache (LayerType.cache_bytes, kept until backward
  ends), a gradient of every parameter per batch chunk (threads.batch_chunks) plus their sum, and the
  largest node's transients (its output and input gradients and their workspace);
- the optimiser's step: the same fixed state, one set of gradients, and the update's temporaries
  (a few copies of the largest parameter).
Evaluation passes are never larger than a training batch (Trainer.evaluate), so they stay below the
step. The process itself (Python, NumPy, ConvViz) and the data set exist before the network is built
and are not part of the estimate; the available memory is measured with them already in it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..engine.machine import available_memory
from ..engine.plan import Plan, compile_plan
from ..engine.threads import batch_chunks
from ..units import size_bytes

ITEMSIZE = 4  # float32
WARN_FRACTION = 0.8  # warn when training would take more than this share of the memory available
UPDATE_TEMPORARIES = {"sgd": 2, "adam": 5, "adadelta": 5}  # copies of the largest parameter an update makes
SLOTS = {"sgd": 1, "adam": 2, "adadelta": 2}  # optimiser arrays per parameter (SGD: none without momentum)


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a training run adds to the process at batch size `batch`, by what holds them."""

    batch: int
    moment: str         # when the peak comes: "the end of backward" or "the optimiser's update"
    parameters: int     # parameters and buffers
    kept_state: int     # the trainer's copy of the last good state
    optimizer: int      # the optimiser's slots (momentum, moments)
    gradients: int      # at the peak: one set per batch chunk and their sum, or the one set of the update
    activations: int    # at the peak: the batch and every node's forward cache (0 at the update)
    workspace: int      # at the peak: the largest node's backward transients, or the update's temporaries

    @property
    def total(self) -> int:
        return (self.parameters + self.kept_state + self.optimizer + self.gradients + self.activations
                + self.workspace)

    def lines(self) -> list[str]:
        """The breakdown at the peak, one 'what: size' line each (none for what holds nothing), then the total."""
        parts = (("parameters and buffers", self.parameters), ("copy of the last good state", self.kept_state),
                 ("optimiser state", self.optimizer), ("gradients", self.gradients),
                 ("activations kept for backward", self.activations), ("workspace", self.workspace))
        return [f"{what}: {size_bytes(n)}" for what, n in parts if n] + \
            [f"total: {size_bytes(self.total)} (the peak comes at {self.moment})"]


def state_shapes(plan: Plan) -> tuple[dict[str, tuple], dict[str, tuple]]:
    """(parameter shapes, buffer shapes) keyed like Network.params and Network.buffers, from the layer
    declarations alone (no arrays)."""
    params, buffers = {}, {}
    for node in plan.nodes:
        if node.op is None or node.is_merge:
            continue
        vol = node.in_volumes[0]
        params.update({f"{node.key}.{k}": tuple(s) for k, s in node.op.param_shapes(node.hp, vol).items()})
        buffers.update({f"{node.key}.{k}": tuple(s) for k, s in node.op.buffer_shapes(node.hp, vol).items()})
    return params, buffers


def estimate(arch_or_plan, batch: int, optimizer: str = "sgd", momentum: float = 0.9) -> MemoryEstimate:
    """The memory training arch (or its compiled plan) adds at batch size `batch` with this optimiser.
    Raises ValueError when the architecture cannot run (compile_plan's message)."""
    plan = arch_or_plan if isinstance(arch_or_plan, Plan) else compile_plan(arch_or_plan)
    params, buffers = state_shapes(plan)
    p = sum(math.prod(s) for s in params.values()) * ITEMSIZE
    b = sum(math.prod(s) for s in buffers.values()) * ITEMSIZE
    largest = max((math.prod(s) for s in params.values()), default=0) * ITEMSIZE
    slots = 0 if optimizer == "sgd" and not momentum else SLOTS.get(optimizer, 2) * p
    fixed = {"parameters": p + b, "kept_state": p + b, "optimizer": slots}

    trained = plan.nodes[1:plan.logits + 1]  # the softmax runs in the loss, not as a node
    caches = sum(n.op.cache_bytes(n.hp, n.in_volumes[0], n.volume, ITEMSIZE)
                 for n in trained if not n.is_merge)
    inputs = plan.nodes[0].volume.size * (ITEMSIZE + 2)  # the normalised batch and its uint8 images
    transients = max((2 * n.volume.size + 2 * sum(v.size for v in n.in_volumes) for n in trained), default=0)
    chunks = len(batch_chunks(batch))
    scratch = max((n.op.workspace_bytes(n.hp, n.in_volumes[0], n.volume, ITEMSIZE, -(-batch // chunks))
                   for n in trained if not n.is_merge), default=0)
    backward = MemoryEstimate(batch, "the end of backward", **fixed, gradients=p * (chunks + (chunks > 1)),
                              activations=batch * (caches + inputs),
                              workspace=batch * transients * ITEMSIZE + chunks * scratch)
    update = MemoryEstimate(batch, "the optimiser's update", **fixed, gradients=p, activations=0,
                            workspace=UPDATE_TEMPORARIES.get(optimizer, 5) * largest)
    return max(backward, update, key=lambda e: e.total)


def largest_batch(plan: Plan, budget: int, up_to: int, optimizer: str = "sgd", momentum: float = 0.9) -> int:
    """The largest batch size from 1 to up_to whose estimate fits budget bytes, or 0 when none does."""
    lo, hi = 0, up_to
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if estimate(plan, mid, optimizer, momentum).total <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def memory_problem(arch, batch: int, optimizer: str = "sgd", momentum: float = 0.9,
                   available: int | None = None, extra: int = 0) -> tuple[str | None, str | None]:
    """(refusal, warning) for training arch at this batch size on this machine: a refusal when the
    estimate (plus extra bytes still to be loaded, such as the data set) exceeds the memory available,
    with the figures and a batch size that fits; a warning when it takes more than WARN_FRACTION of it.
    available: bytes (default: available_memory()); (None, None) when it cannot be known."""
    available = available_memory() if available is None else available
    if available is None:
        return None, None
    plan = compile_plan(arch)
    need = estimate(plan, batch, optimizer, momentum).total + extra
    if need <= WARN_FRACTION * available:
        return None, None
    fits = largest_batch(plan, int(WARN_FRACTION * available) - extra, batch - 1, optimizer, momentum)
    if fits:
        suggestion = (f"a batch size of {fits} needs about "
                      f"{size_bytes(estimate(plan, fits, optimizer, momentum).total + extra)}")
    else:
        params = sum(math.prod(s) for s in state_shapes(plan)[0].values()) * ITEMSIZE
        suggestion = (f"no smaller batch size helps enough: use a smaller network (its parameters alone take "
                      f"{size_bytes(params)}, and training keeps several copies of them)")
    figures = (f"Training at batch size {batch} needs about {size_bytes(need)} of memory and this machine has "
               f"{size_bytes(available)} available")
    if need > available:
        return f"{figures}: {suggestion}.", None
    return None, f"{figures}, so it may slow down or leave other programs short; {suggestion}."
