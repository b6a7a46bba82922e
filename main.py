"""Start the ConvViz desktop app: python main.py"""
import sys

if __name__ == "__main__":
    from convviz.ui.app import main

    sys.exit(main())
