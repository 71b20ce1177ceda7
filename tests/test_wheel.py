"""The distribution stands alone: a wheel built from the project, installed in a fresh virtual environment outside
any checkout, runs every command, and the code package it makes is the one a checkout makes.

Catches: a command that reads the checkout (template.yaml, handler/index.py, services.json) and so fails, or
makes another ZIP, once installed from the wheel (`jobstep package` said "template.yaml not found: build from a
checkout of jobstep"), and package data left out of the wheel.
"""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers import PROJECT
from jobstep_tools import cli, package

ROOT = Path(__file__).resolve().parent.parent
URN = f"urn:fss:ap-southeast-1:{PROJECT}:function:default:jobstep:latest"


def run(command: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    # Nothing of this checkout or its .venv on the way: the installed wheel alone.
    clean = {name: value for name, value in os.environ.items() if not name.startswith(("PYTHON", "VIRTUAL_ENV",
                                                                                        "JOBSTEP_", "HUAWEICLOUD"))}
    done = subprocess.run(command, cwd=cwd, env={**clean, **env}, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{command}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The `jobstep` command of a fresh venv where only the wheel (with its deploy extra) is installed, and a
    folder outside the checkout to run it in."""
    where = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(where / "dist"), str(ROOT)],
        where)
    (wheel,) = (where / "dist").glob("jobstep-*.whl")
    run([sys.executable, "-m", "venv", str(where / "venv")], where)
    pip = [str(where / "venv" / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run([*pip, "--upgrade", "pip>=24.2"], where)  # `jobstep package` asks for it, as the README's install does
    run([*pip, f"{wheel}[deploy]"], where)
    work = where / "work"
    work.mkdir()
    return str(where / "venv" / "bin" / "jobstep"), work


@pytest.mark.slow
def test_the_installed_commands_run_outside_any_checkout_and_make_the_checkouts_zip(installed, tmp_path, capsys):
    jobstep, work = installed

    run([jobstep, "package", "--out", "out/"], work)
    flow = run([jobstep, "flow", "--function-urn", URN], work)
    polled = run([jobstep, "poll", "4010b39b4fd3d5ff014fd943bac41619", "--simulate", "--job-seconds", "0"], work)
    planned = run([jobstep, "deploy", "--dry-run", "--region", "ap-southeast-1", "--project-id", PROJECT,
                   "--agency", "jobstep-reads-jobs", "--zip", f"out/{package.DEFAULT_OUT.name}"], work)

    with zipfile.ZipFile(work / "out" / package.DEFAULT_OUT.name) as wheels, \
            zipfile.ZipFile(package.build(tmp_path / "checkout.zip").path) as checkouts:
        differ = sorted({(info.filename, info.CRC) for info in wheels.infolist()}
                        ^ {(info.filename, info.CRC) for info in checkouts.infolist()})
    assert differ == []
    assert cli.flow(URN, 3600, sys.stdout) == 0
    assert json.loads(flow.stdout) == json.loads(capsys.readouterr().out)  # the checkout's flow, the same
    assert json.loads(polled.stdout)["status"] == "SUCCESS"
    assert planned.stdout.startswith("jobstep deploy --dry-run: sends nothing")
