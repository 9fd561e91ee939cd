"""Email delivery with smtplib: plain text with an HTML alternative.

`security` is "none" (plain SMTP, port 25), "starttls" (upgrade after EHLO,
port 587, the default) or "tls" (TLS from the first byte, port 465).
Certificates are checked unless the channel sets `tls_verify: false`
(a relay with a self-signed certificate on the same network). SMTP reply
codes decide retries: 4xx is "try later", 5xx is final.
"""

import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from toru.alerts import presets
from toru.alerts.outcome import delivered, failed, network_error

DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}


def where(config):
    return f"{config['host']}:{config['port']}"


def message(config, n):
    msg = EmailMessage()
    msg["Subject"] = f"[Toru] {presets.headline(n)}"
    msg["From"] = config["from"]
    msg["To"] = ", ".join(config["to"])
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=n["host"] or None)
    msg.set_content(presets.plain_text(n))
    msg.add_alternative(html_body(n), subtype="html")
    return msg


def html_body(n):
    import html  # here, not at the top: its entity table is ~0.5 MiB that only an email needs
    esc = html.escape
    colour = f"#{presets.COLOURS[presets.tone(n)]:06x}"
    rows = "".join(f"<tr><th align=\"left\" style=\"padding:2px 12px 2px 0\">{esc(label)}</th>"
                   f"<td>{esc(text)}</td></tr>" for label, text in presets.details(n))
    link = f'<p><a href="{esc(n["url"])}">Open in Toru</a></p>' if n.get("url") else ""
    return (f"<!doctype html><html><body style=\"font-family:sans-serif;color:#191919\">"
            f"<h2 style=\"color:{colour}\">{esc(presets.headline(n))}</h2>"
            f"<p>{esc(n['summary'])}</p><table>{rows}</table>{link}</body></html>")


def tls_context(config):
    context = ssl.create_default_context()
    if not config.get("tls_verify", True):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def send(config, n, timeout):
    import smtplib  # here, not at the top: most servers never send mail
    target = where(config)
    security = config.get("security", "starttls")
    try:
        if security == "tls":
            smtp = smtplib.SMTP_SSL(config["host"], config["port"], local_hostname=socket.gethostname(),
                                    timeout=timeout, context=tls_context(config))
        else:
            smtp = smtplib.SMTP(config["host"], config["port"], local_hostname=socket.gethostname(),
                                timeout=timeout)
        with smtp:
            if security == "starttls":
                smtp.starttls(context=tls_context(config))
            if config.get("username"):
                smtp.login(config["username"], config.get("password") or "")
            refused = smtp.send_message(message(config, n))
    except smtplib.SMTPException as e:
        return smtp_error(e, target)
    except OSError as e:
        return network_error(e, target, config["host"])
    accepted = [a for a in config["to"] if a not in refused]
    text = f"{target} accepted the message for {', '.join(accepted)}"
    if refused:
        text += f"; refused {', '.join(refused)}"
    return delivered(text)


def reply(e):
    text = e.smtp_error.decode("utf-8", "replace") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
    return f"{e.smtp_code} {' '.join(text.split())}"


def smtp_error(e, target):
    import smtplib  # loaded already: this follows a send
    if isinstance(e, smtplib.SMTPNotSupportedError):
        return failed(f"{target} does not offer STARTTLS: choose security \"tls\" or \"none\"")
    if isinstance(e, smtplib.SMTPAuthenticationError):
        return failed(f"{target} refused the user name or password ({reply(e)})", e.smtp_code)
    if isinstance(e, smtplib.SMTPRecipientsRefused):
        said = "; ".join(f"{addr}: {code} {msg.decode('utf-8', 'replace') if isinstance(msg, bytes) else msg}"
                         for addr, (code, msg) in e.recipients.items())
        codes = [code for code, _ in e.recipients.values()]
        return failed(f"{target} refused every recipient ({said})", codes[0] if codes else None,
                      retry=all(400 <= c < 500 for c in codes))
    if isinstance(e, smtplib.SMTPResponseException):
        return failed(f"{target} answered {reply(e)}", e.smtp_code, retry=400 <= e.smtp_code < 500)
    if isinstance(e, smtplib.SMTPServerDisconnected):
        return failed(f"{target} closed the connection ({e or 'no reason given'})", retry=True)
    return failed(f"SMTP error with {target} ({e})", retry=True)
