"""The FunctionGraph code package: index.py at the ZIP's root, the jobstep package whole, and the runtime
dependencies for the template's Python, cut down to what the handler loads.

The dependencies to keep were traced: index.handler run in `python -I -S` over pip's full install,
recording the files of sys.modules. tests/test_package.py runs the packaged handler the same way and
checks that every jobstep and huaweicloudsdkcore module shipped is one it loads.
"""

import os
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Optional

# Where the jobstep package is: handler/ in a checkout, site-packages in an install. It ships whole.
CODE_ROOT = Path(__file__).resolve().parent.parent
# The ZIP's index.py, whose `index.handler` FunctionGraph calls: handler/index.py of a checkout, written here so that
# an install, which has no handler/, makes the same package (tests/test_package.py holds the two equal).
INDEX_SOURCE = '''"""FunctionGraph entry point (handler string: index.handler): the function is jobstep.entry."""

from jobstep.entry import handler  # noqa: F401
'''
DEFAULT_OUT = Path("dist/jobstep-fgs.zip")
# Whole packages: the HTTP stack, and pyasn1 that the SDK's signer imports. Their own lazy imports
# (idna's uts46data for a non-ASCII host, urllib3's optional backends) are paths one trace does not take.
PACKAGES = ("requests", "urllib3", "idna", "certifi", "charset_normalizer", "pyasn1")
# Of huaweicloudsdkcore only what signing loads. Its client, http, auth, region and xml modules are what
# import bson (pymongo), yaml, simplejson, requests_toolbelt, six and defusedxml; dnspython comes with pymongo.
# requests imports simplejson only if it is there, and uses the standard json module otherwise.
SDK_MODULES = frozenset({
    "__init__.py", "sdk_request.py", "exceptions/__init__.py", "exceptions/exceptions.py",
    "signer/__init__.py", "signer/algorithm.py", "signer/hkdf.py", "signer/signer.py", "signer/utils.py",
    "utils/__init__.py", "utils/six_utils.py",
})
# pip 24.1 and older installed urllib3 2.8 (Requires-Python >=3.10) for --python-version 3.9 when an index
# listed it without Requires-Python; the function then failed to import. pip 24.2 picks urllib3 2.6.3.
MIN_PIP = (24, 2)
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a ZIP can say: the same files give the same bytes
# Where FunctionGraph unpacks the code (RUNTIME_CODE_ROOT): the file names compiled into the bytecode.
FUNCTION_CODE_ROOT = "/opt/function/code"


class PackageError(Exception):
    """The package cannot be built; the message says what to do."""


@dataclass(frozen=True)
class Package:
    path: Path
    size: int
    files: int
    python: str
    left_out: tuple[str, ...]  # what pip installed at the top level that the package does not hold
    compiler: Optional[str]  # the interpreter that compiled the bytecode; None: the package has none


def runtime_python(runtime: str) -> str:
    """'3.9' from the function's runtime, Python3.9: the dependencies must be wheels for that Python."""
    match = re.fullmatch(r"Python(3\.\d+)", runtime)
    if not match:
        raise PackageError(f"the function's runtime {runtime!r} is not Python3.x")
    return match.group(1)


def function_python(version: str) -> Optional[str]:
    """An interpreter of the function's Python version on this machine (pyenv's, or on PATH), if any."""
    candidates = [*sorted(Path.home().glob(f".pyenv/versions/{version}.*/bin/python")), f"python{version}"]
    for candidate in candidates:
        try:
            probe = subprocess.run([str(candidate), "-I", "-S", "-c", "import sys; print(sys.version_info[:2])"],
                                   capture_output=True, text=True, timeout=30)
        except OSError:  # not installed; a pyenv shim without that version fails instead
            continue
        if probe.returncode == 0 and probe.stdout.strip() == str(tuple(int(n) for n in version.split("."))):
            return str(candidate)
    return None


def compiler_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """The compiler's environment: a fixed hash seed, and none of our PYTHON* settings.

    Python before 3.11 marshals a frozenset constant (`x in {"a", "b"}` compiles to one) in iteration
    order, which follows the per-process random string hash: the same source gave different .pyc bytes
    on every build (https://github.com/python/cpython/issues/81777, fixed in 3.11 by sorting). A fixed
    PYTHONHASHSEED fixes that order (https://docs.python.org/3.9/using/cmdline.html#envvar-PYTHONHASHSEED),
    but -I ignores every PYTHON* variable, that one too (same page, #cmdoption-I). So the isolation -I
    gave is rebuilt by hand: -s for the user site, no PYTHON* from here for -E, and an empty working
    directory for the sys.path entry -m adds.
    """
    clean = {name: value for name, value in environ.items() if not name.startswith("PYTHON")}
    return {**clean, "PYTHONHASHSEED": "0"}


def compile_bytecode(python: str, files: dict[str, Path], staging: Path) -> dict[str, Path]:
    """The .pyc of every module, compiled by the function's Python: without them a cold start compiles
    all the sources first (168 ms against 72 ms to import the handler, Python 3.9.18, median of 3).
    Unchecked-hash pycs stay valid whatever times the unpacked files get."""
    for name, path in files.items():
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        (staging / name).write_bytes(path.read_bytes())
    command = [python, "-s", "-m", "compileall", "-q", "-d", FUNCTION_CODE_ROOT,
               "--invalidation-mode", "unchecked-hash", str(staging)]
    with tempfile.TemporaryDirectory() as empty:  # the working directory -m puts first on sys.path
        if subprocess.run(command, env=compiler_environ(os.environ), cwd=empty).returncode != 0:
            raise PackageError(f"{python} could not compile the package (its messages are above)")
    return {path.relative_to(staging).as_posix(): path for path in staging.rglob("*.pyc")}


def check_pip() -> None:
    version = metadata.version("pip")
    if tuple(int(part) for part in re.findall(r"\d+", version)[:2]) < MIN_PIP:
        raise PackageError(f"pip {version} may pick wheels the function's Python cannot import; upgrade it: "
                           f"{sys.executable} -m pip install --upgrade pip")


def install(site: Path, python: str) -> None:
    # The project's own runtime dependencies, without its test extra.
    requirements = [spec for spec in metadata.requires("jobstep") or [] if "extra ==" not in spec]
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
               "--target", str(site), "--platform", "manylinux2014_x86_64", "--python-version", python,
               "--implementation", "cp", "--only-binary=:all:", *requirements]
    if subprocess.run(command).returncode != 0:
        raise PackageError("pip could not install the dependencies (its messages are above)")


def _shipped(relative: Path) -> bool:
    top, inside = relative.parts[0], relative.relative_to(relative.parts[0]).as_posix()
    if top.endswith(".dist-info"):
        # Licence and metadata of what ships; RECORD would list the files left out.
        return top.partition("-")[0] in (*PACKAGES, "huaweicloudsdkcore") and inside != "RECORD"
    return top in PACKAGES or (top == "huaweicloudsdkcore" and inside in SDK_MODULES)


def contents(site: Path, index: Path) -> dict[str, Path]:
    """ZIP name -> file: index.py, the jobstep package whole, and the dependencies the handler loads."""
    files = {"index.py": index}
    files.update({f"jobstep/{path.name}": path for path in sorted((CODE_ROOT / "jobstep").iterdir())
                  if path.suffix in (".py", ".json")})  # the modules, and the registry's data (services.json)
    for path in site.rglob("*"):
        relative = path.relative_to(site)
        if path.is_file() and "__pycache__" not in relative.parts and _shipped(relative):
            files[relative.as_posix()] = path
    return files


def write_zip(out: Path, files: dict[str, Path]) -> None:
    """Sorted names, one timestamp and one mode: rebuilding the same files gives the same bytes."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name].read_bytes(), compresslevel=9)


def build(out: Path = DEFAULT_OUT) -> Package:
    """The code package at `out`, from the installed or checked-out jobstep package and pip's install of its
    dependencies for the function's Python (template.yaml's Runtime, which deploy.RUNTIME holds too)."""
    from .deploy import RUNTIME  # deploy imports this module: read when building, not at import

    python = runtime_python(RUNTIME)
    check_pip()
    compiler = function_python(python)
    with tempfile.TemporaryDirectory() as scratch:
        site, staging, index = Path(scratch) / "site", Path(scratch) / "staging", Path(scratch) / "index.py"
        index.write_text(INDEX_SOURCE, encoding="utf-8")
        install(site, python)
        files = contents(site, index)
        if compiler:
            files.update(compile_bytecode(compiler, files, staging))
        write_zip(out, files)
        tops = {name.split("/")[0] for name in files}
        left_out = tuple(sorted(path.name for path in site.iterdir()
                                if path.name not in tops and not path.name.endswith(".dist-info")))
    return Package(out, out.stat().st_size, len(files), python, left_out, compiler)
