"""The three built-in CV algorithms and the parts they share (algorithms.common)."""
