"""Quoting round trip: whatever a CI variable holds, the shell that evaluates ci-env's output
ends up with the same bytes, and nothing in a value ever runs, in every documented way of
evaluating it.

Real shells do the reading: bash, dash, busybox ash and zsh for the sh output, each with the
four forms users write (`eval $(…)`, `eval "$(…)"`, `. "$(… --as-file)"`, `. $(… --as-file)`),
and fish (`| source`, `eval (…)`, `source (… --as-file)`); `make system-deps` installs them.
PowerShell is not available on the test machine; its quoting is checked against the
verbatim-string rule of the PowerShell language specification instead.
"""

from __future__ import annotations

import os
import string
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ci_env import jobdir
from ci_env.shell import Export, Line, Unset, quote_powershell, render_script
from drivers.errors import InvalidInput
from tests.cienv_support import (
    FISH_FORMS,
    GITLAB_JOB,
    SH_FORMS,
    SH_SHELLS,
    clean_environ,
    read_back,
    run_portside,
    run_shell,
)

FISH = ["fish", "--no-config"]
# What an unquoted command substitution leaves alone: no IFS whitespace, glob or quote character.
UNSPLIT = frozenset(string.ascii_letters + string.digits + "/._,:@%+=-")
# Variants that make a stray glob character or an unbalanced `(` in the output an error:
# bash's failglob, and zsh's GLOB_SUBST (globbing of substitution results, as in ksh).
STRICT_SHELLS = {
    "bash-failglob": ["bash", "-O", "failglob"],
    "zsh-globsubst": ["zsh", "-o", "GLOB_SUBST"],
}

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


def one_run(values: list[bytes]) -> list[bytes]:
    """Every nasty value, dealt round-robin into one value per slot (so one ci-env run carries
    them all), each framed by what matters at a value's ends: leading and trailing spaces,
    trailing newlines (command substitution strips them), a leading `-` (printf's options), a
    tab, a quote, a backslash; and one value that is a lone newline."""
    size = len(SLOTS) - 1
    dealt = [b"".join(values[i::size]) for i in range(size)]
    frames = [(b" ", b" "), (b"-", b"\n"), (b"\t", b"\n\n"), (b"'", b"\\"), (b"\\", b"'")]
    framed = [start + value + end for (start, end), value in zip(frames, dealt, strict=True)]
    return [*framed, b"\n"]


def weird_tmp_dir(tmp_path: Path, canary: Path) -> Path:
    # Relative: a path cannot hold "/" in one name; the shells run in tmp_path.
    base = tmp_path / f"jobs $(touch {canary.name}) 'q' \"d\" `x` \n ü\\"
    base.mkdir()
    return base


# DOCKER_AUTH_CONFIG naming CI_REGISTRY (in another spelling of its key): ci-env unsets it.
SHADOWING_AUTH_CONFIG = '{"auths": {"https://REGISTRY.example:5000/v2/": {"auth": "ZDpw"}}}'


def job_environ(values: list[bytes], base: Path, source: Path, job_id: str) -> dict[str, str]:
    slots = dict(zip(SLOTS, map(os.fsdecode, values), strict=False))
    job = {**GITLAB_JOB, "CI_JOB_ID": job_id, "DOCKER_AUTH_CONFIG": SHADOWING_AUTH_CONFIG, **slots}
    return {**clean_environ(DOCKER_CONFIG=str(source), PORTSIDE_TMP_DIR=str(base)), **job}


def check(got: dict[str, bytes | None] | None, values: list[bytes], base: Path) -> None:
    assert got is not None
    for slot, value in zip(SLOTS.values(), values, strict=False):
        assert got[slot] == value, slot
    docker_config = got["DOCKER_CONFIG"]
    assert docker_config is not None
    assert Path(docker_config.decode("utf-8", "surrogateescape")).parent == base
    assert got["REGISTRY_AUTH_FILE"] == docker_config + b"/config.json"
    assert got["DOCKER_AUTH_CONFIG"] is None  # unset: it named CI_REGISTRY


NAMES = [*SLOTS.values(), "DOCKER_CONFIG", "REGISTRY_AUTH_FILE", "DOCKER_AUTH_CONFIG"]


def round_trip(tmp_path: Path, shell: list[str], line: str, *, fish: bool = False) -> None:
    """The literal `line` in `shell`, with every nasty value, and a job temp dir whose path holds
    spaces, quotes and a newline."""
    canary = tmp_path / "CANARY-RAN"
    base = weird_tmp_dir(tmp_path, canary)
    source = tmp_path / "docker"
    source.mkdir()
    job_id = f"quoting-{uuid.uuid4().hex[:12]}"  # --as-file may put a script dir in /tmp
    values = one_run(nasty_values(canary))
    try:
        env = job_environ(values, base, source, job_id)
        done = run_shell(shell, line, NAMES, tmp_path, env=env, fish=fish)
        assert done.code == 0, done.stderr
        check(done.values, values, base)
    finally:
        jobdir.cleanup(None, [base], [("gitlab", job_id)])
    assert not canary.exists()
    assert [p for p in base.iterdir() if p.name.startswith("portside-ci-env-")] == []


@pytest.mark.parametrize("form", SH_FORMS)
@pytest.mark.parametrize("shell", SH_SHELLS)
def test_cli_round_trip_in_posix_shells(tmp_path, shell, form):
    round_trip(tmp_path, SH_SHELLS[shell], SH_FORMS[form].format(args="gitlab"))


@pytest.mark.parametrize("form", ["eval-unquoted", "dot-unquoted"])
@pytest.mark.parametrize("shell", STRICT_SHELLS)
def test_cli_round_trip_unquoted_in_strict_shells(tmp_path, shell, form):
    round_trip(tmp_path, STRICT_SHELLS[shell], SH_FORMS[form].format(args="gitlab"))


@pytest.mark.parametrize("form", FISH_FORMS)
def test_cli_round_trip_in_fish(tmp_path, form):
    round_trip(tmp_path, FISH, FISH_FORMS[form].format(args="gitlab"), fish=True)


def test_as_file_prints_a_path_that_survives_word_splitting(tmp_path):
    """With a temp dir whose path would split, --as-file still prints one plain word."""
    base = weird_tmp_dir(tmp_path, tmp_path / "CANARY")
    source = tmp_path / "docker"
    source.mkdir()
    env = job_environ([], base, source, f"quoting-{uuid.uuid4().hex[:12]}")
    try:
        printed = run_portside("ci-env", "gitlab", "--as-file", env=env)
        assert printed.returncode == 0, printed.stderr
        path = printed.stdout.decode()
        assert path.endswith("/env.sh\n") and all(c in UNSPLIT for c in path[:-1]), path
    finally:
        run_portside("ci-env", "--cleanup", env=env)
    assert not Path(path[:-1]).exists()  # --cleanup removed the script's directory too


def test_sh_output_has_no_comment_whitespace_or_glob_character(tmp_path):
    """What unquoted `eval $(…)` would mangle: comment lines, whitespace runs or tabs, newlines
    between words of a statement, glob characters."""
    canary = tmp_path / "CANARY-RAN"
    base = weird_tmp_dir(tmp_path, canary)
    source = tmp_path / "docker"
    source.mkdir()
    env = job_environ(one_run(nasty_values(canary)), base, source, "42")
    done = run_portside("ci-env", "gitlab", env={**env, "PORTSIDE_REPO": "kept"})
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode("utf-8", "surrogateescape")
    for line in out.splitlines():
        assert not line.lstrip().startswith("#") and line.endswith(";"), line
        assert "  " not in line and "\t" not in line and not set("*?[") & set(line), line
    assert "PORTSIDE_REPO is already set; kept" in done.stderr.decode()


# Any text a variable can hold: no NUL (the environment cannot carry it), no lone surrogates.
# Bytes that are not UTF-8 come in as os.environ does them: surrogate escapes.
value_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
) | st.binary().map(lambda data: data.replace(b"\0", b"").decode("utf-8", "surrogateescape"))
value_lists = st.lists(value_text, min_size=1, max_size=8)


def _lines(values: list[str]) -> list[Line]:
    """One Export per value, with an Unset of GONE (set in the shell's environment) among them."""
    exports: list[Line] = [Export(f"V{i}", v) for i, v in enumerate(values)]
    return [*exports[:1], Unset("GONE"), *exports[1:]]


GONE_SET = clean_environ(GONE="set before; the script unsets it")


def _values(values: list[str]) -> list[bytes]:
    return [v.encode("utf-8", "surrogateescape") for v in values]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=value_lists)
def test_render_round_trip_property_posix(tmp_path, values):
    script = render_script(_lines(values), "sh").encode("utf-8", "surrogateescape")
    names = [f"V{i}" for i in range(len(values))]
    for shell in ("bash", "dash"):
        for form in ("eval-unquoted", "eval-quoted"):
            got = read_back(
                script, SH_SHELLS[shell], [*names, "GONE"], tmp_path, env=GONE_SET, form=form
            )
            assert [got[n] for n in names] == _values(values), (shell, form)
            assert got["GONE"] is None, (shell, form)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=value_lists)
def test_render_round_trip_property_fish(tmp_path, values):
    script = render_script(_lines(values), "fish").encode("utf-8", "surrogateescape")
    names = [f"V{i}" for i in range(len(values))]
    for form in ("source", "eval"):
        got = read_back(
            script, FISH, [*names, "GONE"], tmp_path, env=GONE_SET, dialect="fish", form=form
        )
        assert [got[n] for n in names] == _values(values), form
        assert got["GONE"] is None, form


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


def test_powershell_unset_line():
    # Assigning $null removes the variable in every PowerShell version; '' does not since 7.5
    # (about_Environment_Variables).
    assert render_script([Unset("DOCKER_AUTH_CONFIG")], "powershell") == (
        "$env:DOCKER_AUTH_CONFIG = $null\n"
    )


def test_unset_names_are_checked():
    with pytest.raises(InvalidInput):
        render_script([Unset("NOT-A-NAME; rm -rf /")], "sh")
