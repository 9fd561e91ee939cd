"""Who a session cookie or an API token stands for, kept in memory.

Every signed-in request used to read its session (or token) row and then its
user row from SQLite; that was most of a small request's own time
(docs/benchmarks.md). `CredentialCache` keeps both, keyed by the SHA-256 the
database is keyed by, until something could have changed them:

- this process changes users, sessions or tokens: `Accounts`, `Sessions`
  and `Tokens` call `forget_all()` on every such write (a logout, a revoked
  session or token, a password, role or active change, a deleted user);
- another process does (the CLI's `token revoke`, `reset-two-factor`,
  `reset-admin-password` run beside a live server): SQLite's
  `PRAGMA data_version` changes when another connection commits, and every
  lookup checks it first (one statement, ~1 µs) and starts empty if it did.

Forgetting everything is coarse on purpose: those writes are rare, and a
rule per kind of change is a rule someone forgets. What stays per entry is
what each lookup must still check itself: expiry.
"""

MAX_ENTRIES = 10_000  # past this many live credentials, start again: memory stays bounded


class CredentialCache:
    def __init__(self, store, max_entries=MAX_ENTRIES):
        self.store = store
        self.max_entries = max_entries
        self.entries = {}
        self.seen_version = self._data_version()

    def _data_version(self):
        return self.store.one("PRAGMA data_version")[0]

    def get(self, key):
        """The entry put under `key`, or None (also when another process wrote since)."""
        version = self._data_version()
        if version != self.seen_version:
            self.seen_version = version
            self.entries.clear()
            return None
        return self.entries.get(key)

    def put(self, key, entry):
        if len(self.entries) >= self.max_entries:
            self.entries.clear()
        self.entries[key] = entry
        return entry

    def forget_all(self):
        self.entries.clear()
