"""What one delivery attempt came to, in words an operator can act on.

Every sender (webhook, mail, apprise) returns an `Outcome`; network and TLS
errors become sentences here, once, so the test button, the deliveries list
and the log all say the same thing. Words name the receiver by host and port
only: Slack, Discord and Telegram URLs carry their credential in the path.
"""

import http.client
import socket
import ssl
from dataclasses import dataclass

MAX_EXCERPT = 200


@dataclass(frozen=True)
class Outcome:
    ok: bool
    result: str                 # one sentence, starting "Delivered" or "Not delivered"
    status_code: int = None     # HTTP status or SMTP reply code, when there was one
    retry: bool = False         # worth another attempt (network trouble, 5xx, 429, SMTP 4xx)


class DeliveryTimeout(Exception):
    """Raised by the dispatcher's gevent.Timeout: never caught by a sender."""


def delivered(text, status_code=None):
    return Outcome(True, f"Delivered: {text}", status_code)


def failed(text, status_code=None, retry=False):
    return Outcome(False, f"Not delivered: {text}", status_code, retry)


def timed_out(where, seconds):
    return failed(f"no answer from {where} within {seconds:g} s (timed out)", retry=True)


def excerpt(raw):
    """The start of a receiver's answer on one line, for the words."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    text = " ".join(text.split())
    return text if len(text) <= MAX_EXCERPT else text[:MAX_EXCERPT] + "…"


def network_error(error, where, host=None):
    """An exception raised while talking to `where` (host:port) → Outcome."""
    if isinstance(error, ConnectionRefusedError):
        return failed(f"connection refused by {where} (nothing is listening there)", retry=True)
    if isinstance(error, socket.gaierror):
        return failed(f"the host name {host or where} could not be resolved ({error.strerror})", retry=True)
    if isinstance(error, ssl.SSLCertVerificationError):
        return failed(f"the TLS certificate of {where} was not accepted ({error.verify_message})")
    if isinstance(error, ssl.SSLError):
        return failed(f"TLS failed with {where} ({error.reason or error})", retry=True)
    if isinstance(error, (socket.timeout, TimeoutError)):
        return failed(f"no answer from {where} in time (timed out)", retry=True)
    if isinstance(error, ConnectionResetError):
        return failed(f"{where} reset the connection", retry=True)
    if isinstance(error, http.client.RemoteDisconnected):
        return failed(f"{where} closed the connection without answering", retry=True)
    if isinstance(error, http.client.HTTPException):
        return failed(f"{where} sent an answer that is not HTTP ({type(error).__name__})", retry=True)
    if isinstance(error, OSError):
        return failed(f"network error with {where} ({error.strerror or error})", retry=True)
    raise error
