"""The policy file: YAML in, a validated `PolicyFile` out; and the effective policy back out
as YAML (`--print-policy`). Every error names the file and line, and is bad input (exit 2).

    keep:
      - tags: '^v\\d+\\.\\d+\\.\\d+$'        # every release
      - tags: '.*'
        last: 5                           # the 5 newest of all tags
      - newer_than: 7d
      - git: {repo: ., branches: '.*', commits_per_branch: 3, tags: true}
    delete:
      tags: '.*'
      untagged: true                      # and untagged manifests nothing kept uses
    with_referrers: true
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from drivers.cleanup.policy import (
    DURATION_HINT,
    Duration,
    GitRule,
    KeepRule,
    Policy,
    PolicyFile,
    TagPattern,
    build_policy,
)
from drivers.errors import InvalidInput

_TOP_KEYS = ("keep", "delete", "with_referrers")
_RULE_KEYS = ("tags", "last", "newer_than", "git")
_GIT_KEYS = ("repo", "branches", "commits_per_branch", "tags")
_FORMAT_HINT = "see docs/cleanup.md for the policy format"


class _Reader:
    """Walks the YAML node tree, so that every error can name its line."""

    def __init__(self, path: str, loader: yaml.SafeLoader) -> None:
        self.path = path
        self.loader = loader

    def error(self, node: yaml.Node, text: str, hint: str = _FORMAT_HINT) -> InvalidInput:
        return InvalidInput(f"{self.path}:{node.start_mark.line + 1}: {text}", hint=hint)

    def mapping(self, node: yaml.Node, what: str, keys: tuple[str, ...]) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"{what} must be a mapping with keys {', '.join(keys)}")
        out: dict[str, yaml.Node] = {}
        for key_node, value in node.value:
            key = self.loader.construct_object(key_node)
            if key not in keys:
                raise self.error(
                    key_node, f"unknown key {key!r} in {what} (expected {', '.join(keys)})"
                )
            if key in out:
                raise self.error(key_node, f"{key!r} appears twice in {what}")
            out[key] = value
        return out

    def value(self, node: yaml.Node) -> Any:
        return self.loader.construct_object(node, deep=True)

    def text(self, node: yaml.Node, what: str) -> str:
        value = self.value(node)
        if not isinstance(value, str) or not value:
            raise self.error(node, f"{what} must be a non-empty string, not {value!r}")
        return value

    def integer(self, node: yaml.Node, what: str) -> int:
        value = self.value(node)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.error(node, f"{what} must be a whole number of at least 1, not {value!r}")
        return value

    def boolean(self, node: yaml.Node, what: str) -> bool:
        value = self.value(node)
        if not isinstance(value, bool):
            raise self.error(node, f"{what} must be true or false, not {value!r}")
        return value

    def parsed(self, node: yaml.Node, what: str, parse: Callable[[str], Any], hint: str) -> Any:
        text = self.value(node)
        try:
            return parse(str(text))
        except ValueError as error:
            raise self.error(node, f"{what}: {error}", hint) from None


def effective_policy(path: str | None = None, **flags: Any) -> Policy:
    """The policy file at `path` (if any) with the rule flags added: `build_policy`'s keywords."""
    return build_policy(load_policy_file(path) if path else None, **flags)


def load_policy_file(path: str) -> PolicyFile:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or type(error).__name__
        raise InvalidInput(
            f"cannot read the policy file {path}: {reason}", hint="check the --policy path"
        ) from None
    return parse_policy(text, path)


def parse_policy(text: str, path: str = "<policy>") -> PolicyFile:
    loader = yaml.SafeLoader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            line = f":{mark.line + 1}" if mark else ""
            problem = error.problem or error.context or "invalid YAML"
            raise InvalidInput(
                f"{path}{line}: not valid YAML: {problem}", hint=_FORMAT_HINT
            ) from None
        except yaml.YAMLError:
            raise InvalidInput(f"{path}: not valid YAML", hint=_FORMAT_HINT) from None
        if root is None:
            raise InvalidInput(f"{path}: the policy file is empty", hint=_FORMAT_HINT)
        return _policy(_Reader(path, loader), root)
    finally:
        loader.dispose()


def _policy(reader: _Reader, root: yaml.Node) -> PolicyFile:
    top = reader.mapping(root, "the policy", _TOP_KEYS)
    rules: list[KeepRule] = []
    if "keep" in top:
        node = top["keep"]
        if not isinstance(node, yaml.SequenceNode):
            raise reader.error(node, "keep must be a list of rules ('- tags: ...')")
        rules = [_rule(reader, item, index) for index, item in enumerate(node.value)]
    delete: list[TagPattern] = []
    untagged = None
    if "delete" in top:
        fields = reader.mapping(top["delete"], "delete", ("tags", "untagged"))
        if "tags" in fields:
            delete = _patterns(reader, fields["tags"], "delete.tags")
        if "untagged" in fields:
            untagged = reader.boolean(fields["untagged"], "delete.untagged")
    referrers = None
    if "with_referrers" in top:
        referrers = reader.boolean(top["with_referrers"], "with_referrers")
    return PolicyFile(reader.path, tuple(rules), tuple(delete), referrers, untagged)


def _patterns(reader: _Reader, node: yaml.Node, what: str) -> list[TagPattern]:
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    patterns = []
    for item in items:
        reader.text(item, what)
        patterns.append(reader.parsed(item, what, TagPattern.compile, "fix the regex"))
    return patterns


def _rule(reader: _Reader, node: yaml.Node, index: int) -> KeepRule:
    what = f"keep[{index}]"
    fields = reader.mapping(node, what, _RULE_KEYS)
    if not fields:
        raise reader.error(node, f"{what} is empty; give it tags, last, newer_than or git")
    tags = last = newer = git = None
    if "tags" in fields:
        reader.text(fields["tags"], f"{what}.tags")
        tags = reader.parsed(fields["tags"], f"{what}.tags", TagPattern.compile, "fix the regex")
    if "last" in fields:
        last = reader.integer(fields["last"], f"{what}.last")
    if "newer_than" in fields:
        newer = reader.parsed(
            fields["newer_than"], f"{what}.newer_than", Duration.parse, DURATION_HINT
        )
    if "git" in fields:
        git = _git(reader, fields["git"], f"{what}.git")
    return KeepRule(what, tags, last, newer, git)


def _git(reader: _Reader, node: yaml.Node, what: str) -> GitRule:
    if isinstance(node, yaml.ScalarNode) and reader.value(node) is True:
        return GitRule()
    fields = reader.mapping(node, what, _GIT_KEYS)
    rule = GitRule()
    repo = reader.text(fields["repo"], f"{what}.repo") if "repo" in fields else None
    branches = rule.branches
    if "branches" in fields:
        reader.text(fields["branches"], f"{what}.branches")
        branches = reader.parsed(
            fields["branches"], f"{what}.branches", TagPattern.compile, "fix the regex"
        )
    commits = rule.commits_per_branch
    if "commits_per_branch" in fields:
        commits = reader.integer(fields["commits_per_branch"], f"{what}.commits_per_branch")
    tags = reader.boolean(fields["tags"], f"{what}.tags") if "tags" in fields else rule.tags
    return GitRule(repo, branches, commits, tags)


# -- the effective policy, shown back -----------------------------------------------------------


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def render_policy(policy: Policy) -> str:
    """The effective policy as a policy file: it can be saved and used as `--policy`."""
    explicit = [r for r in policy.keep if not r.implicit]
    lines = [f"# effective policy ({policy.source})", "keep:" if explicit else "keep: []"]
    for rule in explicit:
        fields = []
        if rule.tags is not None:
            fields.append(f"tags: {_quote(rule.tags.text)}")
        if rule.last is not None:
            fields.append(f"last: {rule.last}")
        if rule.newer_than is not None:
            fields.append(f"newer_than: {rule.newer_than.text}")
        if rule.git is not None:
            git = rule.git
            fields.append(
                f"git: {{repo: {_quote(git.repo or '.')}, branches: {_quote(git.branches.text)}, "
                f"commits_per_branch: {git.commits_per_branch}, tags: {str(git.tags).lower()}}}"
            )
        lines.append(f"  - {fields[0]}  # {rule.name}")
        lines.extend(f"    {f}" for f in fields[1:])
    if len(explicit) < len(policy.keep):
        lines.append("  # and `latest`: it is kept unless delete.tags names it")
    lines.append("delete:")
    if policy.delete:
        lines.append("  tags:")
        lines.extend(f"    - {_quote(p.text)}" for p in policy.delete)
    elif policy.tags_too:
        lines.append("  tags: '.*'  # every tag is a candidate")
    if policy.delete_untagged:
        lines.append("  untagged: true  # untagged manifests nothing that stays uses")
    lines.append(f"with_referrers: {str(policy.with_referrers).lower()}")
    return "\n".join(lines) + "\n"


def policy_json(policy: Policy) -> dict[str, Any]:
    return {
        "source": policy.source,
        "keep": [
            {
                "rule": rule.label,
                "tags": rule.tags.text if rule.tags else None,
                "last": rule.last,
                "newer_than": rule.newer_than.text if rule.newer_than else None,
                "git": None
                if rule.git is None
                else {
                    "repo": rule.git.repo or ".",
                    "branches": rule.git.branches.text,
                    "commits_per_branch": rule.git.commits_per_branch,
                    "tags": rule.git.tags,
                },
            }
            for rule in policy.keep
        ],
        "delete": {
            "tags": [p.text for p in policy.delete] or ([".*"] if policy.tags_too else []),
            "untagged": policy.delete_untagged,
        },
        "with_referrers": policy.with_referrers,
    }
