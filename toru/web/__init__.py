"""The HTTP layer: the server, the Bottle app's conventions, security, the WebSocket endpoint and the UI files."""
