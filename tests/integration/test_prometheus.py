"""A real Prometheus scrapes a real Toru: Debian's `prometheus` on a free
loopback port, a 1 s scrape interval and a metrics token made with the CLI,
as docs/fleet.md tells an operator to do. Skipped when Prometheus is not
installed, unless TORU_REQUIRE_PROMETHEUS=1 (.ci/run sets it): then it fails."""

import json
import os
import re
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from helpers import ROOT, free_port, run_cli, wait_for
from test_metrics import dashboard_queries

PROMETHEUS = shutil.which("prometheus")
CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  # As examples/fleet/prometheus.yml: one job per host, labelled back to job="toru".
  - job_name: toru-test-host
    authorization:
      credentials_file: {token_file}
    static_configs:
      - targets: ["127.0.0.1:{port}"]
        labels:
          job: toru
          instance: test-host
"""


@pytest.fixture
def prometheus_binary():
    if PROMETHEUS is None:
        message = "no prometheus on PATH (apt-get install prometheus)"
        if os.environ.get("TORU_REQUIRE_PROMETHEUS") == "1":
            pytest.fail(message + "; TORU_REQUIRE_PROMETHEUS=1 requires the Prometheus test to run")
        pytest.skip(message)
    return PROMETHEUS


def query(port, promql):
    """The result list, or None while Prometheus does not answer (a bad query answers 400: also None)."""
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    try:
        with urllib.request.urlopen(url, timeout=5) as res:
            return json.load(res)["data"]["result"]
    except OSError:
        return None


def grafana_to_promql(expr):
    """A dashboard expression as Grafana sends it: variables replaced
    (label_values() is Grafana's, so its inner selector is asked)."""
    for name, value in (("$__rate_interval", "4s"), ("$__range", "1m"), ("$instance", ".*")):
        expr = expr.replace(name, value)
    found = re.fullmatch(r"label_values\((.*),\s*\w+\)", expr)
    return found.group(1) if found else expr


@pytest.mark.slow
def test_prometheus_scrapes_toru_with_a_metrics_token(tmp_path, fresh_server, prometheus_binary):
    server = fresh_server(env={"TORU_SAMPLE_INTERVAL": "0.5"}).start()
    made = run_cli(["token", "create", "--user", "admin", "--scope", "metrics", "--name", "prometheus",
                    "--data-dir", str(server.data_dir)])
    assert made.returncode == 0, made.stderr
    token_file = tmp_path / "toru-token"
    token_file.write_text(made.stdout.strip() + "\n")
    token_file.chmod(0o600)
    config = tmp_path / "prometheus.yml"
    config.write_text(CONFIG.format(token_file=token_file, port=server.port))
    port = free_port()
    log = open(tmp_path / "prometheus.log", "wb")
    proc = subprocess.Popen([prometheus_binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        def value_of(promql):
            assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()[-3000:]
            result = query(port, promql)
            return result[0]["value"][1] if result else None
        wait_for(lambda: value_of('up{job="toru"}') == "1", timeout=30, interval=0.2,
                 message=f"up{{job=\"toru\"}} == 1; prometheus.log: {(tmp_path / 'prometheus.log').read_text()[-2000:]}")
        assert float(wait_for(lambda: value_of('node_load1{job="toru"}'), timeout=10)) >= 0
        build = wait_for(lambda: query(port, 'toru_build_info{job="toru"}'), timeout=10)
        health = server.client().get("/api/health").json
        assert build[0]["metric"]["version"] == health["version"] and build[0]["value"][1] == "1"
        assert build[0]["metric"]["instance"] == "test-host"
        # The fleet dashboard's queries are valid PromQL, and its CPU panel has data.
        for expr in dashboard_queries():
            assert query(port, grafana_to_promql(expr)) is not None, expr
        cpu = 'avg by (instance) (rate(node_cpu_seconds_total{job="toru",instance=~"$instance",mode="idle"}[$__rate_interval]))'
        wait_for(lambda: query(port, grafana_to_promql(cpu)), timeout=15, interval=0.5, message="a CPU rate")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


FLEET = ROOT / "examples" / "fleet"


def test_the_fleet_examples_prometheus_config_passes_promtool(tmp_path, prometheus_binary):
    """examples/fleet/prometheus.yml as promtool sees it, with its token files
    where it says (promtool checks that they exist)."""
    tokens = tmp_path / "toru-tokens"
    tokens.mkdir()
    text = (FLEET / "prometheus.yml").read_text()
    for host in re.findall(r"credentials_file: /etc/prometheus/toru-tokens/(\S+)", text):
        (tokens / host).write_text("toru_x\n")
    config = tmp_path / "prometheus.yml"
    config.write_text(text.replace("/etc/prometheus/toru-tokens/", f"{tokens}/"))
    check = subprocess.run([str(Path(prometheus_binary).with_name("promtool")), "check", "config", str(config)],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
    assert text.count("job: toru") == text.count("job_name: toru-") == 3


def test_the_fleet_playbook_is_yaml():
    """The playbook and its config parse (Debian's python3-yaml, where installed:
    the test venv has no YAML parser, and Ansible is not needed for this)."""
    python = shutil.which("python3", path="/usr/bin")
    if python is None or subprocess.run([python, "-c", "import yaml"], capture_output=True).returncode:
        pytest.skip("no /usr/bin/python3 with yaml (apt-get install python3-yaml)")
    code = ("import sys, yaml; plays = yaml.safe_load(open(sys.argv[1])); "
            "assert [p['hosts'] for p in plays] == ['toru', 'prometheus'], plays; "
            "assert yaml.safe_load(open(sys.argv[2]))['scrape_configs']")
    check = subprocess.run([python, "-c", code, str(FLEET / "site.yml"), str(FLEET / "prometheus.yml")],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
