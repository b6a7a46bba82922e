"""A network built from an architecture tree: parameters, the executor of its plan, loss and gradients,
weights files.

The architecture is anything with `.input` (width, height, depth) and `.layers` (a tree of blocks,
see tree.py), normally `convviz.model.Architecture`; the engine does not import it. It is compiled
into a plan (plan.py). Parameters are keyed like the weights file and the mirrored PyTorch module's
state_dict: "{key}.weight", "{key}.bias" with key the block's dotted path ("3", "3.body.1"), in PyTorch
layouts (conv [out, in, kh, kw], fc [out, in]); batchnorm buffers "{key}.running_mean", "{key}.running_var".

Each batch is split into one chunk per core, or a multiple of that so no chunk's largest activation
passes threads.CHUNK_BYTES (threads.py), converted to the engine's layout (D, H, W, n) (layers.py),
and the chunks run through runs of plan nodes in parallel, one thread per core. A node
that couples the images of a batch (batchnorm while training) ends a run: each chunk gives its
partial statistics, merged once, and the next run starts with that node on the whole batch's.
Backward runs the plan in reverse the same way; where a value feeds several nodes (a residual's
input), their gradients add up. Inputs, outputs and gradients outside the engine are (N, D, H, W).
Where the value between two nodes is read by nothing else and not asked for, they run as one
(_fusions): a ReLU in place on the output of the conv, batchnorm, fc or residual sum before it, and in
an evaluation no backward follows (forward, run(record=False)) batchnorm folded into the conv or fc
before it and a residual's sum written into its body's output.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .files import atomic_write, read_npz
from .layers import Context, softmax, softmax_cross_entropy, to_engine, to_nchw
from .plan import Node, Plan, compile_plan
from .threads import batch_chunks, chunk_groups, chunk_images, run_chunks


class WeightsError(ValueError):
    """A weights file that does not fit the network, or cannot be read."""


@dataclass(frozen=True)
class Fusions:
    """How a pass runs nodes as one. chains: head -> the nodes fused after it (affine nodes folded into
    its parameters, then an element-wise node run in place on its output); moved: max pool -> the ReLU
    before it, run on the pool's output instead (relu(max) = max(relu)); members: the nodes that do not
    run on their own (chain members and moved ReLUs); reuse: merges that write their result into their
    first lane's output (a residual sum at evaluation, see _fusions)."""

    chains: dict[int, tuple[int, ...]]
    moved: dict[int, int]
    members: frozenset
    reuse: frozenset


class Interrupted(Exception):
    """A pass stopped between two nodes because Network.interrupt() said so; nothing was updated
    but what the nodes already run changed (batchnorm running statistics)."""


@dataclass
class Pass:
    """What a forward run keeps for backward: the batch chunks, every node's cache (one per chunk), the
    output of node stop-1 and the outputs asked to be kept (node id -> whole batch), (N, D, H, W)."""

    chunks: list[slice]
    caches: list
    output: np.ndarray
    outputs: dict[int, np.ndarray]
    stop: int
    train: bool
    input_grad: bool
    moved: dict[int, int] = field(default_factory=dict)  # max pool -> the ReLU run after it (see _fusions)


@dataclass
class Gradients:
    """params: d loss / d every parameter that influenced the seeds, keyed like Network.params;
    input: d loss / d the input batch (if asked); outputs: d loss / d output of the nodes asked to be kept."""

    params: dict[str, np.ndarray]
    input: np.ndarray | None = None
    outputs: dict[int, np.ndarray] = field(default_factory=dict)


class Network:
    """Parameters and passes for one architecture. Inputs are float32 (N, depth, height, width).
    An architecture that cannot run (what model.infer reports, bar the number of classes) raises
    ValueError naming the first problem and its block. score_map=True lets the last volume be WxHxC
    (class scores per position, for a convolutional net run over a larger image; evaluation only).

    interrupt: None, or a function any pass calls between nodes (in every batch chunk's thread); when
    it returns True the pass raises Interrupted, so a long step can be stopped within a layer's time."""

    def __init__(self, arch, seed: int = 0, dtype=np.float32, score_map: bool = False):
        self.arch = arch
        self.dtype = np.dtype(dtype)
        self.score_map = score_map
        self.plan: Plan = compile_plan(arch, score_map)
        self.classes = self.plan.classes
        init_rng = np.random.default_rng(seed)
        self.params: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}
        self._node_params: list[dict[str, np.ndarray]] = []
        self._node_buffers: list[dict[str, np.ndarray]] = []
        for node in self.plan.nodes:
            params, buffers = {}, {}
            if node.op is not None and not node.is_merge:
                params = node.op.init_params(node.hp, node.in_volumes[0], init_rng, self.dtype)
                buffers = node.op.initial_buffers(node.hp, node.in_volumes[0], self.dtype)
            self._node_params.append(params)
            self._node_buffers.append(buffers)
            self.params.update({f"{node.key}.{k}": a for k, a in params.items()})
            self.buffers.update({f"{node.key}.{k}": a for k, a in buffers.items()})
        self.rng = np.random.default_rng(seed + 1)  # dropout masks
        self.interrupt = None
        self._fusion_plans: dict[tuple, dict[int, tuple[int, ...]]] = {}
        self._chunk_most = chunk_images(max(n.volume.size for n in self.plan.nodes) * self.dtype.itemsize)
        self._readers: list[list[int]] = [[] for _ in self.plan.nodes]
        for node in self.plan.nodes:
            for i in node.inputs:
                self._readers[i].append(node.id)

    @property
    def nodes(self) -> list[Node]:
        return self.plan.nodes

    @property
    def parameter_count(self) -> int:
        return sum(a.size for a in self.params.values())

    def _check_input(self, x: np.ndarray, train: bool) -> np.ndarray:
        """x as (N, D, H, W) of self.dtype. An empty batch only for an evaluation pass: a loss of no
        images is undefined, and batchnorm's statistics would become NaN. Non-finite numbers are refused
        for training before they reach any running statistic."""
        v = self.plan.nodes[0].volume
        want = (v.depth, v.height, v.width)
        if x.ndim != 4 or tuple(x.shape[1:]) != want:
            raise ValueError(f"input must be (N, {want[0]}, {want[1]}, {want[2]}) NCHW, got {tuple(x.shape)}")
        if not len(x) and train:
            raise ValueError("training and the loss need at least one image, got an empty batch")
        x = np.asarray(x, dtype=self.dtype)
        if train and not np.isfinite(x).all():
            raise ValueError("the input images hold NaN or infinite numbers; training refuses them")
        return x

    def _coupled(self, i: int, train: bool) -> bool:
        """Whether node i mixes the images of a batch (batchnorm while training): it sees the whole batch."""
        return train and self.plan.nodes[i].op.couples_batch

    def _spans(self, order, train: bool) -> list[tuple[list[int], int | None]]:
        """The node ids of order cut before each coupled node: [(nodes every chunk runs through in parallel,
        the coupled node whose partial statistics end the span (merged before it runs), or None)]."""
        spans, span = [], []
        for i in order:
            if self._coupled(i, train):
                spans.append((span, i))
                span = []
            span.append(i)
        return spans + [(span, None)]

    def _contexts(self, train: bool, count: int, backward: bool = True) -> list[Context]:
        """One context per batch chunk; several chunks draw dropout masks from generators seeded by self.rng.
        backward: whether a backward pass may follow."""
        if count == 1 or not train:
            return [Context(train=train, rng=self.rng, backward=backward)] * count
        return [Context(train=train, rng=np.random.default_rng(seed), backward=backward)
                for seed in self.rng.integers(2**63, size=count)]

    def _fusions(self, stop: int, keep: frozenset, fold: bool) -> Fusions:
        """Nodes run as one (see Fusions). With fold (an evaluation no backward follows), per-depth affine
        nodes (batchnorm) fold into the head's parameters (a conv or fc: see _folded); an element-wise node
        (ReLU) runs in place on the output of the node before it (a conv's band by band; the head
        takes_epilogue), or, when it commutes_with_max and a max pool reads it, on that pool's output
        (a quarter of the numbers). Each link needs the value between the two read by nothing else and
        not asked for (keep, the pass's output). With fold, a merge that merges_in_place writes into its
        first lane's output when that value is read by nothing else, not asked for, and made by a node that
        takes_epilogue (a new array of its own; no cache holds it without a backward). Worked out once per
        (stop, keep, fold)."""
        key = (stop, keep, fold)
        if key in self._fusion_plans:
            return self._fusion_plans[key]
        nodes, chains, moved = self.plan.nodes, {}, {}

        def sole_reader(i: int, merge: bool = False) -> Node | None:
            """The one node that reads value i, when nothing else does and i is not asked for; a merge
            only with merge=True."""
            readers = self._readers[i]
            ok = len(readers) == 1 and readers[0] < stop and i not in keep and i != stop - 1
            return nodes[readers[0]] if ok and (merge or not nodes[readers[0]].is_merge) else None

        for node in nodes[1:stop]:
            pool = sole_reader(node.id) if not node.is_merge and node.op.commutes_with_max else None
            if pool is not None and pool.op.pools_max and pool.op.takes_epilogue:
                moved[pool.id] = node.id
        members = set(moved.values())
        for head in nodes[1:stop]:
            if head.id in members or head.id in moved or not head.op.takes_epilogue:
                continue
            chain, nxt = [], sole_reader(head.id)
            while fold and head.op.absorbs_affine and nxt is not None and nxt.op.affine_at_evaluation:
                chain.append(nxt.id)
                nxt = sole_reader(nxt.id)
            if nxt is not None and nxt.op.epilogue is not None and nxt.id not in members:
                chain.append(nxt.id)
            if chain:
                chains[head.id] = tuple(chain)
                members.update(chain)

        def writable_first_lane(merge: Node) -> bool:
            """Whether merge's first lane's value is read by nothing else and made by a node that takes_epilogue."""
            first = nodes[merge.inputs[0]]
            return sole_reader(first.id, merge=True) is merge and first.op is not None and first.op.takes_epilogue

        reuse = frozenset(node.id for node in nodes[1:stop]
                          if fold and node.is_merge and node.op.merges_in_place and writable_first_lane(node))
        self._fusion_plans[key] = plan = Fusions(chains, moved, frozenset(members), reuse)
        return plan

    def _folded(self, chains: dict[int, tuple[int, ...]]) -> dict[int, dict]:
        """{head: its parameters with the affine nodes of its chain folded in}, for the chains that fold."""
        folded = {}
        for head, chain in chains.items():
            params, op = self._node_params[head], self.plan.nodes[head].op
            for j in chain:
                node = self.plan.nodes[j]
                if node.op.affine_at_evaluation:
                    params = op.absorb(self.plan.nodes[head].hp, params,
                                       *node.op.affine(node.hp, self._node_params[j], self._node_buffers[j]))
            if params is not self._node_params[head]:
                folded[head] = params
        return folded

    def _forward_node(self, node: Node, values: dict, ctx: Context, input_grad: bool, stats=None, params=None,
                      epilogue=None, source: int | None = None, reuse: bool = False):
        """Run one node on the values of its inputs -> (output, cache); stats: the whole batch's for a
        coupled node; params: in place of its own (folded); epilogue: see Context; source: the node whose
        value to read in place of its input's (a max pool reading what the ReLU moved after it read);
        reuse: a merge may write into its first input's value (Fusions.reuse)."""
        if node.is_merge:
            return node.op.merge_forward([values[i] for i in node.inputs], epilogue, reuse)
        source = node.inputs[0] if source is None else source
        ctx = Context(ctx.train, ctx.rng, input_grad=input_grad or source != 0, backward=ctx.backward,
                      epilogue=epilogue)
        params = self._node_params[node.id] if params is None else params
        buffers, x = self._node_buffers[node.id], values[source]
        if stats is None:
            return node.op.forward(node.hp, params, buffers, x, ctx)
        return node.op.forward(node.hp, params, buffers, x, ctx, stats)

    def run(self, x: np.ndarray, train: bool = False, stop: int | None = None, keep=(),
            input_grad: bool = False, record: bool = True) -> Pass:
        """Run nodes [1, stop) (default: up to the logits) on x (N, D, H, W). keep: node ids whose
        outputs to keep (whole batch), or "all". input_grad: backward will want d loss / d x.
        record=False keeps no caches (a forward no backward follows: less memory, and in evaluation
        batchnorm folds into the conv or fc before it, see _fusions)."""
        x = self._check_input(x, train)
        stop = self.plan.logits + 1 if stop is None else stop
        nodes, last_use = self.plan.nodes, self.plan.last_use
        keep = set(range(1, stop)) if keep == "all" else set(keep)
        fold = not record and not train
        fusions = self._fusions(stop, frozenset(keep), fold)
        chains, moved = fusions.chains, fusions.moved
        folded = self._folded(chains) if fold else {}
        chunks = batch_chunks(len(x), self._chunk_most)
        values = [{0: to_engine(x[sl])} for sl in chunks]
        ctxs = self._contexts(train, len(chunks), record)
        caches: list = [None] * stop
        stats: dict[int, tuple] = {}

        def forget(vals: dict, i: int) -> None:
            """Drop the inputs node i was the last to read (unless kept)."""
            for j in nodes[i].inputs:
                if last_use[j] == i and j not in keep and j != stop - 1:
                    vals.pop(j, None)

        def run_node(k: int, i: int, span_caches: dict) -> None:
            """Node i (with the nodes fused with it) on chunk k."""
            vals, chain = values[k], chains.get(i, ())
            last = nodes[moved[i]] if i in moved else nodes[chain[-1]] if chain else None
            epilogue, held = None, {}
            if last is not None and last.op.epilogue is not None:

                def epilogue(out):
                    band, held["cache"] = last.op.epilogue(last.hp, out, ctxs[k].backward)
                    return band

            source = nodes[moved[i]].inputs[0] if i in moved else None
            out, span_caches[i] = self._forward_node(nodes[i], vals, ctxs[k], input_grad, stats.get(i),
                                                     folded.get(i), epilogue, source, i in fusions.reuse)
            for j in chain:
                span_caches[j] = held.get("cache") if j == chain[-1] else None
            if i in moved:
                span_caches[moved[i]] = held.get("cache")
            vals[chain[-1] if chain else i] = out
            for j in ((moved[i],) if i in moved else ()) + (i, *chain):
                forget(vals, j)

        def run_span(k: int, span: list[int], tail: int | None) -> tuple[dict, object]:
            """Chunk k through the span's nodes -> ({node: cache}, the partial statistics of coupled node tail)."""
            span_caches: dict = {}
            for i in span:
                if i not in fusions.members:
                    self._check_interrupt()
                    run_node(k, i, span_caches)
            if tail is None:
                return span_caches, None
            return span_caches, nodes[tail].op.forward_partial(nodes[tail].hp, values[k][nodes[tail].inputs[0]])

        for span, tail in self._spans(range(1, stop), train):
            results = run_chunks(lambda k: run_span(k, span, tail), range(len(chunks)))
            for i in results[0][0]:
                caches[i] = [r[0][i] for r in results] if record else None
            if tail is not None:
                self._check_interrupt()
                node = nodes[tail]
                stats[tail] = node.op.forward_merge(node.hp, self._node_buffers[tail], [r[1] for r in results])
        outputs = {i: to_nchw([v[i] for v in values]) for i in keep}
        return Pass(chunks, caches, to_nchw([v[stop - 1] for v in values]), outputs, stop, train, input_grad, moved)

    def backward(self, p: Pass, seeds: dict[int, np.ndarray], input_grad: bool = False, keep=()) -> Gradients:
        """Backpropagate from seeds (node id -> d loss / d that node's output, whole batch (N, D, H, W))
        through the nodes run by p. keep: node ids whose output gradients to return, or "all"; input_grad:
        also d loss / d the input (p must have been run with input_grad=True)."""
        if input_grad and not p.input_grad:
            raise ValueError("the forward pass was run without input_grad=True, so the input gradient was skipped")
        if not seeds or max(seeds) >= p.stop:
            raise ValueError(f"seeds must name nodes the pass ran (1 to {p.stop - 1}), got {sorted(seeds)}")
        nodes, chunks, moved = self.plan.nodes, p.chunks, p.moved
        start = max(seeds) + 1
        keep = set(range(1, start)) if keep == "all" else set(keep)
        douts = [{i: to_engine(np.asarray(d, self.dtype)[sl]) for i, d in seeds.items()} for sl in chunks]
        groups = chunk_groups(len(chunks))  # chunks a thread runs in turn share their gradient sums
        chunk_grads: list[dict[str, np.ndarray]] = [{} for _ in range(groups)]
        whole_grads: dict[str, np.ndarray] = {}
        kept: list[dict[int, np.ndarray]] = [{} for _ in chunks]
        sums: dict[int, tuple] = {}

        def backward_node(node: Node, dout: np.ndarray, k: int, dvals: dict, grads: dict) -> None:
            cache = p.caches[node.id][k]
            if node.id in moved:  # the ReLU that ran on this max pool's output, first
                relu = nodes[moved[node.id]]
                dout = relu.op.backward(relu.hp, {}, dout, p.caches[relu.id][k])[0]
            elif node.id in moved.values():  # ... and so passes its gradient through
                _accumulate(dvals, node.inputs[0], dout)
                return
            if node.is_merge:
                for j, dx in zip(node.inputs, node.op.merge_backward(dout, cache)):
                    _accumulate(dvals, j, dx)
                return
            params = self._node_params[node.id]
            if node.id in sums:
                dx, g = node.op.backward(node.hp, params, dout, cache, sums[node.id])
            else:
                dx, g = node.op.backward(node.hp, params, dout, cache)
            for name, a in g.items():
                _accumulate(grads, f"{node.key}.{name}", a)
            if dx is not None:
                _accumulate(dvals, node.inputs[0], dx)

        def back_span(k: int, span: list[int], tail: int | None):
            """Chunk k back through the span's nodes -> the partial sums of coupled node tail (None when
            there is none, or it does not influence the seeds)."""
            dvals = douts[k]
            for i in span:
                self._check_interrupt()
                dout = dvals.pop(i, None)
                if dout is None:  # node i does not influence the seeds
                    continue
                if i in keep:
                    kept[k][i] = dout
                backward_node(nodes[i], dout, k, dvals, chunk_grads[k % groups])
            if tail is None or tail not in dvals:
                return None
            node = nodes[tail]
            return node.op.backward_partial(node.hp, self._node_params[tail], dvals[tail], p.caches[tail][k])

        for span, tail in self._spans(range(start - 1, 0, -1), p.train):
            partials = run_chunks(lambda k: back_span(k, span, tail), range(len(chunks)))
            if partials[0] is not None:
                self._check_interrupt()
                node = nodes[tail]
                sums[tail], g = node.op.backward_merge(node.hp, partials)
                for name, a in g.items():
                    whole_grads[f"{node.key}.{name}"] = a
        grads = dict(whole_grads)
        for part in chunk_grads:  # in a fixed order, so the sums do not depend on the threads' timing
            for name, a in part.items():
                _accumulate(grads, name, a)
        result = Gradients({k: grads[k] for k in self.params if k in grads})
        if input_grad:
            v = nodes[0].volume
            result.input = to_nchw([d.get(0, np.zeros((v.depth, v.height, v.width, sl.stop - sl.start), self.dtype))
                                    for d, sl in zip(douts, chunks)])
        result.outputs = {i: to_nchw([kept[k][i] for k in range(len(chunks))]) for i in keep
                          if all(i in kept[k] for k in range(len(chunks)))}
        return result

    def _check_interrupt(self) -> None:
        if self.interrupt is not None and self.interrupt():
            raise Interrupted("stopped between two layers")

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        """x (N, D, H, W) -> logits (N, classes): the input of the final softmax; with score_map,
        (N, classes, H', W'): the logits at every position."""
        out = self.run(x, train, record=False).output
        return out if self.score_map else out.reshape(len(x), self.classes)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """x (N, D, H, W) -> class probabilities (N, classes) (score_map: (N, classes, H', W')), evaluation mode."""
        return softmax(self.forward(x))

    def loss(self, logits: np.ndarray, y) -> tuple[float, np.ndarray, np.ndarray]:
        """Logits (N, C, 1, 1) or (N, C), labels (N,) -> (mean cross-entropy, d loss / d logits shaped like
        the logits, probabilities (N, C))."""
        n = len(logits)
        if not n:
            raise ValueError("training and the loss need at least one image, got an empty batch")
        y = np.asarray(y)
        if y.shape != (n,) or y.dtype.kind not in "iu" or (n and (y.min() < 0 or y.max() >= self.classes)):
            raise ValueError(f"labels must be {n} whole numbers from 0 to {self.classes - 1}, "
                             f"got {y.dtype} array of shape {y.shape}" + (f" from {y.min()} to {y.max()}" if y.size else ""))
        loss, dlogits, probs = softmax_cross_entropy(logits.reshape(n, self.classes), y)
        return loss, dlogits.reshape(logits.shape).astype(self.dtype, copy=False), probs

    def backprop(self, x: np.ndarray, y: np.ndarray, train: bool = True):
        """One training pass -> (mean cross-entropy loss, grads keyed like params, probabilities (N, classes))."""
        p = self.run(x, train)
        loss, dlogits, probs = self.loss(p.output, y)
        return loss, self.backward(p, {self.plan.logits: dlogits}).params, probs

    def loss_and_gradients(self, x: np.ndarray, y: np.ndarray):
        """x (N, D, H, W), integer labels y (N,) -> (loss, grads keyed like the weights file)."""
        loss, grads, _ = self.backprop(x, y)
        return loss, grads

    def trace(self, x: np.ndarray, y: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Evaluation-mode pass over a few images, keeping everything the views show, keyed by node key
        in plan order: (outputs of every node, the classifier's being the class probabilities,
        d loss / d output of every node, the classifier's being d loss / d logits)."""
        p = self.run(x, keep="all")
        _, dlogits, probs = self.loss(p.output, y)
        g = self.backward(p, {self.plan.logits: dlogits}, keep="all")
        nodes, last = self.plan.nodes, self.plan.nodes[-1]
        outputs = {nodes[i].key: p.outputs[i] for i in sorted(p.outputs)}
        outputs[last.key] = probs.reshape(dlogits.shape).astype(self.dtype, copy=False)
        grads = {nodes[i].key: g.outputs.get(i, np.zeros_like(p.outputs[i])) for i in sorted(p.outputs)}
        grads[last.key] = dlogits
        return outputs, grads

    def state(self) -> dict[str, np.ndarray]:
        """Parameters and buffers, keyed like the weights file."""
        return {**self.params, **self.buffers}

    def save_weights(self, path) -> None:
        """Write an .npz of parameters and buffers, atomically (temp file + rename)."""
        with atomic_write(path) as f:
            np.savez(f, **self.state())

    def load_weights(self, path) -> None:
        """Read an .npz written by save_weights (or from a PyTorch state_dict, see README).
        Checks every key, shape and dtype first; nothing changes unless all fit. Never unpickles."""
        try:  # every array's header is checked against the network's shapes before anything is read
            arrays = read_npz(path, expect={k: a.shape for k, a in self.state().items()})
        except (OSError, ValueError) as e:
            raise WeightsError(f"cannot read weights file {path}: {e}") from e
        self.set_state(arrays, source=str(path))

    def set_state(self, arrays: dict[str, np.ndarray], source: str = "weights") -> None:
        """Copy arrays keyed like the weights file into the parameters and buffers, after checking them all.
        PyTorch's batchnorm counters ("{key}.num_batches_tracked") are ignored."""
        arrays = {k: np.asarray(a) for k, a in arrays.items() if not k.endswith(".num_batches_tracked")}
        want = self.state()
        missing, extra = sorted(set(want) - set(arrays)), sorted(set(arrays) - set(want))
        problems = [f"missing {k}" for k in missing] + [f"unexpected {k}" for k in extra]
        problems += [f"{k}: shape {tuple(arrays[k].shape)}, the network needs {tuple(a.shape)}"
                     for k, a in want.items() if k in arrays and arrays[k].shape != a.shape]
        problems += [f"{k}: dtype {arrays[k].dtype} is not numbers" for k in want
                     if k in arrays and arrays[k].dtype.kind not in "fiub"]
        if problems:
            raise WeightsError(f"{source} does not fit this architecture: " + "; ".join(problems))
        for k, a in want.items():
            np.copyto(a, arrays[k], casting="unsafe")


def _accumulate(table: dict, key, value: np.ndarray) -> None:
    """table[key] += value, without writing into an array another entry may share."""
    table[key] = table[key] + value if key in table else value
