"""One module per command group; each registers its commands on `ci_env.app.app`.

`COMMANDS` names the module that registers each command, in the order `portside --help`
lists them. The entry point imports only the module of the command it runs (start-up time,
docs/benchmarks.md), so a new command needs a line here as well as its module.
"""

from __future__ import annotations

COMMANDS: dict[str, str] = {
    "ci-env": "ci_env.commands.cienv",
    "cleanup": "ci_env.commands.cleanup",
    "tags": "ci_env.commands.registry",
    "inspect": "ci_env.commands.registry",
    "registries": "ci_env.commands.registry",
    "login": "ci_env.commands.registry",
    "logout": "ci_env.commands.registry",
    "pull": "ci_env.commands.transfer",
    "copy": "ci_env.commands.transfer",
}
