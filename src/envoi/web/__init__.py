"""FastAPI: the JSON API, webhooks, the sandbox network's API and the web wallet."""
