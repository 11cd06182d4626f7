"""The HTTP API (issue 7): :func:`commands.http.app.create_app`, served by ``billing serve``."""
