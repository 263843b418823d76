"""raygraph.train.training_util (being written)."""

__all__: list[str] = []
