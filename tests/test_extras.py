"""The install extras: the core has no SDK, and a driver whose SDK is missing stops with the
`pip install 'portside[...]'` line (exit 2). A missing SDK is made real in a subprocess: a
meta path finder refuses to import it, as in a core-only install."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from drivers.registries.table import SPECS

ROOT = Path(__file__).resolve().parent.parent
SDKS = ("boto3", "botocore", "azure", "github", "gitlab")

# Runs portside with the named top-level modules unimportable.
_WITHOUT = """
import sys
from importlib.abc import MetaPathFinder

class Missing(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

BLOCKED = set(sys.argv[1].split(","))
for name in list(sys.modules):
    if name.split(".")[0] in BLOCKED:
        del sys.modules[name]
sys.meta_path.insert(0, Missing())
sys.argv = ["portside", *sys.argv[2:]]
from ci_env.cli import main
main()
"""


def _portside_without(modules: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT, modules, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "PORTSIDE_CERTS_D": ""},
        cwd=ROOT,
    )


def test_core_dependencies_carry_no_sdk():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"]).lower()
    assert not any(sdk in core for sdk in ("boto3", "azure", "pygithub", "python-gitlab"))
    extras = project["optional-dependencies"]
    assert extras["aws"] == ["boto3>=1.34"]
    assert set(extras["all"]) == {"portside[aws,azure,github,gitlab]"}


def test_each_declared_sdk_comes_in_a_declared_extra():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    # Module names are not distribution names (github is PyGithub's): ask the installed
    # distributions (make test installs every extra) which one brings each module.
    brings = importlib.metadata.packages_distributions()
    for spec in SPECS.values():
        for module in spec.sdk:
            assert spec.extra, f"{spec.name} imports {module} but names no extra"
            names = [_canonical(requirement) for requirement in extras[spec.extra]]
            top = module.split(".")[0]
            assert any(_canonical(dist) in names for dist in brings.get(top, [])), (
                f"{spec.name}: no distribution of extra {spec.extra!r} brings {module}"
            )


def _canonical(requirement: str) -> str:
    """A requirement's distribution name, normalised as PEP 503 does."""
    name = re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.mark.parametrize(
    ("blocked", "target", "missing", "extra"),
    [
        ("boto3,botocore", "123456789012.dkr.ecr.us-east-1.amazonaws.com/app", "boto3", "aws"),
        ("gitlab", "registry.gitlab.com/group/project", "gitlab", "gitlab"),
    ],
    ids=["ecr", "gitlab"],
)
def test_cleanup_without_the_sdk_names_the_extra(blocked, target, missing, extra):
    done = _portside_without(blocked, "cleanup", target, "--keep-last", "1", "--dry-run")
    assert done.returncode == 2, done.stderr
    assert f"{missing}, which is not installed" in done.stderr
    assert f"pip install 'portside[{extra}]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_core_commands_run_without_any_sdk():
    done = _portside_without(",".join(SDKS), "registries", "--detect", "ghcr.io")
    assert done.returncode == 0, done.stderr
    assert "github" in done.stdout
