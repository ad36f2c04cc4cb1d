"""`shopify app dev` starts: the dev command of shopify.web.toml runs with the Shopify CLI's variables alone."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import tomllib

import pytest
import requests

from shopapp.embedded_redis import free_port
from shopapp.testing import wait_until
from tests.support.checkout import ROOT, copy_checkout

pytestmark = [pytest.mark.slow, pytest.mark.nodb]

# ARCHITECTURE.md's contract: what the Shopify CLI sets, and nothing else.
CLI_VARIABLES = {"PORT", "HOST", "SHOPIFY_API_KEY", "SHOPIFY_API_SECRET", "SCOPES"}


def readme_cli_variables() -> set[str]:
    """The variables the README says the Shopify CLI sets for the dev command."""
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"runs `make run` with exactly these variables set:\s*(.*?)\.", readme, re.S)
    assert match, "README no longer says which variables the Shopify CLI sets"
    return set(re.findall(r"`([A-Z_]+)`", match.group(1)))


def test_readme_names_exactly_the_variables_the_shopify_cli_sets():
    assert readme_cli_variables() == CLI_VARIABLES


def test_dev_command_serves_with_the_cli_variables_alone(tmp_path):
    checkout = copy_checkout(tmp_path / "app")
    command = tomllib.loads((checkout / "shopify.web.toml").read_text())["commands"]["dev"]
    port = free_port()
    values = {"PORT": str(port), "HOST": "https://tunnel-abc.trycloudflare.com", "SHOPIFY_API_KEY": "cli-key",
              "SHOPIFY_API_SECRET": "cli-secret-0123456789", "SCOPES": "read_orders,read_products"}
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")}
    env.update({name: values[name] for name in readme_cli_variables()})
    # The CLI runs the command without a shell, in its own process group as a terminal would.
    proc = subprocess.Popen(command.split(), cwd=checkout, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        def ready() -> bool:
            assert proc.poll() is None, proc.stdout.read()
            try:
                return requests.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
            except requests.RequestException:
                return False
        wait_until(ready, timeout=120, what="/readyz 200 under the dev command")
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl+C in the terminal
        output, _ = proc.communicate(timeout=60)
    assert "configuration error" not in output
    assert sum("SHOPAPP_ENCRYPTION_KEY is not set" in line for line in output.splitlines()) == 1
    assert (checkout / "instance" / "dev-credentials.json").exists()
