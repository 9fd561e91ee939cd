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
    (2, "accounts", """
        CREATE TABLE users(
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE COLLATE NOCASE,
            display_name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('admin', 'client')),
            password_hash TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        -- token_hash is SHA-256 of the cookie's token: a leaked database
        -- holds no usable session. user_id is NULL for the env admin.
        CREATE TABLE sessions(
            token_hash TEXT PRIMARY KEY,
            user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
            username TEXT NOT NULL,
            created_at REAL NOT NULL,
            last_seen REAL NOT NULL,
            expires_at REAL NOT NULL,
            ip TEXT,
            user_agent TEXT
        );
        CREATE INDEX sessions_user ON sessions(user_id);
        CREATE INDEX sessions_expiry ON sessions(expires_at);
        CREATE TABLE login_attempts(
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL,
            ip TEXT NOT NULL,
            user_agent TEXT,
            success INTEGER NOT NULL,
            reason TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE INDEX login_attempts_user ON login_attempts(username COLLATE NOCASE, created_at);
        CREATE INDEX login_attempts_ip ON login_attempts(ip, created_at);
        CREATE INDEX login_attempts_time ON login_attempts(created_at);
    """),
]
