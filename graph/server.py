"""The ASGI application uvicorn serves (`graph.server:app`), configured from the environment."""

from graph.app import create_app

app = create_app()
