"""raygraph.variable_scope (being written)."""

__all__: list[str] = []
