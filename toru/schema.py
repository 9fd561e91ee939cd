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
    (3, "tasks", """
        CREATE TABLE quick_actions(
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            script TEXT NOT NULL,
            icon TEXT,
            description TEXT,
            position INTEGER NOT NULL,
            timeout INTEGER,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        -- started_by is a username: history outlives the account that ran it.
        CREATE TABLE task_history(
            id TEXT PRIMARY KEY,
            script TEXT NOT NULL,
            started_by TEXT NOT NULL,
            started_by_id INTEGER,  -- NULL for imported rows; 0 is the env admin
            trigger TEXT NOT NULL CHECK (trigger IN ('ws', 'quick_action', 'rerun')),
            quick_action_id TEXT,
            started_at REAL NOT NULL,
            finished_at REAL,
            status TEXT NOT NULL CHECK (status IN
                ('running', 'success', 'failed', 'cancelled', 'timed_out', 'interrupted')),
            exit_code INTEGER,
            output TEXT NOT NULL DEFAULT '',
            output_truncated INTEGER NOT NULL DEFAULT 0,
            output_bytes INTEGER NOT NULL DEFAULT 0,
            peak_rss INTEGER,
            cpu_seconds REAL
        );
        CREATE INDEX task_history_started ON task_history(started_at);
        CREATE INDEX task_history_user ON task_history(started_by_id, started_at);
        CREATE INDEX task_history_status ON task_history(status);
    """),
    (4, "plugins", """
        CREATE TABLE plugin_kv(
            plugin_id TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (plugin_id, key)
        );
        -- Column names follow the original Toru's table (DESIGN §6a).
        CREATE TABLE plugin_events(
            id INTEGER PRIMARY KEY,
            plugin_id TEXT NOT NULL,
            event_type TEXT NOT NULL,
            timestamp REAL NOT NULL,
            details TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX plugin_events_plugin ON plugin_events(plugin_id, timestamp);
        CREATE INDEX plugin_events_time ON plugin_events(timestamp);
    """),
    # A signal that ended a task is named, not stored as a negative exit
    # code: exit_code -15 becomes exit_code NULL, exit_signal 'SIGTERM'
    # (Linux numbers; others read 'signal N' as processes.describe_exit says).
    (5, "task_exit_signal", """
        ALTER TABLE task_history ADD COLUMN exit_signal TEXT;
        UPDATE task_history SET exit_signal = CASE -exit_code
                WHEN 1 THEN 'SIGHUP' WHEN 2 THEN 'SIGINT' WHEN 3 THEN 'SIGQUIT' WHEN 4 THEN 'SIGILL'
                WHEN 5 THEN 'SIGTRAP' WHEN 6 THEN 'SIGABRT' WHEN 7 THEN 'SIGBUS' WHEN 8 THEN 'SIGFPE'
                WHEN 9 THEN 'SIGKILL' WHEN 10 THEN 'SIGUSR1' WHEN 11 THEN 'SIGSEGV' WHEN 12 THEN 'SIGUSR2'
                WHEN 13 THEN 'SIGPIPE' WHEN 14 THEN 'SIGALRM' WHEN 15 THEN 'SIGTERM' WHEN 16 THEN 'SIGSTKFLT'
                WHEN 17 THEN 'SIGCHLD' WHEN 18 THEN 'SIGCONT' WHEN 19 THEN 'SIGSTOP' WHEN 20 THEN 'SIGTSTP'
                WHEN 21 THEN 'SIGTTIN' WHEN 22 THEN 'SIGTTOU' WHEN 23 THEN 'SIGURG' WHEN 24 THEN 'SIGXCPU'
                WHEN 25 THEN 'SIGXFSZ' WHEN 26 THEN 'SIGVTALRM' WHEN 27 THEN 'SIGPROF' WHEN 28 THEN 'SIGWINCH'
                WHEN 29 THEN 'SIGIO' WHEN 30 THEN 'SIGPWR' WHEN 31 THEN 'SIGSYS'
                ELSE 'signal ' || -exit_code END,
            exit_code = NULL
            WHERE exit_code < 0;
    """),
    # Quick actions with inputs and grants (docs/tasks.md#arguments):
    # `arguments` is the JSON list of definitions, `confirm` the text asked
    # before a run. `restricted` 0 = every user may run it (what existing and
    # imported actions keep), 1 = only the users in quick_action_grants (none:
    # admins only); the foreign keys take a deleted user out of every grant.
    # A run keeps the values it got (passwords masked) in task_history.arguments.
    (6, "quick_action_arguments", """
        ALTER TABLE quick_actions ADD COLUMN arguments TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE quick_actions ADD COLUMN confirm TEXT;
        ALTER TABLE quick_actions ADD COLUMN restricted INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE quick_action_grants(
            quick_action_id TEXT NOT NULL REFERENCES quick_actions(id) ON DELETE CASCADE,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            PRIMARY KEY (quick_action_id, user_id)
        );
        CREATE INDEX quick_action_grants_user ON quick_action_grants(user_id);
        ALTER TABLE task_history ADD COLUMN arguments TEXT NOT NULL DEFAULT '{}';
    """),
    # Each plugin's JSON config object, edited by an admin and sent to the
    # plugin in `init` and in `lifecycle`/`config` (docs/plugins.md).
    (7, "plugin_config", """
        CREATE TABLE plugin_config(
            plugin_id TEXT PRIMARY KEY,
            config TEXT NOT NULL,
            updated_at REAL NOT NULL,
            updated_by TEXT NOT NULL
        );
    """),
    # Schedules run quick actions on cron times (docs/tasks.md#schedules).
    # `last_due` is the newest due time already handled (run, skipped or
    # given up on), so a restart never runs one due time twice. A deleted
    # action leaves its schedules without one; the scheduler then disables
    # them with a `disabled_reason`. task_history is rebuilt because SQLite
    # cannot widen a CHECK: runs gain the trigger `schedule`, the status
    # `skipped` with its `reason`, and the schedule's id (no foreign key:
    # history outlives the schedule).
    (8, "schedules", """
        CREATE TABLE schedules(
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            quick_action_id TEXT REFERENCES quick_actions(id) ON DELETE SET NULL,
            cron TEXT NOT NULL,
            timezone TEXT NOT NULL,
            arguments TEXT NOT NULL DEFAULT '{}',
            enabled INTEGER NOT NULL DEFAULT 1,
            overlap TEXT NOT NULL DEFAULT 'skip' CHECK (overlap IN ('skip', 'queue', 'allow')),
            catch_up TEXT NOT NULL DEFAULT 'skip' CHECK (catch_up IN ('skip', 'once')),
            disabled_reason TEXT,
            last_due REAL NOT NULL,
            created_by TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE TABLE task_history_new(
            id TEXT PRIMARY KEY,
            script TEXT NOT NULL,
            started_by TEXT NOT NULL,
            started_by_id INTEGER,
            trigger TEXT NOT NULL CHECK (trigger IN ('ws', 'quick_action', 'rerun', 'schedule')),
            quick_action_id TEXT,
            started_at REAL NOT NULL,
            finished_at REAL,
            status TEXT NOT NULL CHECK (status IN
                ('running', 'success', 'failed', 'cancelled', 'timed_out', 'interrupted', 'skipped')),
            exit_code INTEGER,
            output TEXT NOT NULL DEFAULT '',
            output_truncated INTEGER NOT NULL DEFAULT 0,
            output_bytes INTEGER NOT NULL DEFAULT 0,
            peak_rss INTEGER,
            cpu_seconds REAL,
            exit_signal TEXT,
            arguments TEXT NOT NULL DEFAULT '{}',
            schedule_id INTEGER,
            reason TEXT
        );
        INSERT INTO task_history_new(id, script, started_by, started_by_id, trigger, quick_action_id,
                started_at, finished_at, status, exit_code, output, output_truncated, output_bytes, peak_rss,
                cpu_seconds, exit_signal, arguments)
            SELECT id, script, started_by, started_by_id, trigger, quick_action_id, started_at, finished_at,
                status, exit_code, output, output_truncated, output_bytes, peak_rss, cpu_seconds, exit_signal,
                arguments FROM task_history;
        DROP TABLE task_history;
        ALTER TABLE task_history_new RENAME TO task_history;
        CREATE INDEX task_history_started ON task_history(started_at);
        CREATE INDEX task_history_user ON task_history(started_by_id, started_at);
        CREATE INDEX task_history_status ON task_history(status);
        CREATE INDEX task_history_schedule ON task_history(schedule_id, started_at);
    """),
    # API tokens (docs/security.md#api-tokens): only the SHA-256 of the
    # secret is kept, with its first characters (`prefix`) to recognise it in
    # lists. user_id is NULL for the environment admin, as in sessions; a
    # deleted user's tokens go with them.
    (9, "api_tokens", """
        CREATE TABLE api_tokens(
            id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: logs name tokens by id
            user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
            username TEXT NOT NULL,
            name TEXT NOT NULL,
            scopes TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            prefix TEXT NOT NULL,
            created_at REAL NOT NULL,
            expires_at REAL,
            last_used_at REAL,
            last_used_ip TEXT
        );
        CREATE INDEX api_tokens_user ON api_tokens(user_id);
    """),
    # Two-factor sign-in (docs/security.md#two-factor-sign-in). One row per
    # user, the env admin's with user_id NULL and its username, as in
    # sessions. `secret` is the active TOTP key (base32; a code cannot be
    # checked against a hash), `pending_secret` a setup not yet confirmed,
    # `last_step` the newest time step a code was accepted for (no replay).
    # Recovery codes are kept as SHA-256 and marked when used.
    (10, "two_factor", """
        CREATE TABLE two_factor(
            id INTEGER PRIMARY KEY,
            user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
            username TEXT NOT NULL,
            secret TEXT,
            pending_secret TEXT,
            last_step INTEGER NOT NULL DEFAULT 0,
            enabled_at REAL,
            updated_at REAL NOT NULL
        );
        CREATE UNIQUE INDEX two_factor_user ON two_factor(user_id) WHERE user_id IS NOT NULL;
        CREATE UNIQUE INDEX two_factor_env ON two_factor(username COLLATE NOCASE) WHERE user_id IS NULL;
        CREATE TABLE two_factor_recovery(
            two_factor_id INTEGER NOT NULL REFERENCES two_factor(id) ON DELETE CASCADE,
            code_hash TEXT NOT NULL,
            used_at REAL,
            PRIMARY KEY (two_factor_id, code_hash)
        );
    """),
    # Sessions you can see and end (docs/security.md#sessions): a public id
    # for the sessions list and for revoking, so the token's hash never
    # leaves the server; existing sessions get one here. `via` is 'proxy'
    # for a session opened from an identity proxy's header, else NULL.
    (11, "session_ids", """
        ALTER TABLE sessions ADD COLUMN id TEXT;
        ALTER TABLE sessions ADD COLUMN via TEXT;
        UPDATE sessions SET id = lower(hex(randomblob(8)));
        CREATE UNIQUE INDEX sessions_id ON sessions(id);
    """),
    # The audit trail (docs/security.md#audit-trail): append-only, each row
    # chained to the one before by `hash` = sha256(prev_hash + the row's
    # canonical JSON); AUTOINCREMENT so a deleted row's id is never reused.
    (12, "audit_log", """
        CREATE TABLE audit_log(
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            actor TEXT NOT NULL,
            ip TEXT,
            action TEXT NOT NULL,
            target TEXT,
            outcome TEXT NOT NULL,
            details TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        CREATE INDEX audit_log_at ON audit_log(at);
        CREATE INDEX audit_log_action ON audit_log(action);
        CREATE INDEX audit_log_actor ON audit_log(actor);
    """),
    # Alerts (docs/alerts.md): the operator's rules, and `alerts`, one row
    # per alert instance — a rule and a label set (`fingerprint`, the labels'
    # canonical JSON). Rows `pending`/`firing` are the live state (at most one
    # per rule and fingerprint), so a restart neither re-announces nor forgets
    # them; `resolved` and `event` rows (one-shot alerts: a failed task, a
    # lock-out) are the history, pruned by `alert_history_days`. No foreign
    # key to the rule: history outlives it, with the rule's name at the time.
    (13, "alerts", """
        CREATE TABLE alert_rules(
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            kind TEXT NOT NULL CHECK (kind IN ('metric', 'task_failed', 'plugin', 'security')),
            condition TEXT NOT NULL,
            severity TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
            channels TEXT NOT NULL DEFAULT '[]',
            repeat_minutes INTEGER NOT NULL DEFAULT 0,
            notify_resolved INTEGER NOT NULL DEFAULT 1,
            enabled INTEGER NOT NULL DEFAULT 1,
            created_by TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE TABLE alerts(
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            rule_id INTEGER NOT NULL,
            rule_name TEXT NOT NULL,
            kind TEXT NOT NULL,
            severity TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            labels TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'firing', 'resolved', 'event')),
            summary TEXT NOT NULL,
            value REAL,
            user_id INTEGER,
            started_at REAL NOT NULL,
            fired_at REAL,
            clearing_since REAL,
            resolved_at REAL,
            resolved_reason TEXT,
            last_notified_at REAL,
            notifications INTEGER NOT NULL DEFAULT 0,
            silenced_until REAL,
            updated_at REAL NOT NULL
        );
        CREATE UNIQUE INDEX alerts_active ON alerts(rule_id, fingerprint) WHERE status IN ('pending', 'firing');
        CREATE INDEX alerts_status ON alerts(status, started_at);
        CREATE INDEX alerts_rule ON alerts(rule_id, fingerprint, started_at);
    """),
    # Alert channels and their delivery attempts (docs/alerts.md#channels).
    # `config` is the type's JSON, secrets included: only the API hides them.
    # A delivery row is one attempt; `alert_id` is the engine's alert (no
    # foreign key: a test notification has none), rows go with their channel.
    (14, "alert_channels", """
        CREATE TABLE alert_channels(
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            type TEXT NOT NULL,
            config TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE TABLE alert_deliveries(
            id INTEGER PRIMARY KEY,
            channel_id INTEGER NOT NULL REFERENCES alert_channels(id) ON DELETE CASCADE,
            alert_id INTEGER,
            alert TEXT NOT NULL,
            status TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            ok INTEGER NOT NULL,
            status_code INTEGER,
            result TEXT NOT NULL,
            duration REAL NOT NULL,
            at REAL NOT NULL
        );
        CREATE INDEX alert_deliveries_channel ON alert_deliveries(channel_id, at);
        CREATE INDEX alert_deliveries_at ON alert_deliveries(at);
    """),
    # The metric a metric alert is about, so readers need not parse its
    # summary; rows written before it get it from there (the summary starts
    # with the metric's name).
    (15, "alert_metric", """
        ALTER TABLE alerts ADD COLUMN metric TEXT;
        UPDATE alerts SET metric = substr(summary, 1, instr(summary, ' ') - 1)
            WHERE kind = 'metric' AND instr(summary, ' ') > 1;
    """),
]
