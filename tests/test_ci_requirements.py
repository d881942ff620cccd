"""`mlops ci requirements`: the hash-pinned file CI installs from, so pip resolves no name.

The closure and the hashes are checked on three small wheels built here and served
to the real pip from a local folder (PIP_NO_INDEX, PIP_FIND_LINKS): the hashes
must be those of the wheel files.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from runner.ci import requirements
from runner.errors import CheckFailed

from conftest import run_cli

WHEELS = {
    ("demo_a", "1.0"): ["demo-b==2.0", 'demo-c; extra == "x"'],
    ("demo_b", "2.0"): [],
    ("demo_c", "1.5"): ['demo-b; python_version < "3"'],
}


def _wheel(folder: Path, name: str, version: str, requires: list[str]) -> Path:
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": "",
        f"{info}/METADATA": "Metadata-Version: 2.1\n"
        f"Name: {name.replace('_', '-')}\nVersion: {version}\n"
        + "".join(f"Requires-Dist: {r}\n" for r in requires)
        + ("Provides-Extra: x\n" if any("extra" in r for r in requires) else ""),
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel


@pytest.fixture
def wheelhouse(tmp_path: Path) -> tuple[Path, Path]:
    """(folder of wheels, a site folder where they are "installed": their dist-info)."""
    house, site = tmp_path / "wheels", tmp_path / "site"
    house.mkdir()
    site.mkdir()
    for (name, version), requires in WHEELS.items():
        with zipfile.ZipFile(_wheel(house, name, version, requires)) as zf:
            zf.extractall(site)
    return house, site


def test_closure_follows_requirements_extras_and_markers(wheelhouse: tuple[Path, Path]) -> None:
    _, site = wheelhouse
    assert requirements.closure("demo-a", [], [str(site)]) == {
        "demo-a": ("demo-a", "1.0"),
        "demo-b": ("demo-b", "2.0"),
    }
    with_x = requirements.closure("demo_a", ["x"], [str(site)])
    assert sorted(with_x) == ["demo-a", "demo-b", "demo-c"]


def test_hashes_are_those_of_the_archives_and_the_file_pins_everything(
    wheelhouse: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    house, site = wheelhouse
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(house))
    pins = requirements.closure("demo-a", ["x"], [str(site)])
    digests = requirements.hashes(pins.values(), tmp_path)
    for (name, version), _ in WHEELS.items():
        wheel = house / f"{name}-{version}-py3-none-any.whl"
        assert digests[name.replace("_", "-")] == hashlib.sha256(wheel.read_bytes()).hexdigest()
    text = requirements.render(pins, digests, ["x"])
    assert text.startswith(requirements.GENERATED)
    assert "demo-b==2.0 \\\n    --hash=sha256:" in text
    # pip itself accepts the file with --require-hashes --no-deps and resolves nothing.
    req = tmp_path / "ci.txt"
    req.write_text(text)
    target = tmp_path / "target"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--require-hashes",
            "--no-deps",
            "--target",
            str(target),
            "-r",
            str(req),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert (target / "demo_c").is_dir()


def test_a_missing_distribution_or_version_is_refused(
    wheelhouse: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    house, site = wheelhouse
    with pytest.raises(CheckFailed) as info:
        requirements.closure("demo-z", [], [str(site)])
    assert info.value.message == "demo-z is required but not installed here"
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(house))
    with pytest.raises(CheckFailed) as info:
        requirements.hashes([("demo-b", "9.9")], tmp_path)
    assert info.value.message.startswith(
        "pip cannot find every pinned distribution on the package index: "
    )


def test_the_verb_refuses_an_install_from_a_folder_and_other_install_kinds(
    example: Path,
) -> None:
    # This test environment runs mlops-runner from its source folder (editable).
    done = run_cli("ci", "requirements", cwd=example)
    assert done.returncode == 1
    first = done.stderr.splitlines()[0]
    assert first.startswith("error: mlops-runner is installed from the folder ")
    assert first.endswith(", not from a package index: there is no published hash to pin")
    assert not (example / "requirements").exists()
    mlops = example / "mlops.yaml"
    mlops.write_text(mlops.read_text().rstrip("\n") + '\n  install: "."\n')
    done = run_cli("ci", "requirements", cwd=example)
    assert (done.returncode, done.stderr.splitlines()[0]) == (
        2,
        "error: ci.install is the path '.': only a requirements file is written",
    )
