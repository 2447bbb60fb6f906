"""Chat models behind one port: OpenAI-compatible servers and a model-free answerer (DESIGN 6)."""
