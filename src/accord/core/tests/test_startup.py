"""Start-up rules: outside demo mode Accord needs a secret key of its own."""

import os
import subprocess
import sys


def _run(env_extra, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    env.update({"ACCORD_DATA_DIR": str(tmp_path), **env_extra})
    return subprocess.run(
        [sys.executable, "-m", "accord.cli", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_refuses_to_start_without_a_secret_key(tmp_path):
    result = _run({}, tmp_path)
    assert result.returncode != 0
    assert "ACCORD_SECRET_KEY is not set" in result.stderr


def test_demo_mode_makes_and_keeps_a_key_of_its_own(tmp_path):
    assert _run({"ACCORD_DEMO": "1"}, tmp_path).returncode == 0
    key = (tmp_path / "demo-secret-key").read_text()
    assert len(key) >= 50
    assert _run({"ACCORD_DEMO": "1"}, tmp_path).returncode == 0
    assert (tmp_path / "demo-secret-key").read_text() == key


def test_starts_with_a_secret_key(tmp_path):
    result = _run({"ACCORD_SECRET_KEY": "k" * 50}, tmp_path)
    assert result.returncode == 0, result.stderr
