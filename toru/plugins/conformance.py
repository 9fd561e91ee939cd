"""`toru.pyz plugin-test BINARY`: a conformance checker for plugin authors (issue 9)."""

from toru.errors import ConfigError


def main(argv):
    raise ConfigError("plugin-test is not available in this build yet (it arrives with the plugin SDK)")
