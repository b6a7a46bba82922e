"""The PyTorch module that mirrors an architecture tree, so a ConvViz weights file loads into it with
load_state_dict and gives the same numbers. torch is imported only when a module is built.

The top level is an nn.Sequential with one module per block (index i = block i). A leaf is the
torch.nn module its declaration names (LayerType.torch_module); fc is FlattenLinear, an nn.Linear on
the (depth, height, width) flattening of its input that gives (N, units, 1, 1) like the engine, so
the layers after it (batchnorm, dropout, a 1x1 conv) see the same 4-d volumes; the softmax is
FlattenSoftmax, giving probabilities (N, classes). A residual is
a module with `body` and `shortcut` (nn.Sequential, empty = identity) whose output is their sum; a
concat has `branches` (an nn.ModuleList of nn.Sequential) stacked along depth. The state_dict keys
are the engine's: "3.body.1.weight", "5.branches.1.0.weight".
"""
from __future__ import annotations

from ..engine import compile_plan


def torch_module(arch):
    """The nn.Sequential mirroring arch (see the module docstring): model(x) gives the class
    probabilities (N, classes); `logits(model, x)` runs every block but the softmax -> (N, classes)."""
    import torch
    from torch import nn

    class FlattenLinear(nn.Linear):
        """nn.Linear on x.flatten(1), output (N, units, 1, 1); same state_dict keys as nn.Linear."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return super().forward(x.flatten(1))[:, :, None, None]

    class FlattenSoftmax(nn.Softmax):
        """nn.Softmax over the classes of a (N, classes, 1, 1) volume -> (N, classes)."""

        def __init__(self):
            super().__init__(dim=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return super().forward(x.flatten(1))

    class Residual(nn.Module):
        def __init__(self, body: nn.Sequential, shortcut: nn.Sequential):
            super().__init__()
            self.body, self.shortcut = body, shortcut

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.body(x) + self.shortcut(x)

    class Concat(nn.Module):
        def __init__(self, branches: list[nn.Sequential]):
            super().__init__()
            self.branches = nn.ModuleList(branches)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cat([branch(x) for branch in self.branches], dim=1)

    ours = {"FlattenLinear": FlattenLinear, "FlattenSoftmax": FlattenSoftmax}
    containers = {"Residual": lambda lanes: Residual(*lanes), "Concat": Concat}
    plan = compile_plan(arch)  # checks the tree and gives every leaf its hyperparameters and input volume
    leaves = {node.path: node for node in plan.nodes if node.op is not None and not node.is_merge}
    merges = {node.path: node for node in plan.nodes if node.is_merge}

    def lane(blocks, path) -> nn.Sequential:
        modules = []
        for i, _ in enumerate(blocks):
            p = path + (i,)
            if p in merges:
                node = merges[p]
                lanes = [lane(sub, p + (j,)) for j, sub in enumerate(blocks[i].lanes)]
                modules.append(containers[node.op.torch_module()](lanes))
            else:
                node = leaves[p]
                name, kwargs = node.op.torch_module(node.hp, node.in_volumes[0])
                modules.append(ours[name](**kwargs) if name in ours else getattr(nn, name)(**kwargs))
        return nn.Sequential(*modules)

    return lane(arch.layers, ())


def logits(model, x):
    """The class scores (N, classes) of a module from torch_module: every block but the softmax."""
    return model[:-1](x).flatten(1)
