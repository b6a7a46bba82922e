"""Branching networks in the Train tab: resnet20 trains from the builder like any other network, its
filters change, and the views list layers by readable path under a heading per container; a
GoogLeNet-like net's probe volumes are shown for every leaf inside its branches."""
from __future__ import annotations

import numpy as np
import pytest
from ui_helpers import WAIT


@pytest.fixture
def train_tab(window, small_data, started_threads):
    dash = window.dashboard
    dash._locate_on_show = False  # the data is given: no search for CIFAR-10
    dash.set_data(small_data)
    dash.show_error = lambda title, text: pytest.fail(f"{title}: {text}")
    s = dash.settings
    s.batch_size.setValue(16)
    s.val_split.setValue(0)
    s.epochs.setValue(1)
    dash.snapshot_rate = 1000.0  # a snapshot after every step
    yield window
    dash.shutdown()


def test_resnet20_trains_and_its_filters_change_under_container_headings(qtbot, train_tab, shots):
    window = train_tab
    window.load_preset("resnet20")
    dash = window.dashboard
    window.tabs.setCurrentWidget(dash)
    dash.settings.max_steps.setValue(3)
    assert dash.start_button.isEnabled(), dash.reason.text()
    dash.views.setCurrentWidget(dash.filters)
    pictures = []
    show = dash.filters.set_snapshot

    def record(snapshot):
        show(snapshot)
        dash.refresh_views(force=True)
        pictures.append(dash.filters.image_of("3.body.0"))          # a conv inside the first residual block

    dash.filters.set_snapshot = record
    with qtbot.waitSignal(dash.runFinished, timeout=3 * WAIT) as finished:  # resnet20's steps take a while
        dash.start()
    assert finished.args == ["max_steps"]
    assert len(pictures) >= 2 and pictures[0] is not None
    assert not np.array_equal(pictures[0], pictures[-1]), "the filters did not change while training"
    filters = dash.filters
    assert filters.headings[:2] == ["stage 1 · block 0 (Residual, block 3)", "stage 1 · block 1 (Residual, block 5)"]
    assert "stage 2 · block 0 (Residual, block 9)" in filters.headings
    assert filters.titles["9.shortcut.0"].text == "stage 2 · block 0 · shortcut · conv 0 (9.shortcut[0]) → 16x16x32"
    assert filters.image_of("9.shortcut.0") is not None                  # the projection's filters too
    assert len(filters._rows) == 1 + 9 * 2 + 2                            # every conv of resnet20

    window.resize(1280, 800)
    assert window.grab().save(str(shots / "resnet20-training-filters.png"))
    dash.views.setCurrentWidget(dash.activations)  # the probe passes through the final weights now
    acts = dash.activations
    qtbot.waitUntil(lambda: acts.snapshot is not None, timeout=WAIT)
    dash.refresh_views(force=True)
    assert window.grab().save(str(shots / "resnet20-training-activations.png"))
    keys = list(acts.snapshot.activations)
    assert keys == list(acts.titles) and "3" in keys and "3.body.4" in keys   # leaves and merges, in plan order
    assert all(acts.image_of(k) is not None for k in keys)
    assert acts.image_of("3.body.2").shape[2] == 4                         # a picture of 16 depth slices

    first = {k: acts.image_of(k) for k in ("0", "22")}                  # conv 0 in view; the fc far below
    acts.gradients.setChecked(True)                                       # redrawn: the rows in view only
    assert not np.array_equal(acts.image_of("0"), first["0"])
    assert np.array_equal(acts.image_of("22"), first["22"]) and "22" in acts._stale
    bar = acts.scroll.verticalScrollBar()
    bar.setValue(bar.maximum())                                           # scrolled to the end: drawn now
    assert "22" not in acts._stale and not np.array_equal(acts.image_of("22"), first["22"])


def test_a_googlenet_like_net_shows_every_branch_leaf(qtbot, train_tab):
    window = train_tab
    window.load_preset("convnetjs")
    window.document.insert_template((3,), "inception")                  # after the first pool: 16x16x16 in
    assert window.current_inference().valid
    dash = window.dashboard
    window.tabs.setCurrentWidget(dash)
    dash.settings.max_steps.setValue(2)
    dash.views.setCurrentWidget(dash.activations)
    with qtbot.waitSignal(dash.runFinished, timeout=3 * WAIT):
        dash.start()
    dash.refresh_views(force=True)
    acts = dash.activations
    branch_leaves = [info.key for info in window.current_inference().block((3,)).lanes[2]]
    assert branch_leaves == ["3.branches.2.0", "3.branches.2.1", "3.branches.2.2", "3.branches.2.3",
                             "3.branches.2.4", "3.branches.2.5"]
    for key in branch_leaves + ["3"]:
        assert acts.image_of(key) is not None, key
    assert acts.headings == ["block 0 (Concat, block 3)"]
    assert acts.titles["3.branches.2.3"].name == "branch 2 · conv 1"
    assert acts.titles["3"].name == "concat (merged)" and str(acts.titles["3"].volume) == "16x16x256"
    grads = acts.snapshot.gradients
    assert set(grads) >= set(branch_leaves) and grads["3.branches.2.3"].shape == (32, 16, 16)

