"""The Makefile's virtual environment: a .venv left by an unsupported Python is replaced, and an
unsupported $(PYTHON) stops the build with the command that fixes it.

Stand-in interpreters keep this fast: each runs this Python with `sys.version_info` set to the version
it stands for, so the Makefile's probe and tools/venv-check see that version and nothing is installed.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECK = ROOT / "tools" / "venv-check"


def fake_python(path: Path, version: tuple[int, int]) -> Path:
    """An executable at `path` that answers `-c CODE` as a Python of `version` would."""
    path.parent.mkdir(parents=True, exist_ok=True)
    prelude = f"import sys; sys.version_info = {(*version, 0)!r}; exec(sys.argv[1])"
    path.write_text(f'#!/bin/sh\nshift\nexec "{sys.executable}" -c "{prelude}" "$1"\n')
    path.chmod(0o755)
    return path


@pytest.fixture
def path_dir(tmp_path):
    """A PATH of its own, so the interpreter the message suggests is one this test puts there."""
    bin_dir = tmp_path / "path"
    bin_dir.mkdir()
    os.symlink(shutil.which("rm"), bin_dir / "rm")
    return bin_dir


def check(python: Path, venv: Path, path_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["/bin/sh", str(CHECK), str(python), str(venv)], capture_output=True, text=True,
                          env={"PATH": str(path_dir)}, timeout=60)


def test_the_stand_in_reports_its_version(tmp_path):
    # The fake interpreters must be believed, or the tests below prove nothing. Catches: a stand-in whose
    # version probe answers the real Python's version.
    probe = "import sys; print('%d.%d' % sys.version_info[:2], sys.version_info >= (3, 9))"
    answer = subprocess.run([fake_python(tmp_path / "python", (3, 8)), "-c", probe], capture_output=True, text=True)
    assert answer.stdout.split() == ["3.8", "False"]


def test_an_old_python_stops_with_the_command_that_fixes_it(tmp_path, path_dir):
    # Catches: venv-check letting an old PYTHON make the venv, or naming an interpreter this PATH lacks.
    old = fake_python(tmp_path / "python3.8", (3, 8))
    fake_python(path_dir / "python3.12", (3, 12))
    fake_python(path_dir / "python3.10", (3, 10))
    result = check(old, tmp_path / ".venv", path_dir)
    assert result.returncode == 2 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert f"{old} is Python 3.8" in line and "3.9 or newer" in line
    assert line.endswith("make PYTHON=python3.12")  # the newest one this PATH has


def test_without_a_supported_python_on_path_the_message_still_says_what_to_run(tmp_path, path_dir):
    # Catches: a traceback or an empty suggestion when PYTHON does not run and no python3.X is on PATH.
    result = check(tmp_path / "nowhere" / "python3", tmp_path / ".venv", path_dir)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert "does not run" in line and line.endswith("make PYTHON=python3.X")


@pytest.mark.parametrize("made_by", [(3, 8), (2, 7), None])
def test_a_venv_of_an_unsupported_or_missing_python_is_replaced(tmp_path, path_dir, made_by):
    # Catches: an old or broken .venv kept (every later make trips over it), or removed without a word.
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / ".installed").touch()
    if made_by:
        fake_python(venv / "bin" / "python", made_by)
    result = check(fake_python(tmp_path / "python3", (3, 11)), venv, path_dir)
    assert result.returncode == 0 and not venv.exists()
    (line,) = result.stderr.splitlines()
    expected = ".".join(map(str, made_by)) if made_by else "missing or does not run"
    assert line.startswith(f"replacing {venv}: its Python is {expected}")


def test_a_supported_venv_is_kept_whatever_python_would_make_a_new_one(tmp_path, path_dir):
    # Catches: a good .venv thrown away (a 300 MB reinstall) because PYTHON is missing or old.
    venv = tmp_path / ".venv"
    fake_python(venv / "bin" / "python", (3, 9))
    result = check(tmp_path / "nowhere" / "python3", venv, path_dir)
    assert (result.returncode, result.stderr) == (0, "") and (venv / "bin" / "python").exists()


@pytest.fixture
def checkout(tmp_path):
    """The Makefile with what its venv rules read, and a .venv whose stamps are all up to date."""
    root = tmp_path / "checkout"
    (root / "tools").mkdir(parents=True)
    for name in ("Makefile", "pyproject.toml", "tools/venv-check"):
        shutil.copy2(ROOT / name, root / name)
    for stamp in (".installed", ".test-installed", ".bench-installed"):
        (root / ".venv" / stamp).parent.mkdir(parents=True, exist_ok=True)
        (root / ".venv" / stamp).touch()
    return root


def dry_run(root: Path, target: str) -> list[str]:
    # A make of its own, not a sub-make of the `make test` that may be running this suite: that one's MAKEFLAGS
    # and MAKELEVEL would add "Entering directory" lines (-w) and its own options.
    environ = {name: value for name, value in os.environ.items() if name not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    result = subprocess.run(["make", "--no-print-directory", "-n", target, f"PYTHON={root / 'python3'}"], cwd=root,
                            capture_output=True, text=True, timeout=60, env=environ)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_make_keeps_a_supported_venv_whose_stamps_are_up_to_date(checkout):
    # Catches: the FORCE prerequisite applied to a good venv (a reinstall on every make).
    fake_python(checkout / ".venv" / "bin" / "python", (3, 11))
    assert dry_run(checkout, "demo") == [".venv/bin/jobstep demo"]


def test_make_sets_up_a_venv_of_an_old_python_again_though_its_stamps_are_newer(checkout):
    # Catches: the Makefile trusting newer stamps over a venv whose Python is too old.
    fake_python(checkout / ".venv" / "bin" / "python", (3, 8))
    commands = dry_run(checkout, "demo")
    assert any("tools/venv-check" in command for command in commands)
    assert any(command.endswith("install --quiet --disable-pip-version-check -e .") for command in commands)
    assert commands[-1] == ".venv/bin/jobstep demo"


def test_make_demo_installs_the_project_alone_and_make_test_its_test_extra(checkout):
    # Catches: make demo installing the test extra again (98 MB of SDKs the demo never imports).
    (checkout / ".venv" / ".installed").unlink()
    fake_python(checkout / ".venv" / "bin" / "python", (3, 11))
    demo, test = dry_run(checkout, "demo"), dry_run(checkout, "test")
    assert not [command for command in demo if "[test" in command or "[bench" in command]
    assert [command for command in test if command.endswith("-e '.[test]'")]


def test_make_mutate_installs_the_dev_extra_that_make_test_never_needs(checkout):
    # CI runs make test on a fresh clone: mutmut (the dev extra) is for make mutate alone. Catches: the dev extra
    # folded into the test extra or installed by make test, or make mutate run without it.
    fake_python(checkout / ".venv" / "bin" / "python", (3, 11))
    test, mutate = dry_run(checkout, "test"), dry_run(checkout, "mutate")
    assert not [command for command in test if "dev]" in command]
    assert [command for command in mutate if command.endswith("-e '.[test,dev]'")]
    assert mutate[-1].split() == [".venv/bin/python", "tools/mutate.py"]
