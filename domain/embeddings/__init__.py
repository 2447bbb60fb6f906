"""Embedders: text in, L2-normalised float32 vectors out, behind one port (DESIGN section 5)."""
