"""random ops (declared in the random family)."""
