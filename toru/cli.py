"""Command line: `python3 toru.pyz [options]` runs the server; flags and
subcommands cover the operator's other jobs. Every bad value ends in one
line on stderr and exit status 2, never a traceback.
"""

import argparse
import getpass
import os
import sys
from pathlib import Path

from toru import __version__, envfile
from toru.config import Config, Parser, command_prefix, prepare_dir, program_path
from toru.errors import ConfigError


def build_parser():
    parser = Parser(prog="toru", description="Toru Steering Center: a control panel for this server.")
    parser.add_argument("--host", help="address to listen on (env STEERING_HOST, default 127.0.0.1)")
    parser.add_argument("--port", help="port to listen on (env STEERING_PORT, default 3000)")
    parser.add_argument("--data-dir", help="where toru.db, plugins/, logs/ and scripts/ live "
                                           "(env TORU_DATA_DIR, default the current directory)")
    parser.add_argument("--log-dir", help="log directory (env TORU_LOG_DIR, default DATA_DIR/logs)")
    parser.add_argument("--log-level", help="trace, debug, info, warn or error (env TORU_LOG_LEVEL, default info)")
    parser.add_argument("--sample-interval", help="seconds between resource samples "
                                                 "(env TORU_SAMPLE_INTERVAL, default 2)")
    parser.add_argument("--version", action="version", version=f"toru {__version__}")
    parser.add_argument("--print-systemd-unit", action="store_true",
                        help="print a systemd unit that runs this file with these options, then exit")
    parser.add_argument("--metadata-check", nargs="?", const="", metavar="DIR|FILE",
                        help="check the plugin binaries in DIR (default DATA_DIR/plugins), or one binary, and exit")
    parser.add_argument("--json", action="store_true", help="machine-readable output for --metadata-check")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    licence = commands.add_parser("license", help="make and check plugin licence keys (see: license --help)",
                                  add_help=False)
    licence.add_argument("license_args", nargs=argparse.REMAINDER)
    checker = commands.add_parser("plugin-test", help="check a plugin binary against the protocol "
                                                      "(see: plugin-test --help)", add_help=False)
    checker.add_argument("plugin_test_args", nargs=argparse.REMAINDER)
    importer = commands.add_parser("import-steering-db",
                                   help="import the original Toru's steering.db into this data directory")
    importer.add_argument("path", metavar="PATH", help="the original's steering.db")
    importer.add_argument("--dry-run", action="store_true", help="show what would be imported; change nothing")
    importer.add_argument("--force-instance-id", action="store_true",
                          help="take the original's instance id even though this Toru has plugin data")
    importer.add_argument("--keep-retention", action="store_true",
                          help="keep this Toru's history retention even if it prunes imported history")
    importer.add_argument("--data-dir", default=argparse.SUPPRESS, help="the data directory (as for the server)")
    token = commands.add_parser("token", help="create, list and revoke API tokens (see: token --help)")
    token_commands = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    create = token_commands.add_parser("create", help="make a token and print its secret (shown only this once)")
    create.add_argument("--user", required=True, help="the user the token acts as")
    create.add_argument("--name", required=True, help="what the token is for, e.g. prometheus")
    create.add_argument("--scope", action="append", required=True, choices=["metrics", "read", "run", "admin"],
                        help="metrics, read, run or admin; repeat for several")
    create.add_argument("--expires", help="last day (2027-12-31) or date-time it works; default never")
    token_commands.add_parser("list", help="every token: id, name, user, scopes, last use (never the secret)")
    revoke = token_commands.add_parser("revoke", help="revoke a token at once")
    revoke.add_argument("id", type=int, metavar="ID")
    for sub in (token, create, revoke, token_commands.choices["list"]):
        sub.add_argument("--data-dir", default=argparse.SUPPRESS, help="the data directory (as for the server)")
    audit = commands.add_parser("audit", help="check the audit trail's hash chain (see: audit --help)")
    audit_commands = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    audit_commands.add_parser("verify", help="walk the chain; name the first altered or missing row (exit 1)")
    for sub in (audit, audit_commands.choices["verify"]):
        sub.add_argument("--data-dir", default=argparse.SUPPRESS, help="the data directory (as for the server)")
    reset_2fa = commands.add_parser("reset-two-factor",
                                    help="turn off a user's two-factor sign-in (a lost phone) and end their sessions")
    reset_2fa.add_argument("--user", required=True, help="the user, e.g. the environment admin's name")
    reset_2fa.add_argument("--data-dir", default=argparse.SUPPRESS, help="the data directory (as for the server)")
    reset = commands.add_parser("reset-admin-password",
                                help="generate a new password for the admin account and print it")
    # SUPPRESS keeps the subcommand from overwriting a --data-dir given before it.
    reset.add_argument("--data-dir", default=argparse.SUPPRESS, help="the data directory (as for the server)")
    return parser


# Subcommands that parse their own arguments get everything after their name
# verbatim: argparse's REMAINDER drops a leading option (`license --help`,
# `license --validate KEY`) and would reorder the rest.
PASS_THROUGH = {"license": "license_args", "plugin-test": "plugin_test_args"}
VALUE_OPTIONS = {"--host", "--port", "--data-dir", "--log-dir", "--log-level", "--sample-interval"}


def command_position(argv, command):
    for i, token in enumerate(argv):
        if token == command and (i == 0 or argv[i - 1] not in VALUE_OPTIONS):
            return i
    return len(argv)


def main(argv=None, environ=None):
    argv = sys.argv[1:] if argv is None else argv
    environ = os.environ if environ is None else environ
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command in PASS_THROUGH:
        position = command_position(argv, args.command)
        if any(token in extra for token in argv[:position]):
            parser.error("unrecognized arguments: " + " ".join(t for t in argv[:position] if t in extra))
        setattr(args, PASS_THROUGH[args.command], argv[position + 1:])
    elif extra:
        parser.error("unrecognized arguments: " + " ".join(extra))
    try:
        environ = envfile.load(vars(args), environ,
                               warn=lambda text: print(f"toru: warning: {text}", file=sys.stderr, flush=True))
        config = Config.load(vars(args), environ)
        if args.print_systemd_unit:
            print(systemd_unit(config), end="")
            return 0
        if args.command == "reset-admin-password":
            return reset_admin_password(config)
        if args.command == "reset-two-factor":
            return reset_two_factor(config, args.user)
        if args.command == "token":
            return token_command(config, args)
        if args.command == "audit":
            return audit_verify(config)
        if args.command == "import-steering-db":
            return import_steering_db(config, args.path, args.dry_run, args.force_instance_id, args.keep_retention)
        if args.metadata_check is not None:
            return metadata_check(args.metadata_check or config.data_dir / "plugins", args.json,
                                  config.timings.metadata_timeout)
        if args.command == "license":
            from toru.plugins import license_cli
            return license_cli.main(args.license_args, environ)
        if args.command == "plugin-test":
            from toru.plugins import conformance
            return conformance.main(args.plugin_test_args, config.timings)
        return run_server(config)
    except ConfigError as e:
        print(f"toru: {e}", file=sys.stderr)
        return 2


def run_server(config):
    # Imported here so --version and --help stay fast and gevent-free.
    from toru import logs
    from toru.web import server
    from toru.app import create_app

    from toru.steering_import import find_steering_db

    # The port first: a start that fails on a taken port creates no folder.
    listener = server.listen(config.host, config.port)
    prepare_dir(config.data_dir, "data directory")
    prepare_dir(config.log_dir, "log directory")
    logs.setup(config)
    first_start = not config.db_path.exists()
    app = create_app(config)
    original = find_steering_db(config.data_dir, os.getcwd()) if first_start else None
    if original:
        print(f"Found the original Toru's database {original}: to bring its users, quick actions, history and "
              f"instance id over, stop Toru and run: {command_prefix()} import-steering-db {original} "
              f"--data-dir {config.data_dir} --dry-run", flush=True)
    return server.serve(app, listener)


def reset_admin_password(config):
    from toru.accounts.users import Accounts
    from toru.accounts.sessions import Sessions
    from toru.store import Store

    if not config.db_path.exists():
        raise ConfigError(f"no Toru database in {config.data_dir}; start Toru there first (or pass --data-dir)")
    store = Store(config.db_path)
    try:
        accounts = Accounts(store, config)
        password = accounts.reset_generated_admin_password()
        Sessions(store).delete_for_user(accounts.env_admin())
    finally:
        store.close()
    print(f"New password for '{config.admin_username}': {password}")
    print("Existing admin sessions were signed out.")
    if config.admin_password:
        print("Note: ADMIN_PASSWORD is set in this environment and wins over this password while it is set.")
    return 0


def reset_two_factor(config, username):
    """For the admin who lost the phone and the recovery codes, with no other
    admin to reset it in the UI: shell access to the server is the proof."""
    from toru.accounts.sessions import Sessions
    from toru.accounts.two_factor import TwoFactor
    from toru.accounts.users import Accounts
    from toru.store import Store

    if not config.db_path.exists():
        raise ConfigError(f"no Toru database in {config.data_dir}; start Toru there first (or pass --data-dir)")
    store = Store(config.db_path)
    try:
        accounts = Accounts(store, config)
        user = accounts.active_user(username)
        if user is None:
            raise ConfigError(f"no active user {username!r} (reset-two-factor --user NAME)")
        was_on = TwoFactor(store).disable(user)
        Sessions(store).delete_for_user(user)
    finally:
        store.close()
    if not was_on:
        print(f"{username} had no two-factor sign-in; their sessions were signed out anyway.")
        return 0
    print(f"Two-factor sign-in of {username} is off and their sessions were signed out: "
          "they sign in with the password and can set it up again.")
    return 0


def token_command(config, args):
    """`token create|list|revoke`: API tokens without a browser, e.g. while
    provisioning a fleet (docs/fleet.md). Works while the server runs."""
    from datetime import datetime, timezone
    from toru.accounts.tokens import Tokens
    from toru.accounts.users import Accounts
    from toru.errors import Invalid, NotFound
    from toru.store import Store

    if not config.db_path.exists():
        raise ConfigError(f"no Toru database in {config.data_dir}; start Toru there first (or pass --data-dir)")
    store = Store(config.db_path)

    def when(ts):
        return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if ts else "-"
    try:
        accounts = Accounts(store, config)
        tokens = Tokens(store, accounts)
        if args.token_command == "create":
            owner = accounts.active_user(args.user)
            if owner is None:
                raise ConfigError(f"no active user {args.user!r} (token create --user NAME)")
            try:
                secret, token = tokens.create(owner, {"name": args.name, "scopes": args.scope,
                                                      "expires_at": args.expires})
            except Invalid as e:
                raise ConfigError("; ".join(f"{k}: {v}" for k, v in e.extra.get("fields", {}).items())
                                  or e.message) from None
            print(secret)
            print(f"Token {token['id']} {token['name']!r} ({' '.join(token['scopes'])}) for {owner['username']}, "
                  f"expires {when(token['expires_at'])}: keep the secret above, it is not shown again.",
                  file=sys.stderr)
        elif args.token_command == "list":
            print(f"{'ID':>4}  {'NAME':<20} {'USER':<16} {'SCOPES':<20} {'PREFIX':<9} {'EXPIRES':<21} LAST USED")
            for t in tokens.list():
                print(f"{t['id']:>4}  {t['name'][:20]:<20} {t['username'][:16]:<16} {' '.join(t['scopes']):<20} "
                      f"{t['prefix']:<9} {when(t['expires_at']):<21} {when(t['last_used_at'])} "
                      f"{t['last_used_ip'] or ''}".rstrip())
        else:
            try:
                token = tokens.revoke(args.id)
            except NotFound:
                raise ConfigError(f"no token with id {args.id} (token list shows them)") from None
            print(f"Revoked token {token['id']} {token['name']!r} of {token['username']}.")
    finally:
        store.close()
    return 0


def audit_verify(config):
    """`audit verify`: the chain from the oldest kept row (or the last
    checkpoint) to the newest. Read-only; works while the server runs."""
    import sqlite3
    from toru.accounts.audit import verify
    from toru.store import Store

    if not config.db_path.exists():
        raise ConfigError(f"no Toru database in {config.data_dir}; start Toru there first (or pass --data-dir)")
    Store(config.db_path).close()  # migrations: an older database gets the audit_log table
    conn = sqlite3.connect(f"file:{config.db_path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        ok, rows, message = verify(conn)
    finally:
        conn.close()
    if ok:
        print(f"OK: {message}")
        return 0
    print(f"FAILED after {rows} good row{'s' if rows != 1 else ''}: {message}")
    return 1


def import_steering_db(config, path, dry_run, force_instance_id, keep_retention=False):
    """Import into this data dir's toru.db in one transaction. A dry run works
    on a copy, so not even a migration touches the real database."""
    import sqlite3
    import tempfile
    from toru.steering_import import Importer
    from toru.store import Store

    prepare_dir(config.data_dir, "data directory")
    with tempfile.TemporaryDirectory() as scratch:
        target = config.db_path
        if dry_run:
            target = Path(scratch) / "toru.db"
            if config.db_path.exists():
                live, copy = sqlite3.connect(f"file:{config.db_path}?mode=ro", uri=True), sqlite3.connect(target)
                try:
                    live.backup(copy)
                finally:
                    live.close()
                    copy.close()
        store = Store(target)
        try:
            report = Importer(store, config, path, force_instance_id, keep_retention=keep_retention).run(dry_run=dry_run)
        finally:
            store.close()
    for line in report.lines():
        print(line)
    print(f"instance id: {report.instance_id}")
    if dry_run:
        print("dry run: nothing was changed; run again without --dry-run to import")
    else:
        print(f"imported into {config.db_path}; start Toru and sign in (sessions are not carried over)")
    return 0


def metadata_check(plugins_dir, as_json=False, timeout=None):
    """Check every `*.binary` in `plugins_dir` (or the one file it names) as
    the server would, print one line per file (or JSON) and return 0 only if
    all are valid."""
    import json
    import logging
    from toru.plugins import discovery

    plugins_dir = Path(plugins_dir).expanduser()
    if not plugins_dir.exists():
        raise ConfigError(f"{plugins_dir} does not exist (give a plugin directory or one plugin binary)")
    # Findings are printed below; the log would only repeat them on stderr.
    logging.getLogger("toru").addHandler(logging.NullHandler())
    check = discovery.scan if plugins_dir.is_dir() else discovery.scan_file  # a directory, or one binary
    try:
        found = check(plugins_dir, timeout or discovery.METADATA_TIMEOUT)
    except OSError as e:
        raise ConfigError(f"cannot read plugin directory {plugins_dir}: {e.strerror}") from None
    all_valid = all(item.valid for item in found)
    if as_json:
        print(json.dumps({"plugins": [metadata_check_entry(item) for item in found], "valid": all_valid},
                         indent=2, ensure_ascii=False))
        return 0 if all_valid else 1
    if not found:
        print(f"no *.binary files in {plugins_dir}: nothing to check")
        return 0
    for item in found:
        if item.valid:
            meta = item.metadata
            print(f"ok {meta['id']} {meta['version']} {meta['route']}")
        else:
            print(f"FAIL {item.file}: {item.reason}")
    failed = sum(1 for item in found if not item.valid)
    print(f"{len(found)} plugin{'s' if len(found) != 1 else ''} checked: "
          f"{len(found) - failed} ok, {failed} failed")
    return 0 if all_valid else 1


def metadata_check_entry(item):
    meta = item.metadata or {}
    return {"file": item.file, "valid": item.valid, "id": item.id, "version": meta.get("version"),
            "route": meta.get("route"), "reason": item.reason}


SYSTEM_PYTHON = "/usr/bin/python3"


def service_python(program):
    """(interpreter for the unit, why not this one or None). A Python under
    a home directory or pyenv, or a venv's, may not be readable by the
    service's user or may vanish with that user's set-up: a pyz, which
    carries its libraries, runs on the system's instead. toru.py needs the
    Python that has them, so it keeps this one."""
    exe = sys.executable
    if program.suffix != ".pyz":
        return exe, None
    home = os.path.expanduser("~")
    private = (sys.prefix != sys.base_prefix or "pyenv" in exe or exe.startswith(("/home/", "/root/"))
               or (home not in ("", "/") and exe.startswith(home + os.sep)))
    if private and os.path.exists(SYSTEM_PYTHON):
        return SYSTEM_PYTHON, f"{exe} (this shell's Python) lives in a home directory, pyenv or a venv"
    return exe, None


def systemd_unit(config):
    program = program_path()
    python, why = service_python(program)
    data_dir = Path(config.data_dir)
    lines = [
        "[Unit]",
        "Description=Toru Steering Center",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f"User={getpass.getuser()}",
    ]
    if data_dir.parent == Path("/var/lib"):
        # systemd creates /var/lib/<name> owned by User= before the start.
        lines.append(f"StateDirectory={data_dir.name}")
    lines.append(f"WorkingDirectory={data_dir}")
    if program.suffix == ".pyz":
        # shiv unpacks the pyz's libraries once; keep them with the data, not in $HOME.
        lines.append(f"Environment=SHIV_ROOT={data_dir}/.shiv")
    if why:
        lines.append(f"# {why}: the service uses {python}.")
    lines += [
        f"ExecStart={python} {program} --data-dir {data_dir} --host {config.host} --port {config.port}",
        "Restart=on-failure",
        "RestartSec=2",
        # SIGTERM to Toru alone: it stops its plugins and tasks itself.
        "KillMode=mixed",
        "TimeoutStopSec=30",
        "NoNewPrivileges=true",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ]
    return "\n".join(lines)
