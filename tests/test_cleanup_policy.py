"""The cleanup policy: the file format, flags, validation errors with line numbers, and the
planner's rules (full-match regexes, last N with ties, newer_than, unknown times, latest)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from drivers.cleanup.plan import make_plan
from drivers.cleanup.policy import Duration, build_policy
from drivers.cleanup.policyfile import effective_policy, parse_policy, render_policy
from drivers.cleanup.state import ImageRecord, RepositoryState
from drivers.errors import InvalidInput
from drivers.reference import Repository
from tests.cli import run_cli

ISSUE_EXAMPLE = """\
keep:
  - tags: '^v\\d+\\.\\d+\\.\\d+$'        # every release
  - tags: '.*'
    last: 5                           # the 5 newest of all tags
  - newer_than: 7d
  - git: {repo: ., branches: '.*', commits_per_branch: 3, tags: true}
delete:
  tags: '.*'
"""


def test_the_documented_example_parses():
    policy = parse_policy(ISSUE_EXAMPLE, "policy.yml")
    assert [r.name for r in policy.keep] == ["keep[0]", "keep[1]", "keep[2]", "keep[3]"]
    assert policy.keep[0].tags and policy.keep[0].tags.matches("v1.2.3")
    assert not policy.keep[0].tags.matches("v1.2.3-rc1")  # full match
    assert policy.keep[1].last == 5
    assert policy.keep[2].newer_than == Duration("7d", 7 * 86400)
    git = policy.keep[3].git
    assert git and git.repo == "." and git.commits_per_branch == 3 and git.tags
    assert [p.text for p in policy.delete] == [".*"]


def test_print_policy_round_trips():
    policy = build_policy(parse_policy(ISSUE_EXAMPLE, "p.yml"), keep_last=2, with_referrers=False)
    again = build_policy(parse_policy(render_policy(policy), "printed.yml"))
    assert [(r.tags, r.last, r.newer_than, r.git) for r in again.keep] == [
        (r.tags, r.last, r.newer_than, r.git) for r in policy.keep
    ]
    assert again.delete == policy.delete and again.with_referrers is False


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("keep:\n  - tags: 'v('\n", 2, "invalid regex"),
        ("keep:\n  - tags: x\n  - newer_than: 7days\n", 3, "invalid duration"),
        ("keep:\n  - tags: x\n    lst: 5\n", 3, "unknown key 'lst'"),
        ("keep:\n  - last: five\n", 2, "whole number"),
        ("keep:\n  - last: 0\n", 2, "at least 1"),
        ("keep:\n  - last: true\n", 2, "whole number"),
        ("keep:\n  - {}\n", 2, "is empty"),
        ("keep:\n  tags: x\n", 2, "must be a list"),
        ("keep:\n  - git: {repo: ., brnaches: x}\n", 2, "unknown key 'brnaches'"),
        ("keep:\n  - git: {tags: yes please}\n", 2, "true or false"),
        ("delete:\n  tags: '[a-'\n", 2, "invalid regex"),
        ("keep:\n  - tags: a\nkeep:\n  - tags: b\n", 3, "appears twice"),
        ("keep:\n  - tags: a\nwith_referrers: maybe\n", 3, "true or false"),
        ("keep:\n  - tags: [unclosed\n", 3, "not valid YAML"),
        ("kepe:\n  - tags: a\n", 1, "unknown key 'kepe'"),
    ],
)
def test_invalid_policies_name_the_line(text, line, words):
    with pytest.raises(InvalidInput) as raised:
        parse_policy(text, "policy.yml")
    assert raised.value.message.startswith(f"policy.yml:{line}:"), raised.value.message
    assert words in raised.value.message


def test_empty_file_and_a_policy_that_keeps_nothing_are_refused():
    with pytest.raises(InvalidInput, match="empty"):
        parse_policy("", "p.yml")
    with pytest.raises(InvalidInput, match="keeps nothing"):
        build_policy(parse_policy("delete: {}\n", "p.yml"))
    with pytest.raises(InvalidInput, match="keeps nothing"):
        build_policy()


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        ({"keep_tags": ["("]}, "--keep-tag: invalid regex"),
        ({"keep_newer_than": "soon"}, "--keep-newer-than: invalid duration"),
        ({"keep_last": 0}, "--keep-last must be at least 1"),
        ({"delete_tags": ["*"]}, "--delete-tag: invalid regex"),
    ],
)
def test_invalid_flags_name_the_flag(flags, words):
    with pytest.raises(InvalidInput, match=words):
        build_policy(**flags)


def test_durations():
    assert Duration.parse("30m").seconds == 1800
    assert Duration.parse("12h").seconds == 12 * 3600
    assert Duration.parse("2w").seconds == 14 * 86400
    assert Duration.parse("1d12h").seconds == 36 * 3600
    for bad in ("7", "d", "7 days", "-1d", "0d", ""):
        with pytest.raises(ValueError):
            Duration.parse(bad)


def test_flags_add_to_the_file_and_latest_is_kept_unless_named(tmp_path: Path):
    path = tmp_path / "p.yml"
    path.write_text("keep:\n  - tags: '^v.*'\n")
    policy = effective_policy(str(path), keep_last=3, delete_tags=["ci-.*"])
    assert [r.name for r in policy.keep] == ["keep[0]", "--keep-last", "latest"]
    assert policy.source == f"{path} + flags"
    assert not build_policy(delete_tags=["latest|old-.*"]).keep  # named: latest may go
    assert build_policy(delete_tags=[".*"]).keep[-1].implicit  # `.*` does not name it


# -- the planner's rules, on hand-made states ----------------------------------------------------

NOW = datetime(2026, 1, 10, tzinfo=timezone.utc)


def _state(tags: dict[str, tuple[str, datetime | None]]) -> RepositoryState:
    images = {
        d: ImageRecord(
            d, "application/vnd.oci.image.manifest.v1+json", created=t, created_read=True
        )
        for d, t in tags.values()
    }
    return RepositoryState(
        Repository("r.test", "app"), {t: d for t, (d, _) in tags.items()}, images, NOW
    )


def _digest(n: int) -> str:
    return "sha256:" + f"{n:064x}"


def _decided(state: RepositoryState, **flags) -> dict[str, str]:
    plan = make_plan(state, build_policy(**flags))
    return {d.tag: d.action for d in plan.decisions if d.tag}


def test_last_keeps_ties_and_counts_unknown_times_as_newest():
    state = _state(
        {
            "a": (_digest(1), NOW - timedelta(days=1)),
            "b": (_digest(2), NOW - timedelta(days=2)),
            "c": (_digest(3), NOW - timedelta(days=2)),  # tied with b
            "d": (_digest(4), NOW - timedelta(days=9)),
            "e": (_digest(5), None),  # unknown: newest
        }
    )
    assert _decided(state, keep_last=2) == {
        "a": "keep",
        "b": "delete",
        "c": "delete",
        "d": "delete",
        "e": "keep",
    }
    assert _decided(state, keep_last=3) == {
        "a": "keep",
        "b": "keep",
        "c": "keep",
        "d": "delete",
        "e": "keep",
    }


def test_newer_than_and_candidates_and_full_match():
    state = _state(
        {
            "pr-1": (_digest(1), NOW - timedelta(hours=1)),
            "pr-2": (_digest(2), NOW - timedelta(days=3)),
            "v1.0.0": (_digest(3), NOW - timedelta(days=300)),
            "v1.0.0-rc1": (_digest(4), NOW - timedelta(days=300)),
            "latest": (_digest(5), NOW - timedelta(days=300)),
        }
    )
    decided = _decided(state, keep_newer_than="1d", keep_tags=[r"v\d+\.\d+\.\d+"])
    assert decided == {
        "pr-1": "keep",
        "pr-2": "delete",
        "v1.0.0": "keep",
        "v1.0.0-rc1": "delete",
        "latest": "keep",
    }
    only_prs = _decided(state, keep_newer_than="1d", delete_tags=["pr-.*"])
    assert only_prs["v1.0.0-rc1"] == "keep" and only_prs["pr-2"] == "delete"


def test_reasons_name_the_rule():
    state = _state(
        {"v1": (_digest(1), None), "x": (_digest(2), None), "latest": (_digest(3), None)}
    )
    plan = make_plan(state, build_policy(keep_tags=["v1"], delete_tags=["x|v1"]))
    reasons = {d.tag: d.reason for d in plan.decisions}
    assert reasons["v1"] == "--keep-tag: tags 'v1'"
    assert reasons["latest"] == "latest (kept unless the policy names it)"
    assert reasons["x"] == "no keep rule keeps it"


# -- through the CLI: exit 2, the line, no registry needed ---------------------------------------


def test_cli_policy_errors_exit_2_naming_the_line(capsys, tmp_path: Path):
    path = tmp_path / "policy.yml"
    path.write_text("keep:\n  - tags: '^v.*'\n  - newer_than: 7 days\n")
    result = run_cli(capsys, "cleanup", "127.0.0.1:1/app", "--policy", str(path))
    assert result.code == 2
    assert f"{path}:3: keep[1].newer_than: invalid duration" in result.err
    assert "Traceback" not in result.text


def test_cli_print_policy(capsys, tmp_path: Path, monkeypatch):
    path = tmp_path / "policy.yml"
    path.write_text(ISSUE_EXAMPLE)
    monkeypatch.setenv("PORTSIDE_KEEP_LAST", "2")
    result = run_cli(capsys, "cleanup", "--policy", str(path), "--print-policy")
    assert result.code == 0, result.err
    assert "  - last: 2  # --keep-last" in result.out
    assert "  # and `latest`: it is kept unless delete.tags names it" in result.out
    assert parse_policy(result.out, "printed")  # it is a policy file again
    as_json = run_cli(capsys, "cleanup", "--keep-tag", "^v", "--print-policy", "--json")
    assert '"with_referrers": true' in as_json.out


def test_cli_without_repository_or_rules(capsys):
    assert run_cli(capsys, "cleanup", "--keep-last", "1").code == 2
    nothing = run_cli(capsys, "cleanup", "127.0.0.1:1/app")
    assert nothing.code == 2 and "keeps nothing" in nothing.err


def test_every_cleanup_option_has_an_env_twin(capsys, monkeypatch):
    import click

    from drivers.registries.table import credential_options
    from tests.cli import command_tree

    cleanup = command_tree()[("cleanup",)]
    options = [p for p in cleanup.params if isinstance(p, click.Option)]
    # The registry specs' credential options have twins too, read (with the Docker config's
    # entry) by resolve_native_credentials, not by click; their help names them.
    native = {o.name: o for o in credential_options()}
    for option in options:
        if option.name in native:
            twin = native[option.name].envvar
            assert twin == f"PORTSIDE_{option.name.upper()}" and twin in (option.help or "")
    options = [p for p in options if p.name not in native]
    missing = [p.name for p in options if not p.envvar and p.name != "help"]
    assert not missing, missing
    renamed = {"json_output": "JSON"}  # the shared --json option's parameter name
    for option in options:
        if option.envvar:
            name = renamed.get(option.name, option.name.upper())
            assert option.envvar == f"PORTSIDE_{name}", option.envvar
    monkeypatch.setenv("PORTSIDE_KEEP_TAG", "^v.* main")
    monkeypatch.setenv("PORTSIDE_PRINT_POLICY", "1")
    printed = run_cli(capsys, "cleanup")
    assert "  - tags: '^v.*'  # --keep-tag" in printed.out
    assert "  - tags: 'main'  # --keep-tag" in printed.out
