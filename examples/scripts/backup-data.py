#!/usr/bin/env python3
# Backup of Toru's data dir: a consistent copy of toru.db (SQLite online backup, safe while Toru runs) plus the other files, as one .tar.gz.
# toru: single-instance
#
# Copy into Toru's scripts directory and chmod +x. It finds the data dir in
# this order: the first argument, $TORU_DATA_DIR, the parent of the scripts
# directory (the default layout <data>/scripts), the current directory.
# Archives go to <data>/backups/toru-backup-<UTC time>.tar.gz; the newest
# $BACKUP_KEEP (default 7) are kept. Logs are left out unless BACKUP_LOGS=1;
# version-control folders and virtual environments always are.
# Restore: stop Toru, unpack the archive into an empty data dir, start Toru.
import os
import sqlite3
import sys
import tarfile
import tempfile
import time
from pathlib import Path

KEEP = int(os.environ.get("BACKUP_KEEP", "7"))
WITH_LOGS = os.environ.get("BACKUP_LOGS") == "1"
DB = "toru.db"
# Never archived: the live database files (the online copy replaces them),
# earlier backups, sockets, and shiv's unpacked libraries.
SKIP = {DB, f"{DB}-wal", f"{DB}-shm", f"{DB}-journal", "backups", "run", ".shiv"}
# Never archived at any depth: version control and virtual environments (a
# data dir that is also a checkout would otherwise pull in .git and venvs).
NOT_DATA = {".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__"}


def find_data_dir():
    candidates = sys.argv[1:2] + [os.environ.get("TORU_DATA_DIR")] + \
        [str(Path(__file__).resolve().parent.parent), os.getcwd()]
    for candidate in candidates:
        if candidate and (Path(candidate) / DB).is_file():
            return Path(candidate).resolve()
    sys.exit(f"no {DB} found in {', '.join(c for c in candidates if c)}: pass the data dir as the first argument")


def copy_database(source, target):
    """SQLite's online backup: a consistent snapshot even while Toru writes."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst, pages=256, sleep=0.05)   # in steps, so Toru's writers are not starved
        check = dst.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            sys.exit(f"the copy failed its integrity check: {check}")
    finally:
        src.close()
        dst.close()


def not_data(data, name):
    """Version control and virtual environments (`name` relative to `data`)."""
    parts = Path(name).parts
    return (any(part in NOT_DATA or part.startswith(".venv") for part in parts)
            or (data / name / "pyvenv.cfg").is_file())


def file_filter(data):
    """tarfile filter: regular files, directories and symlinks, minus what
    is not data."""
    def keep(info):
        if not_data(data, info.name):
            return None
        return info if info.isfile() or info.isdir() or info.issym() else None
    return keep


def main():
    data = find_data_dir()
    backups = data / "backups"
    backups.mkdir(mode=0o700, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    archive = backups / f"toru-backup-{stamp}.tar.gz"
    print(f"Backing up {data} to {archive}", flush=True)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(dir=backups) as work:
        snapshot = Path(work) / DB
        copy_database(data / DB, snapshot)
        print(f"  {DB}: {snapshot.stat().st_size // 1024} KiB copied and checked", flush=True)
        partial = archive.with_suffix(".partial")
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(snapshot, arcname=DB)
            keep = file_filter(data)
            for entry in sorted(data.iterdir()):
                if entry.name in SKIP or (entry.name == "logs" and not WITH_LOGS):
                    continue
                if not_data(data, entry.name):
                    continue
                tar.add(entry, arcname=entry.name, filter=keep)
                print(f"  {entry.name}{'/' if entry.is_dir() else ''}", flush=True)
        partial.chmod(0o600)   # it holds password hashes and sessions
        partial.rename(archive)
    old = sorted(backups.glob("toru-backup-*.tar.gz"))[:-KEEP] if KEEP > 0 else []
    for path in old:
        path.unlink()
        print(f"  removed old backup {path.name}")
    print(f"\033[32mdone\033[0m: {archive.stat().st_size // 1024} KiB in {time.monotonic() - began:.1f} s, "
          f"{len(list(backups.glob('toru-backup-*.tar.gz')))} backups kept", flush=True)


if __name__ == "__main__":
    main()
