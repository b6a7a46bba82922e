"""The build hook that carries the repository's top-level resources/ into the package.

Everything else is in pyproject.toml. A wheel (and so `pip install .` and pipx) gets the presets, icons
and style sheet as convviz/resources/, where convviz/paths.py finds them; an editable install copies
nothing and reads resources/ in the checkout.
"""
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

RESOURCES = Path(__file__).resolve().parent / "resources"


class BuildWithResources(build_py):
    """build_py, plus resources/ copied into the built package as convviz/resources/."""

    def run(self):
        super().run()
        if not self.editable_mode:
            self.copy_tree(str(RESOURCES), str(Path(self.build_lib) / "convviz" / "resources"))


setup(cmdclass={"build_py": BuildWithResources})
