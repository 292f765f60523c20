"""The distribution: the wheel and the sdist build, and the wheel installs one top-level name.

The build runs on a copy of the source tree (pip builds in place and would leave `build/` and
`*.egg-info` behind), offline: no build isolation, the venv's own setuptools.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIP = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache",
    "veriframe-demo", ".whl", ".gl", ".cache", ".device-out",
)
NOT_SHIPPED = ("tools/", "bench/", "tests/", "service/", "safety/", "provenance/", "migrations/")


def _run(*command: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def _wheel(source: Path, out: Path) -> None:
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out),
         str(source))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("dist")
    source = work / "src"
    shutil.copytree(ROOT, source, ignore=SKIP)
    out = work / "out"
    _wheel(source, out)
    code = "import sys; from setuptools import build_meta; print(build_meta.build_sdist(sys.argv[1]))"
    sdist = out / _run(sys.executable, "-c", code, str(out), cwd=source).stdout.strip().splitlines()[-1]
    (wheel,) = out.glob("*.whl")
    return {"wheel": wheel, "sdist": sdist, "work": work}


def test_wheel_ships_only_the_veriframe_package(built: dict[str, Path]) -> None:
    names = zipfile.ZipFile(built["wheel"]).namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"veriframe"}, tops
    assert built["wheel"].name.startswith("veriframe_service-")
    for name in names:
        assert not name.startswith(NOT_SHIPPED), f"{name} must not be in the wheel"
    for module in ("veriframe/service/client/sync.py", "veriframe/safety/screen.py",
                   "veriframe/provenance/verify.py", "veriframe/migrations/env.py",
                   "veriframe/safety/default_policy.json", "veriframe/service/api/gen/common_pb2.py",
                   "veriframe/safety/models/common_word_names.txt", "veriframe/safety/lexicon.py"):
        assert module in names, f"{module} missing from the wheel"
    assert not any(name.startswith("veriframe/tools") for name in names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    scripts = zipfile.ZipFile(built["wheel"]).read(entry_points).decode()
    for script in ("veriframe =", "veriframe-admin =", "veriframe-verify ="):
        assert script in scripts


def test_wheel_installs_into_a_fresh_venv_with_one_top_level_name(built: dict[str, Path]) -> None:
    venv = built["work"] / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", str(venv))
    python = venv / "bin" / "python"
    _run(sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index",
         str(built["wheel"]))
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(_run(str(python), "-c", purelib).stdout.strip())
    installed = {p.name for p in site.iterdir() if not p.name.endswith(".dist-info")} - {"__pycache__"}
    # A --without-pip venv has an empty site-packages: everything there came from the wheel.
    assert installed == {"veriframe"}, installed
    # The installed copy is the one imported (not the source tree): run outside the repository.
    where = _run(str(python), "-I", "-c", "import veriframe.service.errors as m; print(m.__file__)",
                 cwd=built["work"]).stdout.strip()
    assert Path(where).is_relative_to(site), where


def test_sdist_carries_the_sources_and_the_mapping(built: dict[str, Path]) -> None:
    with tarfile.open(built["sdist"]) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for path in ("setup.py", "pyproject.toml", "README.md", "service/flow/workflow.py", "safety/policy.py",
                 "provenance/verify.py", "migrations/env.py", "veriframe/__init__.py",
                 "safety/default_policy.json"):
        assert path in names, f"{path} missing from the sdist"
    # The sdist builds a wheel of its own with the same single top-level name.
    unpacked = built["work"] / "sdist"
    with tarfile.open(built["sdist"]) as archive:
        archive.extractall(unpacked, filter="data")
    (source,) = unpacked.iterdir()
    out = built["work"] / "from-sdist"
    _wheel(source, out)
    (wheel,) = out.glob("*.whl")
    tops = {name.split("/", 1)[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"veriframe"}, tops


def test_editable_install_maps_the_source_folders() -> None:
    # The development venv is an editable install: veriframe.<root> must resolve to <root>/ here.
    for root in ("service", "safety", "provenance", "migrations"):
        spec = importlib.util.find_spec(f"veriframe.{root}")
        assert spec is not None and spec.origin is not None, root
        assert Path(spec.origin).resolve() == ROOT / root / "__init__.py", spec.origin
