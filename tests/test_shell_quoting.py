"""Quoting round trip: whatever a CI variable holds, the shell that evaluates ci-env's output
ends up with the same bytes, and nothing in a value ever runs.

Real shells do the reading: bash and dash always (Debian has both), fish when it is installed
(add the `fish` package to the test machine to cover it). PowerShell is not available on the
test machine; its quoting is checked against the verbatim-string rule of the PowerShell
language specification instead.
"""

from __future__ import annotations

import shutil
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ci_env.shell import Export, quote_powershell, render_script
from tests.cienv_support import GITLAB_JOB, clean_environ, read_back, run_portside

POSIX_SHELLS = [["bash"], ["dash"]]
FISH = shutil.which("fish")
needs_fish = pytest.mark.skipif(
    FISH is None, reason="fish is not installed (apt-get install fish) so fish quoting is not run"
)

# Job variable -> the variable ci-env exports from it (a tag pipeline: CI_COMMIT_TAG is set).
SLOTS = {
    "CI_COMMIT_TAG": "PORTSIDE_GIT_TAG",
    "CI_ENVIRONMENT_SLUG": "PORTSIDE_ENV",
    "CI_JOB_URL": "PORTSIDE_CI_JOB_URL",
    "CI_PIPELINE_URL": "PORTSIDE_CI_PIPELINE_URL",
    "CI_COMMIT_SHA": "PORTSIDE_GIT_COMMIT",
    "CI_REGISTRY_IMAGE": "PORTSIDE_REPO",
}


def nasty_values(canary: Path) -> list[bytes]:
    c = str(canary)
    texts = [
        string.punctuation,
        " leading and trailing spaces ",
        "tab\there\t",
        "new\nline\n",
        "\n",
        "ünïcödé — 日本語 🚀",
        f"$(touch {c})",
        f"`touch {c}`",
        f"'; touch {c}; '",
        f'"; touch {c}; "',
        f"\\'; touch {c}; echo '",
        f"(touch {c})",
        f"{{$(touch {c})}}",
        f"$(touch {c})\n'\ntouch {c}\n",
        "trailing backslash\\",
        "'",
        "\\",
        "$HOME ${HOME} $((1+1)) $$ $? !!",
        "\u2018\u2019\u201a\u201b typographic quotes '",
        "\r\ncrlf\r",
        "a\x01\x1b[31mcontrol\x7f",
    ]
    values = [t.encode() for t in texts]
    values.append(b"not utf-8: \xff\xfe\xc3(")
    return values


def chunks(values: list[bytes]) -> list[list[bytes]]:
    size = len(SLOTS)
    return [values[i : i + size] for i in range(0, len(values), size)]


def weird_tmp_dir(tmp_path: Path, canary: Path) -> Path:
    # Relative: a path cannot hold "/" in one name; the shells run in tmp_path.
    base = tmp_path / f"jobs $(touch {canary.name}) 'q' \"d\" `x` \n ü\\"
    base.mkdir()
    return base


def run_job(values: list[bytes], base: Path, source: Path, *shell_args: str) -> bytes:
    job = {**GITLAB_JOB, **dict(zip(SLOTS, values, strict=False))}
    env = {**clean_environ(DOCKER_CONFIG=str(source)), **job}
    result = run_portside("ci-env", "gitlab", "--tmp-dir", str(base), *shell_args, env=env)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


def check(got: dict[str, bytes | None], values: list[bytes], base: Path) -> None:
    for slot, value in zip(SLOTS.values(), values, strict=False):
        assert got[slot] == value, slot
    docker_config = got["DOCKER_CONFIG"]
    assert docker_config is not None
    assert Path(docker_config.decode("utf-8", "surrogateescape")).parent == base
    assert got["REGISTRY_AUTH_FILE"] == docker_config + b"/config.json"


NAMES = [*SLOTS.values(), "DOCKER_CONFIG", "REGISTRY_AUTH_FILE"]


@pytest.mark.parametrize("shell", POSIX_SHELLS, ids=lambda s: s[0])
def test_cli_round_trip_in_posix_shells(tmp_path, shell):
    canary = tmp_path / "CANARY-RAN"
    base = weird_tmp_dir(tmp_path, canary)
    source = tmp_path / "docker"
    source.mkdir()
    for values in chunks(nasty_values(canary)):
        script = run_job(values, base, source)
        check(read_back(script, shell, NAMES, tmp_path), values, base)
    assert not canary.exists()


@needs_fish
def test_cli_round_trip_in_fish(tmp_path):
    canary = tmp_path / "CANARY-RAN"
    base = weird_tmp_dir(tmp_path, canary)
    source = tmp_path / "docker"
    source.mkdir()
    for values in chunks(nasty_values(canary)):
        script = run_job(values, base, source, "--shell", "fish")
        check(read_back(script, [FISH], NAMES, tmp_path, dialect="fish"), values, base)
    assert not canary.exists()


# Any text a variable can hold: no NUL (the environment cannot carry it), no lone surrogates.
value_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
value_lists = st.lists(value_text, min_size=1, max_size=8)


def _exports(values: list[str]) -> list[Export]:
    return [Export(f"V{i}", v) for i, v in enumerate(values)]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=value_lists)
def test_render_round_trip_property_posix(tmp_path, values):
    script = render_script(_exports(values), "sh").encode()
    for shell in POSIX_SHELLS:
        got = read_back(script, shell, [f"V{i}" for i in range(len(values))], tmp_path)
        assert [got[f"V{i}"] for i in range(len(values))] == [v.encode() for v in values]


@needs_fish
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=value_lists)
def test_render_round_trip_property_fish(tmp_path, values):
    script = render_script(_exports(values), "fish").encode()
    got = read_back(script, [FISH], [f"V{i}" for i in range(len(values))], tmp_path, dialect="fish")
    assert [got[f"V{i}"] for i in range(len(values))] == [v.encode() for v in values]


# -- PowerShell: the verbatim-string rule ---------------------------------------------------

_PS_QUOTES = "'\u2018\u2019\u201a\u201b"


def parse_powershell_verbatim(text: str) -> str:
    """A PowerShell single-quoted string literal read per the language specification (section
    2.3.5.2): it opens and closes with any single-quote-character, and inside it two adjacent
    single-quote-characters stand for one; nothing else is special."""
    assert text[0] in _PS_QUOTES
    out, i = [], 1
    while True:
        char = text[i]
        if char in _PS_QUOTES:
            if i + 1 < len(text) and text[i + 1] in _PS_QUOTES:
                out.append(char)
                i += 2
                continue
            assert i == len(text) - 1, "the literal ended before the end of the text"
            return "".join(out)
        out.append(char)
        i += 1


@given(value=st.text(alphabet=st.sampled_from([*_PS_QUOTES, "a", "$", "`", "\n", '"', "("])))
def test_powershell_quoting_reads_back(value):
    assert parse_powershell_verbatim(quote_powershell(value)) == value


def test_powershell_script_line():
    line = render_script([Export("PORTSIDE_REPO", "it's $(x)")], "powershell")
    assert line == "$env:PORTSIDE_REPO = 'it''s $(x)'\n"
