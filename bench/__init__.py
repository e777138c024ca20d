"""Benchmarks of the product against minimal Restate baselines (`python -m bench.<name>`)."""
