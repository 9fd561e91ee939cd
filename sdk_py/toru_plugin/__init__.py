"""toru_plugin: write Toru plugins in Python (stdlib only, Python 3.10+).

    from toru_plugin import Plugin

    plugin = Plugin(id="hello", name="Hello", version="1.0.0", author="me", icon="👋", route="/hello")

    @plugin.route("GET", "/")
    def index(request):
        return {"hello": request.user}

    if __name__ == "__main__":
        plugin.run()

See docs/plugins.md, "Python SDK", in the Toru repository.
"""

from toru_plugin.context import KV, Context, KVError, Logger
from toru_plugin.http import HTTPError, Request, Response
from toru_plugin.license import LicenseResult, generate_license, license_key, validate_license
from toru_plugin.plugin import Plugin
from toru_plugin.protocol import MAX_FRAME, PROTOCOL_VERSION

__version__ = "1.0.0"

__all__ = ["Plugin", "Request", "Response", "HTTPError", "Context", "KV", "KVError", "Logger",
           "LicenseResult", "generate_license", "validate_license", "license_key",
           "MAX_FRAME", "PROTOCOL_VERSION", "__version__"]
