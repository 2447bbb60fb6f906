"""Vector stores: chunk vectors and text per workspace, behind one port (DESIGN section 5)."""
