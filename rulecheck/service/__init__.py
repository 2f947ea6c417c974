"""rulecheck as an HTTP service for approval systems (`rulecheck serve`; docs/service.md). Needs the optional
dependencies of the ``service`` extra (FastAPI, uvicorn, python-multipart)."""

from __future__ import annotations

from .tokens import ROLES, TOKEN_VARIABLE, Principal, is_loopback, parse_tokens, read_token, read_tokens


def serve(settings, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the service on uvicorn until interrupted. On SIGTERM/SIGINT new checks are refused (503) and a waiting
    synchronous request is answered at once (503 with its job's id); the workers are stopped with the server."""
    import uvicorn

    from .app import create_app

    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info",
                                           timeout_graceful_shutdown=settings.shutdown_seconds))
    original = server.handle_exit

    def handle_exit(sig, frame):
        app.state.service.closing()
        original(sig, frame)

    server.handle_exit = handle_exit
    server.run()


__all__ = ["ROLES", "TOKEN_VARIABLE", "Principal", "is_loopback", "parse_tokens", "read_token", "read_tokens", "serve"]
