"""The optional `apprise` channel: Apprise URLs (~100 services) when the
`apprise` package can be imported. It is not bundled in toru.pyz (it is large
and pulls in requests); an operator who wants it installs it into the Python
that runs Toru (docs/alerts.md#apprise). Without it the type is listed as
unavailable, with that sentence, and such channels fail in words.
"""

import importlib
import importlib.util

from toru.alerts import presets
from toru.alerts.outcome import delivered, failed
from toru.errors import Invalid

UNAVAILABLE = ("Apprise is not installed: install it with `pip install apprise` into the Python that runs Toru "
               "(it is not bundled in toru.pyz), then restart Toru.")
NOTIFY_TYPES = {"critical": "failure", "warning": "warning", "info": "info", "resolved": "success"}


def available():
    return importlib.util.find_spec("apprise") is not None


def where(config):
    count = len(config.get("urls") or ())
    return f"{count} Apprise URL{'s' if count != 1 else ''}"


def check_urls(urls):
    """Each URL is one Apprise understands; Invalid names the first that is not (by position: they hold tokens)."""
    if not available():
        raise Invalid(UNAVAILABLE)
    apprise = importlib.import_module("apprise")
    for i, url in enumerate(urls, 1):
        if not apprise.Apprise().add(url):
            raise Invalid(f"Apprise does not understand URL {i} of {len(urls)}: check its scheme and parts")
    return urls


def send(config, n, timeout):
    try:
        apprise = importlib.import_module("apprise")
    except ImportError:
        return failed(UNAVAILABLE)
    sender = apprise.Apprise()
    for url in config["urls"]:
        sender.add(url)
    if sender.notify(title=presets.headline(n), body=presets.plain_text(n),
                     notify_type=NOTIFY_TYPES[presets.tone(n)]):
        return delivered(f"Apprise sent it to {where(config)}")
    return failed(f"Apprise could not send to one or more of {where(config)} (its log says why)", retry=True)
