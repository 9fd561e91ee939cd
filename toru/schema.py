"""Numbered schema migrations, applied in order and recorded in
`schema_migrations`. Never edit a released migration: add a new one.
"""

MIGRATIONS = [
    (1, "settings", """
        CREATE TABLE settings(
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at REAL NOT NULL
        );
    """),
]
