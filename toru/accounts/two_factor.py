"""Two-factor sign-in: a TOTP authenticator app (toru/accounts/totp.py) and
single-use recovery codes, per user, opt-in (docs/security.md#two-factor-sign-in).

One `two_factor` row per user that ever started a setup. The env admin's
row is keyed like its sessions: `user_id` NULL and its username, so its
second factor lives in the database like everything else it changes.

- `pending_secret` holds a setup not yet confirmed; `secret` the active one.
  A setup abandoned half-way never touches the active secret, so it cannot
  lock anyone out; confirming moves pending to active.
- The secret is stored as is: verifying a code needs it (a hash would not
  do). Recovery codes are random, so their SHA-256 is enough.
- `last_step` is the newest time step a code was accepted for: a code is
  only accepted for a later step, so an intercepted code cannot be replayed
  within its 90-second window, nor an older one after a newer was used.
  The check and the update are one UPDATE, so two logins racing with the
  same code cannot both win.
"""

import hashlib
import io
import secrets
import time

from toru.accounts import totp
from toru.errors import Conflict, Invalid

ISSUER = "Toru"
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: read off paper
RECOVERY_GROUPS = 3  # of 4 characters: xxxx-xxxx-xxxx, about 59 bits
MAX_CODE = 64  # longer input is refused before anything looks at it
# What check() answers; the first two let the sign-in through.
ACCEPTED = ("ok", "recovery_code")


def new_recovery_code():
    return "-".join("".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(4)) for _ in range(RECOVERY_GROUPS))


def normalise(code):
    """A code as typed ("123 456", "ABCD-efgh-2345 ") in its compared form."""
    return "".join(code.split()).replace("-", "").lower()


def code_hash(code):
    return hashlib.sha256(normalise(code).encode()).hexdigest()


def check_code(value):
    if not isinstance(value, str) or not value.strip():
        raise Invalid("Enter the 6-digit code from your authenticator app")
    if len(value) > MAX_CODE:
        raise Invalid("That code is too long")
    return value


def qr_svg(text):
    """An SVG QR code of `text` (segno: pure Python, no dependencies). Black
    on white whatever the page's theme: scanners need the contrast."""
    import segno  # here, not at the top: only setting up two-factor needs it, not the start
    out = io.BytesIO()
    segno.make(text, error="m", micro=False).save(out, kind="svg", scale=5, border=4, xmldecl=False,
                                                   dark="black", light="white", title="QR code for Toru")
    return out.getvalue().decode()


class TwoFactor:
    def __init__(self, store, clock=time.time):
        self.store = store
        self.clock = clock

    # --- reading -------------------------------------------------------------
    def _row(self, user):
        if user["id"]:
            return self.store.one("SELECT * FROM two_factor WHERE user_id = ?", (user["id"],))
        return self.store.one("SELECT * FROM two_factor WHERE user_id IS NULL AND username = ? COLLATE NOCASE",
                              (user["username"],))

    def enabled(self, user):
        row = self._row(user)
        return bool(row and row["secret"])

    def status(self, user):
        row = self._row(user)
        left = 0
        if row and row["secret"]:
            left = self.store.one("SELECT count(*) AS n FROM two_factor_recovery "
                                  "WHERE two_factor_id = ? AND used_at IS NULL", (row["id"],))["n"]
        return {"enabled": bool(row and row["secret"]), "enabled_at": row["enabled_at"] if row else None,
                "recovery_codes_left": left}

    def enabled_users(self):
        """{(user id, lowercased username)} of everyone with 2FA on; the env admin's id is 0."""
        rows = self.store.all("SELECT user_id, username FROM two_factor WHERE secret IS NOT NULL")
        return {(r["user_id"] or 0, r["username"].lower()) for r in rows}

    # --- setting up and down -------------------------------------------------
    def setup(self, user):
        """A new pending secret (replacing an earlier pending one):
        {secret, otpauth_uri, qr_svg}. The active secret, if any, stays."""
        if self.enabled(user):
            raise Conflict("Two-factor sign-in is already on; turn it off first to move it to another device")
        secret = totp.new_secret()
        now = self.clock()
        with self.store.transaction():
            row = self._row(user)
            if row is None:
                self.store.execute("INSERT INTO two_factor(user_id, username, pending_secret, updated_at) "
                                   "VALUES(?, ?, ?, ?)", (user["id"] or None, user["username"], secret, now))
            else:
                self.store.execute("UPDATE two_factor SET pending_secret = ?, updated_at = ? WHERE id = ?",
                                   (secret, now, row["id"]))
        uri = totp.otpauth_uri(secret, user["username"], ISSUER)
        return {"secret": secret, "otpauth_uri": uri, "qr_svg": qr_svg(uri)}

    def enable(self, user, code):
        """Confirm the pending secret with a code from the app; returns the
        new recovery codes (shown once: only their hashes are kept)."""
        code = check_code(code)
        row = self._row(user)
        if row is None or not row["pending_secret"]:
            raise Conflict("Start the setup first (POST /api/me/2fa/setup)")
        if row["secret"]:
            raise Conflict("Two-factor sign-in is already on")
        digits = normalise(code)
        step = None
        if len(digits) == totp.DIGITS and digits.isdigit():
            step = totp.matching_step(totp.secret_key(row["pending_secret"]), digits, self.clock())
        if step is None:
            raise Invalid("That code does not match: check the time on your phone, then enter the current code",
                          fields={"code": "Not the current code"})
        with self.store.transaction():
            # Only the very secret that code was checked against (a setup
            # started again meanwhile made another one).
            moved = self.store.execute(
                "UPDATE two_factor SET secret = pending_secret, pending_secret = NULL, last_step = ?, "
                "enabled_at = ?, updated_at = ? WHERE id = ? AND pending_secret = ? AND secret IS NULL",
                (step, self.clock(), self.clock(), row["id"], row["pending_secret"])).rowcount
            if not moved:
                raise Conflict("The setup changed meanwhile: start it again")
            return self._replace_recovery_codes(row["id"])

    def new_recovery_codes(self, user):
        row = self._row(user)
        if not (row and row["secret"]):
            raise Conflict("Two-factor sign-in is off")
        with self.store.transaction():
            return self._replace_recovery_codes(row["id"])

    def _replace_recovery_codes(self, row_id):
        codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
        self.store.execute("DELETE FROM two_factor_recovery WHERE two_factor_id = ?", (row_id,))
        for code in codes:
            self.store.execute("INSERT INTO two_factor_recovery(two_factor_id, code_hash) VALUES(?, ?)",
                               (row_id, code_hash(code)))
        return codes

    def disable(self, user):
        """Turn it off (the caller checked the password and a code, or is an
        admin resetting someone else's). False when it was not on."""
        row = self._row(user)
        if row is None:
            return False
        self.store.execute("DELETE FROM two_factor WHERE id = ?", (row["id"],))  # recovery codes cascade
        return bool(row["secret"])

    # --- signing in ----------------------------------------------------------
    def check(self, user, code):
        """Spend `code` (a current TOTP or an unused recovery code) for
        `user`: "ok", "recovery_code", or why not: "bad_code", "reused_code"."""
        row = self._row(user)
        if not (row and row["secret"]) or not isinstance(code, str) or len(code) > MAX_CODE:
            return "bad_code"
        typed = normalise(code)
        if len(typed) == totp.DIGITS and typed.isdigit():
            step = totp.matching_step(totp.secret_key(row["secret"]), typed, self.clock())
            if step is None:
                return "bad_code"
            spent = self.store.execute("UPDATE two_factor SET last_step = ? WHERE id = ? AND last_step < ?",
                                       (step, row["id"], step)).rowcount
            return "ok" if spent else "reused_code"
        used = self.store.execute("UPDATE two_factor_recovery SET used_at = ? "
                                  "WHERE two_factor_id = ? AND code_hash = ? AND used_at IS NULL",
                                  (self.clock(), row["id"], code_hash(typed))).rowcount
        return "recovery_code" if used else "bad_code"
