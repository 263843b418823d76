"""nn ops (declared in the nn family)."""
