"""raygraph.train.optimizers (being written)."""

__all__: list[str] = []
