"""Benchmarks printed by `convviz bench`: figures measured side by side, never timed assertions."""
