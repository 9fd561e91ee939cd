"""`toru.pyz license generate|check`: plugin licence keys (issue 9)."""

from toru.errors import ConfigError


def main(argv, environ):
    raise ConfigError("license is not available in this build yet (it arrives with the plugin SDK)")
