"""Optimisers that update parameter arrays in place: SGD (momentum, Nesterov), Adam, Adadelta.

Each follows PyTorch's update rule. L2 weight decay adds weight_decay * w to the gradient of
conv and fc weights (not biases nor batchnorm). Hyperparameters are plain attributes, so they
can be changed between steps; `state_dict()` / `load_state_dict()` hold everything else.
"""
from __future__ import annotations

import numpy as np


def decays(key: str, params: dict) -> bool:
    """Whether L2 decay applies: weights with two or more axes (conv and fc)."""
    return key.endswith(".weight") and params[key].ndim >= 2


class Optimizer:
    name = ""

    def __init__(self, params: dict[str, np.ndarray], lr: float, weight_decay: float = 0.0):
        self.params, self.lr, self.weight_decay = params, lr, weight_decay
        self.steps = 0
        self.slots: dict[str, dict[str, np.ndarray]] = {}

    def _slot(self, name: str, key: str) -> np.ndarray:
        table = self.slots.setdefault(name, {})
        if key not in table:
            table[key] = np.zeros_like(self.params[key])
        return table[key]

    def step(self, grads: dict[str, np.ndarray]) -> None:
        self.steps += 1
        for key, g in grads.items():
            if self.weight_decay and decays(key, self.params):
                g = g + self.weight_decay * self.params[key]
            self._update(key, self.params[key], g.astype(self.params[key].dtype, copy=False))

    def _update(self, key: str, p: np.ndarray, g: np.ndarray) -> None:
        raise NotImplementedError

    def hyper(self) -> dict:
        return {"lr": self.lr, "weight_decay": self.weight_decay}

    def state_dict(self) -> dict:
        return {"name": self.name, "steps": self.steps, "hyper": self.hyper(),
                "slots": {n: {k: a.copy() for k, a in t.items()} for n, t in self.slots.items()}}

    def load_state_dict(self, state: dict) -> None:
        """Continue from what state_dict() gave. ValueError, with nothing changed, for another optimizer,
        a hyperparameter it does not have, or a slot array that does not fit its parameter."""
        if state["name"] != self.name:
            raise ValueError(f"optimizer state is for {state['name']}, not {self.name}")
        problems = [f"unknown hyperparameter {k!r}" for k in state["hyper"] if k not in self.hyper()]
        for n, t in state["slots"].items():
            for k, a in t.items():
                if k not in self.params:
                    problems.append(f"{n} for unknown parameter {k}")
                elif np.shape(a) != self.params[k].shape:
                    problems.append(f"{n} for {k}: shape {np.shape(a)}, the parameter's is {self.params[k].shape}")
        if problems:
            raise ValueError(f"{self.name} optimizer state does not fit: " + "; ".join(problems))
        self.steps = int(state["steps"])
        for k, v in state["hyper"].items():
            setattr(self, k, v)
        self.slots = {n: {k: np.array(a, dtype=self.params[k].dtype) for k, a in t.items()} for n, t in state["slots"].items()}


class SGD(Optimizer):
    name = "sgd"

    def __init__(self, params, lr=0.01, momentum=0.9, weight_decay=0.0, nesterov=False):
        super().__init__(params, lr, weight_decay)
        self.momentum, self.nesterov = momentum, nesterov

    def hyper(self):
        return {**super().hyper(), "momentum": self.momentum, "nesterov": self.nesterov}

    def _update(self, key, p, g):
        if self.momentum:
            table = self.slots.setdefault("momentum", {})
            if key not in table:
                buf = table[key] = g.copy()  # PyTorch starts the buffer at the first gradient
            else:
                buf = table[key]
                buf *= self.momentum
                buf += g
            g = g + self.momentum * buf if self.nesterov else buf
        p -= self.lr * g


class Adam(Optimizer):
    name = "adam"

    def __init__(self, params, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr, weight_decay)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def hyper(self):
        return {**super().hyper(), "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}

    def _update(self, key, p, g):
        m, v = self._slot("m", key), self._slot("v", key)
        m *= self.beta1
        m += (1 - self.beta1) * g
        v *= self.beta2
        v += (1 - self.beta2) * g * g
        mhat = m / (1 - self.beta1 ** self.steps)
        vhat = v / (1 - self.beta2 ** self.steps)
        p -= (self.lr * mhat / (np.sqrt(vhat) + self.eps)).astype(p.dtype)


class Adadelta(Optimizer):
    """ConvNetJS's default trainer (rho 0.95, eps 1e-6); lr scales the step as in PyTorch."""

    name = "adadelta"

    def __init__(self, params, lr=1.0, rho=0.95, eps=1e-6, weight_decay=0.0):
        super().__init__(params, lr, weight_decay)
        self.rho, self.eps = rho, eps

    def hyper(self):
        return {**super().hyper(), "rho": self.rho, "eps": self.eps}

    def _update(self, key, p, g):
        eg, edx = self._slot("square_avg", key), self._slot("acc_delta", key)
        eg *= self.rho
        eg += (1 - self.rho) * g * g
        dx = np.sqrt(edx + self.eps) / np.sqrt(eg + self.eps) * g
        edx *= self.rho
        edx += (1 - self.rho) * dx * dx
        p -= (self.lr * dx).astype(p.dtype)


OPTIMIZERS = {cls.name: cls for cls in (SGD, Adam, Adadelta)}


def make_optimizer(name: str, params: dict, **hyper) -> Optimizer:
    """An optimizer by name ('sgd', 'adam', 'adadelta'); hyper takes the class's keyword arguments."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}: choose one of {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name](params, **hyper)
