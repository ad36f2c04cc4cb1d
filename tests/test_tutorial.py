"""README "Build your first feature", run step by step on a fresh clone, so the tutorial cannot rot.

The commands come from the README itself: every line of a ```sh block under a numbered step. Commands of
the project run as written; the Shopify CLI's (which need a Partner account and a tunnel) are replaced by
what they do on this machine, and a command this test does not know fails it.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
import requests

from shopapp.config import DEV_SHOP
from shopapp.embedded_redis import free_port
from shopapp.testing import build_session_token, wait_until
from tests.support.checkout import ROOT, checkout_env, run_in

pytestmark = [pytest.mark.slow, pytest.mark.nodb]

SECTION = "## Build your first feature"
CLI = {"SHOPIFY_API_KEY": "tutorial-client-id", "SHOPIFY_API_SECRET": "tutorial-client-secret-0123456789",
       "SCOPES": "read_products,read_orders,read_customers", "HOST": "https://tutorial.trycloudflare.com"}
# `-o .venv/.installed`: the clone shares this checkout's .venv, set up already (its files look newer).
MAKE = "make -o .venv/.installed"


def tutorial_steps(readme: str) -> list[tuple[int, list[str]]]:
    """(step number, commands) for each numbered step of the section, in order."""
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    steps, number, in_block = [], None, False
    for line in section.splitlines():
        step = re.match(r"^(\d+)\. ", line)
        if step and not in_block:
            number = int(step.group(1))
            steps.append((number, []))
        elif line.strip() == "```sh":
            in_block = True
        elif line.strip() == "```":
            in_block = False
        elif in_block and line.strip():
            steps[-1][1].append(line.split(" #", 1)[0].strip())
    return steps


class DevServer:
    """What `shopify app dev` runs: the dev command of shopify.web.toml with the CLI's five variables."""

    def __init__(self, clone: Path, env: dict, log: Path):
        self.port, self.log = free_port(), log
        self.env = dict(env, PORT=str(self.port), **CLI)
        with open(log, "ab") as out:
            self.process = subprocess.Popen(f"{MAKE} run".split(), cwd=clone, env=self.env, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(self.ready, timeout=120, what="make run ready", explain=lambda: log.read_text()[-2000:])

    def ready(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()[-3000:]
        try:
            return requests.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> None:
        """Ctrl+C, as in the terminal."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            self.process.wait(60)

    def jobs(self) -> list[dict]:
        token = build_session_token(CLI["SHOPIFY_API_KEY"], CLI["SHOPIFY_API_SECRET"], shop=DEV_SHOP)
        answer = requests.get(f"http://127.0.0.1:{self.port}/api/jobs", timeout=10,
                              headers={"Authorization": f"Bearer {token}"})
        return answer.json()["jobs"]


def deliver(server: DevServer, clone: Path, env: dict, topic: str) -> dict:
    """What `shopify app webhook trigger` does: a delivery signed with the app's client secret; its job."""
    trigger = f".venv/bin/python -m shopapp webhook trigger {topic} --address http://127.0.0.1:{server.port}/webhooks"
    signed = dict(env, SHOPIFY_API_SECRET=CLI["SHOPIFY_API_SECRET"])
    result = run_in(clone, f"{trigger} --webhook-id tutorial-1", signed)
    assert result.returncode == 0, result.stdout + result.stderr
    return wait_until(lambda: next((job for job in server.jobs() if job["webhook_id"] == "tutorial-1"
                                    and job["state"] == "succeeded"), None),
                      timeout=60, what="the delivery's job succeeded", explain=lambda: server.jobs())


def test_the_readme_tutorial_runs_on_a_fresh_clone(tmp_path):
    steps = tutorial_steps((ROOT / "README.md").read_text())
    assert [n for n, _ in steps] == list(range(1, len(steps) + 1)) and len(steps) >= 9
    env = checkout_env(tmp_path / "unused-instance")
    env.pop("SHOPAPP_INSTANCE_DIR")  # the clone keeps its own instance/, as a developer's does
    clone, server, ran = None, None, []

    def run(command: str) -> subprocess.CompletedProcess:
        result = run_in(clone, command, env, timeout=600)
        assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        ran.append(command)
        return result

    try:
        for number, commands in steps:
            for command in commands:
                if command.startswith("git clone "):
                    clone = tmp_path / command.split()[-1]
                    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
                    os.symlink(ROOT / ".venv", clone / ".venv")
                    ran.append(command)
                elif command.startswith("cd "):
                    assert clone is not None and clone.name == command.split()[1]
                elif command == "make test":  # the whole suite would run this test again: a part of it
                    run(f'{MAKE} test PYTEST_ARGS="-q -p no:cacheprovider tests/test_shopify_toml.py"')
                elif command == "shopify app config link":
                    pass  # writes client_id into shopify.app.toml from the Partner Dashboard: nothing to do here
                elif command == "shopify app dev":
                    if server is not None:
                        server.stop()
                    server = DevServer(clone, env, tmp_path / f"dev-{number}.log")
                elif command.startswith("shopify app webhook trigger "):
                    job = deliver(server, clone, env, re.search(r"--topic (\S+)", command).group(1))
                    assert job["message"] == "customers/update 1234567890 received"  # the new handler ran
                    ran.append(command)
                elif command == "shopify app deploy":
                    server.stop()
                    run(".venv/bin/python -m shopapp webhooks check")  # what the CLI's deploy would refuse
                elif command.startswith(".venv/bin/python -m "):
                    run(command)
                else:
                    pytest.fail(f"step {number}: this test does not know how to run {command!r}")
    finally:
        if server is not None:
            server.stop()
    assert "Traceback" not in "".join(log.read_text() for log in tmp_path.glob("dev-*.log"))
    assert ".venv/bin/python -m shopapp new webhook customers/update" in ran
    assert (clone / "shopapp/features/customers/customers_update.py").exists()
