"""A copy of this checkout in a temporary directory, as a fresh clone would have it, sharing the .venv.

Tests that run the project's own commands (`make run`, the README's steps) use it so that what those
commands write (instance/, SQLite files, generated credentials) never lands in the developer's tree.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def tracked_files(root: Path = ROOT) -> list[str]:
    """Files git tracks, plus untracked ones it does not ignore (a work in progress is copied whole)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                            check=True, capture_output=True).stdout
    return sorted({name for name in listed.decode().split("\0") if name and (root / name).is_file()})


def copy_checkout(dest: Path, root: Path = ROOT, share_venv: bool = True) -> Path:
    """Copy the checkout's files into `dest` (modification times kept, so make sees the .venv as up to date)."""
    for name in tracked_files(root):
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target)
    if share_venv and (root / ".venv").exists():
        os.symlink(root / ".venv", dest / ".venv")
    return dest


def checkout_env(instance: Path, **extra: str) -> dict:
    """This process's environment without the app's settings (nor TEST_DATABASE_URL: a suite run inside a
    copy must never drop the outer run's database), with instance/ at `instance`, plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SHOPIFY_", "SHOPAPP_", "REDIS_", "DATABASE_", "TEST_", "PYTEST_"))}
    env.update(SHOPAPP_INSTANCE_DIR=str(instance), **extra)
    return env


def run_in(checkout: Path, command: str, env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run a shell command in `checkout` (output captured as text)."""
    return subprocess.run(command, shell=True, cwd=checkout, env=env, capture_output=True, text=True,
                          timeout=timeout)
