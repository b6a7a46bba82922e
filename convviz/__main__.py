"""python -m convviz: the command line (convviz/cli.py)."""
import sys

from .cli import main

sys.exit(main())
