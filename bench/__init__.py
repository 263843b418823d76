"""Benchmarks: raygraph against hand-written numpy and TensorFlow 1.x (compat.v1)."""
