"""The web side: the FastAPI app (``watcher serve``), its routers (JSON API, feeds, unsubscribe) and
the dashboard."""
