"""Policy-driven tag deletion that never deletes what the policy keeps.

policy      small named keep rules and the deletion candidates, validated once
policyfile  the YAML policy file (with line numbers in every error), --print-policy
gitrefs     keep tags named after live git branches, tags and recent commits
gitview     the git rule's full view: the remote's live refs, or stop (fail closed)
state       a snapshot of a repository: tags, digests, times, children, referrers
plan        a pure function (state, policy) → plan, with the safety rules
execute     deleting a plan: re-read, re-plan, delete in parallel, referrers last
outcome     what was deleted, kept, skipped and failed
report      the outcome as a table, JSON or Markdown
run         one repository or all of them, dry-run or real
"""

from __future__ import annotations

from drivers.cleanup.outcome import Entry, Outcome
from drivers.cleanup.policy import Policy, build_policy
from drivers.cleanup.policyfile import (
    effective_policy,
    load_policy_file,
    policy_json,
    render_policy,
)
from drivers.cleanup.run import cleanup, cleanup_repository, plan_repository

__all__ = [
    "Entry",
    "Outcome",
    "Policy",
    "build_policy",
    "cleanup",
    "cleanup_repository",
    "effective_policy",
    "load_policy_file",
    "plan_repository",
    "policy_json",
    "render_policy",
]
