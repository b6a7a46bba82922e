"""Real drags and drops: an Xvfb server, and real X pointer events (XTest) driving Qt's QDrag in a
subprocess (tests/ui/real_drag.py), since offscreen Qt cannot perform a drag."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("real_drag.py")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def xvfb_display():
    """Start Xvfb on a free display (it reports the number through -displayfd); stop it afterwards."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb)")
    read, write = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
                              pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    try:
        assert number, "Xvfb did not report a display number"
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_real_drag_from_palette_within_the_stack_and_into_lanes(xvfb_display):
    env = {**os.environ, "DISPLAY": xvfb_display, "QT_QPA_PLATFORM": "xcb", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    after_drop, after_move, body, branch = json.loads(done.stdout.strip().splitlines()[-1])
    convnetjs = ["conv", "relu", "maxpool", "conv", "relu", "maxpool", "conv", "relu", "maxpool", "fc", "softmax"]
    assert after_drop == convnetjs[:1] + ["dropout"] + convnetjs[1:]     # dropped at the gap under the pointer
    assert after_move == convnetjs[:3] + ["dropout"] + convnetjs[3:]     # then dragged three blocks down
    assert body == ["conv", "conv", "batchnorm", "relu", "conv", "batchnorm"]   # on top of the residual's body
    assert branch == ["conv", "conv", "batchnorm", "relu", "conv", "batchnorm", "relu"]  # the inception's branch 1
