"""The GitLab CI template as data: its jobs with GitLab's `!reference` tags, and a hidden
job's script with the references expanded, as GitLab's runner would run it."""

from __future__ import annotations

from pathlib import Path

import yaml

TEMPLATE = Path(__file__).resolve().parent.parent / ".gitlab-ci-template.yml"


class _GitLabLoader(yaml.SafeLoader):
    """GitLab's `!reference [job, key]` tag, kept as a list."""


_GitLabLoader.add_constructor(
    "!reference", lambda loader, node: ["!reference", *loader.construct_sequence(node)]
)


def template() -> dict:
    return yaml.load(TEMPLATE.read_text(), Loader=_GitLabLoader)


def script(job: str, key: str) -> str:
    """A hidden job's `key` with its `!reference`s expanded, as one shell script."""
    jobs = template()

    def expand(lines: list) -> list[str]:
        out: list[str] = []
        for line in lines:
            if isinstance(line, list) and line[0] == "!reference":
                out += expand(jobs[line[1]][line[2]])
            else:
                out.append(line)
        return out

    return "\n".join(expand(jobs[job][key]))
