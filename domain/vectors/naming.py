"""One table (or collection) per embedder: vectors of different models never mix."""

from __future__ import annotations

import hashlib
import re


def collection_name(embedder_name: str, dimension: int) -> str:
    """A name valid for LanceDB and Chroma alike (3-63 of [a-z0-9_], alphanumeric at both
    ends), readable, and unique per (embedder, dimension) through a short digest."""
    if dimension < 1:
        raise ValueError("dimension must be positive")
    slug = re.sub(r"[^a-z0-9]+", "_", embedder_name.lower()).strip("_")[:32].strip("_")
    digest = hashlib.sha256(f"{embedder_name}\0{dimension}".encode()).hexdigest()[:10]
    return f"chunks_{slug}_{dimension}_{digest}" if slug else f"chunks_{dimension}_{digest}"
