"""raygraph.train.saver (being written)."""

__all__: list[str] = []
