"""`toru license generate|check` from the checkout and from the built pyz:
keys identical to the original generator's, reasons for invalid keys, and
the secret only ever read from the environment."""

import base64
import hashlib
import hmac
import os
from pathlib import Path

import pytest

from helpers import run_cli

SECRET = "cli-secret-7d1e0c"
INSTANCE = "5f2b1c9e-instance"


def original_key(instance_id, expiry, secret):
    sig = base64.b64encode(hmac.new(secret.encode(), f"{instance_id}:{expiry}".encode(), hashlib.sha256).digest())
    return base64.b64encode(f"{instance_id}:{expiry}:{sig.decode()}".encode()).decode()


@pytest.fixture(scope="module")
def shiv_root(tmp_path_factory):
    return tmp_path_factory.mktemp("shiv")  # unpacked once for the module


@pytest.fixture(params=["checkout", "pyz"])
def toru(request, tmp_path, shiv_root):
    """run(args, secret=SECRET) → CompletedProcess, via toru.py or toru.pyz."""
    pyz = None
    env = {}
    if request.param == "pyz":
        path = os.environ.get("TORU_PYZ")
        if not path:
            pytest.fail("TORU_PYZ is not set: run the suite with ./build.sh test, which builds dist/toru.pyz first")
        pyz = Path(path)
        env["SHIV_ROOT"] = str(shiv_root)
    outputs = []

    def run(args, secret=SECRET):
        full = dict(env, TORU_LICENSE_SECRET=secret) if secret is not None else dict(env)
        result = run_cli(["license"] + list(args), env=full, cwd=tmp_path, pyz=pyz, timeout=60)
        outputs.append(result.stdout + result.stderr)
        return result
    yield run
    assert not any(SECRET in out for out in outputs), "the secret was printed"


def one_line(result, code, text):
    assert result.returncode == code, result
    lines = (result.stderr if code == 2 else result.stdout).strip().splitlines()
    assert len(lines) == 1 and text in lines[0], result
    assert "Traceback" not in result.stderr


def test_generate_matches_the_original_generator(toru):
    made = toru(["generate", "--instance", INSTANCE, "--expiry", "2031-05-17"])
    assert made.returncode == 0 and made.stdout.strip() == original_key(INSTANCE, "2031-05-17", SECRET)
    assert made.stderr == ""
    for args in (["--instance-id", INSTANCE], ["--instance", INSTANCE, "--never"],
                 ["--instance", INSTANCE, "--expiry", "never"]):
        assert toru(["generate"] + args).stdout.strip() == original_key(INSTANCE, "never", SECRET)
    past = toru(["generate", "--instance", INSTANCE, "--expiry", "2001-01-01"])
    assert past.returncode == 0 and past.stdout.strip() == original_key(INSTANCE, "2001-01-01", SECRET)
    assert "already past" in past.stderr


def test_check_reports_valid_keys_and_why_others_are_not(toru):
    good = original_key(INSTANCE, "2999-12-31", SECRET)
    valid = toru(["check", good, "--instance", INSTANCE])
    one_line(valid, 0, "valid key for instance 5f2b1c9e-instance, valid through 2999-12-31")
    one_line(toru(["--validate", original_key(INSTANCE, "never", SECRET), "--instance-id", INSTANCE]), 0,
             "never expires")
    one_line(toru(["check", good, "--instance", "someone-else"]), 1, "invalid key (instance)")
    one_line(toru(["check", original_key(INSTANCE, "2001-01-01", SECRET), "--instance", INSTANCE]), 1,
             "invalid key (expired)")
    one_line(toru(["check", original_key(INSTANCE, "never", "other-secret"), "--instance", INSTANCE]), 1,
             "invalid key (signature)")
    one_line(toru(["check", "bm90IGEga2V5", "--instance", INSTANCE]), 1, "invalid key (format)")
    one_line(toru(["check", "A" * 5000, "--instance", INSTANCE]), 1, "invalid key (format)")


def test_the_original_spellings_generate_without_a_verb_and_validate_without_an_instance(toru):
    made = toru(["--instance-id", INSTANCE, "--expiry", "2031-05-17"])
    assert made.returncode == 0 and made.stdout.strip() == original_key(INSTANCE, "2031-05-17", SECRET)
    one_line(toru(["--validate", made.stdout.strip()]), 0,
             "valid key for instance 5f2b1c9e-instance, valid through 2031-05-17")
    one_line(toru(["check", original_key("other-box", "never", SECRET)]), 0, "valid key for instance other-box")
    one_line(toru(["--validate", original_key(INSTANCE, "never", "other-secret")]), 1, "invalid key (signature)")
    one_line(toru(["--validate", original_key(INSTANCE, "2001-01-01", SECRET)]), 1, "invalid key (expired)")
    one_line(toru(["--validate", "bm90IGEga2V5"]), 1, "invalid key (format)")


def test_help_works_without_a_secret(toru):
    helped = toru(["--help"], secret=None)
    assert helped.returncode == 0 and "generate" in helped.stdout and "TORU_LICENSE_SECRET" in helped.stdout


@pytest.mark.parametrize("args, text", [
    ([], "generate or check"),
    (["generate"], "--instance ID is required"),
    (["generate", "--instance", INSTANCE, "--expiry", "2030-02-30"], "YYYY-MM-DD"),
    (["generate", "--instance", "a:b"], "instance id"),
    (["generate", "--instance", INSTANCE, "--never", "--expiry", "2030-01-01"], "contradict"),
    (["generate", "KEY", "--instance", INSTANCE], "generate takes no KEY"),
    (["check", "--instance", INSTANCE], "check needs the KEY"),
    (["--expiry", "2030-01-01"], "--instance ID is required"),
    (["renew", "--instance", INSTANCE], "invalid choice"),
    (["generate", "--instance", INSTANCE, "--bogus"], "unrecognized arguments"),
])
def test_usage_errors_are_one_line_and_exit_2(toru, args, text):
    one_line(toru(args), 2, text)


def test_it_refuses_to_run_without_the_secret(toru):
    for args in (["generate", "--instance", INSTANCE], ["check", "QUJD", "--instance", INSTANCE]):
        for secret in (None, ""):
            result = toru(args, secret=secret)
            one_line(result, 2, "TORU_LICENSE_SECRET is not set")
            assert result.stdout == ""


def test_global_options_may_come_first():
    result = run_cli(["--data-dir", "/nonexistent-dir", "license", "generate", "--instance", INSTANCE],
                     env={"TORU_LICENSE_SECRET": SECRET})
    assert result.returncode == 0 and result.stdout.strip() == original_key(INSTANCE, "never", SECRET)
