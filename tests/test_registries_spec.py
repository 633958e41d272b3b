"""One spec per implementation (drivers/registries/spec.py, table.py, options.py): a spec
declared in a test alone gives cleanup and tags its option and env twin, and its driver the
value; the one precedence function; the docs' table of credential options; light specs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.auth.credentials import ANONYMOUS, Credential
from drivers.errors import InvalidInput
from drivers.registries import table
from drivers.registries.default_driver import DefaultDriver
from drivers.registries.options import NativeCredentials, resolve_native_credentials
from drivers.registries.spec import CredentialOption, RegistrySpec, username_and_password
from tests.bed import oci_image, push_image_raw
from tests.cli import run_cli

ROOT = Path(__file__).resolve().parent.parent
TOKEN = CredentialOption("--repo-throwaway-token", "Throwaway API token.", secret=True)
SECRET = "canary-throwaway-3c1f9"


class RecordingDriver(DefaultDriver):
    """The throwaway implementation's driver: the Registry v2 behaviour, and a record of the
    credentials it was built with."""

    built: list[NativeCredentials] = []  # noqa: RUF012  (a record, reset by the fixture)

    def __init__(self, client, options, credentials: NativeCredentials) -> None:
        super().__init__(client, name="throwaway")
        RecordingDriver.built.append(credentials)


@pytest.fixture
def throwaway(monkeypatch) -> RegistrySpec:
    """A spec registered by this test alone: nothing outside this file names it."""
    spec = RegistrySpec(
        "throwaway",
        "A throwaway registry",
        "never by host",
        "like default",
        driver=RecordingDriver,
        credentials=(TOKEN,),
    )
    monkeypatch.setitem(table.SPECS, spec.name, spec)
    monkeypatch.delenv(TOKEN.envvar, raising=False)
    RecordingDriver.built = []
    return spec


@pytest.fixture
def repository(docker_config, registry_plain, unique_repo) -> str:
    for tag in ("v1", "ci-1"):
        push_image_raw(registry_plain.url, unique_repo, oci_image(f"{unique_repo}-{tag}"), tag)
    return f"{registry_plain.host}/{unique_repo}"


def test_a_spec_declared_in_a_test_reaches_help_env_twin_and_driver(
    capsys, monkeypatch, throwaway, repository
):
    """Through the real entry point."""
    monkeypatch.setenv("COLUMNS", "200")  # rich cuts long option names in narrow help
    help_text = run_cli(capsys, "cleanup", "--help").out
    assert "--repo-throwaway-token" in help_text and "Throwaway API token." in help_text
    assert "--repo-throwaway-token" in run_cli(capsys, "tags", "--help").out

    argv = ["cleanup", repository, "--repo-container-registry", "throwaway"]
    argv += ["--delete-tag", "ci-.*", "--dry-run"]

    def built() -> list[tuple]:
        return [(c[TOKEN], c.source(TOKEN)) for c in RecordingDriver.built]

    for flag, env, expected in (
        (["--repo-throwaway-token", SECRET], "from-env", (SECRET, "--repo-throwaway-token")),
        ([], SECRET, (SECRET, f"${TOKEN.envvar}")),
        ([], "", ("", "")),
    ):
        monkeypatch.setenv(TOKEN.envvar, env)
        RecordingDriver.built = []
        result = run_cli(capsys, *argv, *flag)
        assert result.code == 0, result.text
        assert "1 to delete, 1 kept" in result.out
        assert built() == [expected]

    monkeypatch.setenv(TOKEN.envvar, SECRET)
    RecordingDriver.built = []
    listed = run_cli(capsys, "tags", repository, "--repo-container-registry", "throwaway")
    assert listed.code == 0, listed.text
    assert listed.out.split() == ["ci-1", "v1"]
    assert built() == [(SECRET, f"${TOKEN.envvar}")]
    assert SECRET not in repr(RecordingDriver.built[0])


def test_registries_lists_the_credential_options_of_each_spec(capsys, throwaway):
    rows = {r["name"]: r for r in json.loads(run_cli(capsys, "registries", "--json").out)}
    assert rows["throwaway"]["credential_options"] == [
        {
            "flag": "--repo-throwaway-token",
            "env": "PORTSIDE_REPO_THROWAWAY_TOKEN",
            "secret": True,
            "group": None,
            "help": "Throwaway API token.",
        }
    ]
    assert [o["flag"] for o in rows["gitlab"]["credential_options"]] == [
        "--repo-gitlab-token",
        "--repo-gitlab-url",
    ]


def test_a_driver_whose_sdk_is_missing_names_the_pip_line(capsys, monkeypatch, repository):
    spec = RegistrySpec(
        "needs-sdk",
        "needs an SDK",
        "never",
        "never",
        driver=RecordingDriver,
        extra="aws",
        sdk=("portside_no_such_sdk",),
    )
    monkeypatch.setitem(table.SPECS, spec.name, spec)
    result = run_cli(capsys, "tags", repository, "--repo-container-registry", "needs-sdk")
    assert result.code == 2, result.text
    assert "portside_no_such_sdk" in result.err
    assert "pip install 'portside[aws]'" in result.err


# -- the one precedence -------------------------------------------------------------------

USER = CredentialOption("--repo-pair-username", "user", group="login")
PASSWORD = CredentialOption("--repo-pair-password", "password", secret=True, group="login")
PAIR = RegistrySpec(
    "pair",
    "a login pair",
    "never",
    "never",
    credentials=(USER, PASSWORD, TOKEN),
    from_docker_config=username_and_password(USER, PASSWORD),
)
STORED = Credential(username="stored-user", password="stored-pw", source="the Docker config")


def values(found: NativeCredentials) -> dict[str, tuple[str, str]]:
    options = (USER, PASSWORD, TOKEN)
    return {o.flag: (found[o], found.source(o)) for o in options if found[o]}


def test_option_beats_env_twin_beats_docker_config_beats_anonymous():
    env = {USER.envvar: "env-user", PASSWORD.envvar: "env-pw", TOKEN.envvar: ""}
    given = {USER.flag: "cli-user"}
    assert values(resolve_native_credentials(PAIR, given, STORED, env)) == {
        USER.flag: ("cli-user", USER.flag),
        PASSWORD.flag: ("env-pw", f"${PASSWORD.envvar}"),
    }
    # Neither the options nor their twins: the Docker config's entry fills the pair.
    assert values(resolve_native_credentials(PAIR, {}, STORED, {})) == {
        USER.flag: ("stored-user", "the Docker config"),
        PASSWORD.flag: ("stored-pw", "the Docker config"),
    }
    # Any option given (here the token's twin) leaves the Docker config alone.
    found = resolve_native_credentials(PAIR, {}, STORED, {TOKEN.envvar: SECRET})
    assert values(found) == {TOKEN.flag: (SECRET, f"${TOKEN.envvar}")}
    anonymous = resolve_native_credentials(PAIR, {}, ANONYMOUS, {})
    assert values(anonymous) == {} and not anonymous


@pytest.mark.parametrize(
    ("given", "env"),
    [
        ({USER.flag: "u"}, {}),
        ({}, {PASSWORD.envvar: "p"}),
        ({USER.flag: "u"}, {PASSWORD.envvar: ""}),
    ],
)
def test_options_that_go_together_are_bad_input_alone(given, env):
    with pytest.raises(InvalidInput, match="go together; --repo-pair-"):
        resolve_native_credentials(PAIR, given, STORED, env)


def test_half_a_login_pair_is_exit_2_before_any_deletion(capsys, monkeypatch, repository):
    monkeypatch.delenv("PORTSIDE_REPO_HARBOR_PASSWORD", raising=False)
    result = run_cli(
        capsys, "cleanup", repository, "--repo-container-registry", "harbor",
        "--repo-harbor-username", "robot$ci", "--delete-tag", "ci-.*",
    )  # fmt: skip
    assert result.code == 2, result.text
    assert "--repo-harbor-username" in result.err and "PORTSIDE_REPO_HARBOR_PASSWORD" in result.err


def test_the_repr_of_credentials_hides_secrets():
    found = resolve_native_credentials(PAIR, {USER.flag: "who", PASSWORD.flag: SECRET}, STORED)
    assert SECRET not in repr(found) and "'who'" in repr(found)


# -- specs, the docs and start-up ---------------------------------------------------------


def credential_table() -> str:
    """docs/registries.md's table of credential options, as the specs say it."""
    rows = ["| implementation | option | env twin | secret | goes with |", "|---|---|---|---|---|"]
    for spec in table.SPECS.values():
        for option in spec.credentials:
            mates = [o.flag for o in spec.credentials if option.group and o.group == option.group]
            rows.append(
                f"| `{spec.name}` | `{option.flag}` | `{option.envvar}` | "
                f"{'yes' if option.secret else 'no'} | "
                f"{', '.join(f'`{m}`' for m in mates if m != option.flag) or '—'} |"
            )
    return "\n".join(rows)


def test_the_docs_list_each_registrys_credential_options_as_the_specs_do():
    doc = (ROOT / "docs" / "registries.md").read_text()
    found = re.search(r"<!-- credential options: .*? -->\n(.*?)\n<!-- end -->", doc, re.S)
    assert found, "docs/registries.md lost its table of credential options"
    assert found.group(1).strip() == credential_table(), (
        "docs/registries.md differs from the specs; the table should read:\n" + credential_table()
    )


def test_every_implementation_module_declares_one_spec_under_its_name():
    assert list(table.SPECS) == list(table.MODULES)
    flags = [o.flag for spec in table.SPECS.values() for o in spec.credentials]
    assert len(flags) == len(set(flags))
    with pytest.raises(ValueError, match="registered already"):
        table.register(table.SPECS["quay"])


def test_reading_every_spec_loads_no_http_stack_and_no_sdk():
    """The CLI builds its options from the specs on every start; that must stay cheap."""
    code = (
        "import sys\n"
        "from ci_env.options import credential_options\n"
        "assert credential_options()\n"
        "heavy = ('ssl', 'http.client', 'boto3', 'github', 'gitlab', 'azure',\n"
        "         'drivers.http.transport')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
