"""./build.sh keeps a pyz that is up to date: a second build of an unchanged
checkout leaves the file alone (./build.sh run starts at once, and offline),
an edit to anything the pyz is made of builds it again and says what
changed, and `--check` tells which without building. Run in a copy of the
checkout, so the edits never touch the real one."""

import os
import shutil
import subprocess
import zipfile

import pytest

from helpers import ROOT

pytestmark = pytest.mark.slow  # two real builds

OUT = "out/t.pyz"


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    copy = tmp_path_factory.mktemp("build") / "checkout"
    local = {".git", ".venv-build", ".venv-test", ".build", "dist", "data", "plugins", ".pytest_cache"}

    def ignore(directory, names):  # this checkout's own state, and bytecode anywhere
        return {n for n in names if (directory == str(ROOT) and n in local) or n == "__pycache__"
                or n.endswith(".pyc")}
    shutil.copytree(ROOT, copy, symlinks=True, ignore=ignore)
    # The build venv only holds the build tools: share the checkout's.
    venv = ROOT / ".venv-build"
    assert (venv / "bin" / "python").exists(), "the suite's own build makes .venv-build first (./build.sh test)"
    (copy / ".venv-build").symlink_to(venv)
    return copy


def build_sh(checkout, *args):
    return subprocess.run(["bash", "build.sh", *args], cwd=checkout, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHON=os.environ.get("PYTHON", "python3")))


def edited(path, text):
    """Append `text` to `path` for the body of a with block, then put it back."""
    class Edit:
        def __enter__(self):
            self.before = path.read_bytes()
            path.write_bytes(self.before + text.encode())

        def __exit__(self, *exc):
            path.write_bytes(self.before)
    return Edit()


def up_to_date(checkout):
    """A pyz built from the checkout as it is now (a test run alone builds it)."""
    if build_sh(checkout, "--check", "--output", OUT).returncode != 0:
        assert build_sh(checkout, "--output", OUT).returncode == 0
    return checkout / OUT


def test_an_unchanged_checkout_keeps_its_pyz(checkout):
    first = build_sh(checkout, "--output", OUT)
    assert first.returncode == 0, first.stderr
    assert f"building {OUT}: {OUT} does not exist yet" in first.stderr and "writing" in first.stderr
    before = (checkout / OUT).stat()
    again = build_sh(checkout, "--output", OUT)
    assert again.returncode == 0, again.stderr
    assert f"{OUT} is up to date" in again.stderr and "fetching wheels" not in again.stderr
    after = (checkout / OUT).stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


@pytest.mark.parametrize("path", ["toru/checks.py", "static/js/app.js", "sdk_py/toru_plugin/license.py",
                                  "requirements.txt", "pyz_main.py", "setup.cfg", "build.sh"])
def test_check_names_each_kind_of_input_that_changed(checkout, path):
    up_to_date(checkout)
    with edited(checkout / path, "\n# edited\n"):
        check = build_sh(checkout, "--check", "--output", OUT)
        assert check.returncode == 1 and f"{OUT} would be built: {path} changed" in check.stderr, check.stderr
    check = build_sh(checkout, "--check", "--output", OUT)
    assert check.returncode == 0 and f"{OUT} is up to date" in check.stderr, check.stderr


def test_docs_and_tests_are_not_part_of_the_pyz(checkout):
    up_to_date(checkout)
    with edited(checkout / "docs" / "architecture.md", "edited\n"), \
            edited(checkout / "tests" / "helpers.py", "# edited\n"):
        assert build_sh(checkout, "--check", "--output", OUT).returncode == 0


def test_a_pyz_changed_by_hand_is_not_taken_for_up_to_date(checkout):
    pyz = up_to_date(checkout)
    with edited(pyz, "tampered"):
        check = build_sh(checkout, "--check", "--output", OUT)
        assert check.returncode == 1 and f"{OUT} is not the file this checkout built" in check.stderr
    check = build_sh(checkout, "--check", "--output", "out/other.pyz")
    assert check.returncode == 1 and "out/other.pyz does not exist yet" in check.stderr


def test_an_edit_builds_it_again_and_says_what_changed(checkout):
    pyz = up_to_date(checkout)
    with edited(checkout / "static" / "index.html", "<!-- edited -->\n"):
        rebuilt = build_sh(checkout, "--output", OUT)
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert f"building {OUT}: static/index.html changed" in rebuilt.stderr
        with zipfile.ZipFile(pyz) as z:
            assert z.read("site-packages/toru/static/index.html").endswith(b"<!-- edited -->\n")
    # Put back, the checkout again differs from what the pyz was made of.
    assert "static/index.html changed" in build_sh(checkout, "--check", "--output", OUT).stderr
