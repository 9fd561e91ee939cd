"""The scripts directory: which names may run, how each is started, and the
admin's listing `GET /api/scripts`.

A script name is one plain file name inside `scripts_dir`; anything that
could reach another file (separators, `..`, a symlink pointing out) is
refused before a process exists. Scripts always run from an argument list —
no shell ever parses a name.
"""

import logging
import os
import stat
from pathlib import Path

from toru.errors import Invalid, NotFound

log = logging.getLogger("toru.scripts")

MAX_NAME = 255
HEADER_LINES = 20  # where the description and `# toru:` markers are looked for
SINGLE_INSTANCE_MARK = "# toru: single-instance"
SAMPLE_NAME = "hello.sh"
SAMPLE = """#!/bin/sh
# Says hello and shows what a task gets: edit or replace me.
echo "Hello from $(hostname) — task $TORU_TASK_ID started by $TORU_USER"
printf '\\033[32mgreen\\033[0m \\033[1;34mbold blue\\033[0m\\n'
for i in 1 2 3; do echo "step $i"; sleep 1; done
echo "done"
"""


class Scripts:
    def __init__(self, settings):
        self.settings = settings

    def directory(self):
        return Path(self.settings.get("scripts_dir"))

    def create_default_dir(self):
        """On start: make the default directory with a sample, once."""
        directory = self.directory()
        if directory.exists():
            return
        try:
            directory.mkdir(parents=True)
            sample = directory / SAMPLE_NAME
            sample.write_text(SAMPLE)
            sample.chmod(0o755)
            log.info("scripts directory created", extra={"path": str(directory)})
        except OSError as e:
            log.warning("cannot create the scripts directory", extra={"path": str(directory), "error": str(e)})

    def resolve(self, name):
        """The path of script `name`, or Invalid/NotFound saying why not."""
        check_name(name)
        directory = self.directory().resolve()
        path = directory / name
        try:
            real = path.resolve(strict=True)
        except FileNotFoundError:
            raise NotFound(f"No script named {name!r} in {directory}") from None
        except (OSError, RuntimeError) as e:  # symlink loop, permission
            raise Invalid(f"Script {name!r} cannot be opened: {e}") from None
        if real.parent != directory:
            raise Invalid(f"Script {name!r} resolves to {real}, outside the scripts directory; refused")
        if not real.is_file():
            raise Invalid(f"Script {name!r} is not a regular file")
        return real

    def command(self, name):
        """(argv, path) to run script `name`: an executable with a shebang is
        exec'd directly, anything else is handed to /bin/sh as a file."""
        path = self.resolve(name)
        if os.access(path, os.X_OK) and has_shebang(path):
            return [str(path)], path
        return ["/bin/sh", str(path)], path

    def is_single_instance(self, name):
        return script_header(self.resolve(name))[1]

    def list(self):
        directory = self.directory()
        if not directory.is_dir():
            raise NotFound(f"The scripts directory {directory} does not exist; create it or change it in Settings")
        scripts = []
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            try:
                check_name(entry.name)
                path = self.resolve(entry.name)
                info = path.stat()
            except (Invalid, NotFound, OSError):
                continue  # dotfiles, directories, links out: not scripts
            description, single = script_header(path)
            scripts.append({"name": entry.name, "size": info.st_size, "modified": info.st_mtime,
                            "executable": bool(info.st_mode & stat.S_IXUSR),
                            "description": description, "single_instance": single})
        return scripts


def check_name(name):
    if not isinstance(name, str) or not name:
        raise Invalid("A script name is required")
    if len(name) > MAX_NAME:
        raise Invalid(f"A script name is at most {MAX_NAME} characters")
    if "\0" in name or "/" in name or name in (".", ".."):
        raise Invalid(f"Invalid script name {name!r}: it must be a plain file name inside the scripts directory")
    if name.startswith("-"):
        raise Invalid(f"Invalid script name {name!r}: names starting with '-' are refused")
    if name.startswith("."):
        raise Invalid(f"Invalid script name {name!r}: hidden files are not scripts")


def has_shebang(path):
    try:
        with open(path, "rb") as f:
            return f.read(2) == b"#!"
    except OSError:
        return False


def script_header(path):
    """(description, single_instance) from the first lines of a script."""
    description, single = None, False
    try:
        with open(path, "rb") as f:
            head = f.read(8192).decode("utf-8", "replace").splitlines()[:HEADER_LINES]
    except OSError:
        return None, False
    for number, line in enumerate(head):
        stripped = line.strip()
        if number == 0 and stripped.startswith("#!"):
            continue
        if stripped.lower().replace("  ", " ") == SINGLE_INSTANCE_MARK:
            single = True
        elif description is None and stripped.startswith("#") and not stripped.startswith("# toru:"):
            text = stripped.lstrip("#").strip()
            if text:
                description = text[:200]
    return description, single


def register(app, services):
    scripts = services.scripts

    @app.get("/api/scripts", role="admin")
    def list_scripts():
        return {"scripts_dir": str(scripts.directory()), "scripts": scripts.list()}
