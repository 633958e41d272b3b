"""`portside ci-env`: give a CI job its own Docker config and print the exports that use it.

Steps, in order (nothing is created until every check has passed):

1. read the job's variables (integrations.gitlab / integrations.github); missing ones: exit 2;
2. load the source Docker config (`--docker-config` > PORTSIDE_DOCKER_CONFIG > DOCKER_CONFIG >
   ~/.docker) and DOCKER_AUTH_CONFIG; a malformed one: exit 2;
3. with `--verify`, ask the registry for a pull-scoped token with the job's credentials;
   refused: exit 3. This is the only network I/O ci-env does;
4. make the job directory (ci_env.jobdir), copy the source into it, write its `config.json`
   with the CI credentials (through drivers.auth.dockerconfig, mode 0600, atomically);
5. print the exports (ci_env.shell), and on GitHub append them to `$GITHUB_ENV`; the script
   also unsets a DOCKER_AUTH_CONFIG that names a CI registry (`shadowed_hosts`).

If anything fails after the directory was made, it is removed again; whatever fails, the
caller (`ci_env.cienv_options`) prints a script that stops the evaluating shell instead
(`ci_env.cienv_failure`).
"""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from ci_env import jobdir
from ci_env.cienv_options import CiEnvArgs
from ci_env.shell import Export, Kept, Line, Unset, is_safe, render_env_file, render_script
from drivers.auth import authkeys, dockerconfig
from drivers.auth.envconfig import ENV_VARIABLE, env_auths
from drivers.errors import InvalidInput, PortsideError
from integrations.platform import (
    GITHUB,
    CiJob,
    ci_registry_values,
    detect_platform,
    platform_title,
)

# Always exported, even over a value the user set: they are the point of ci-env.
CONFIG_VARIABLES = ("DOCKER_CONFIG", "PORTSIDE_DOCKER_CONFIG", "REGISTRY_AUTH_FILE")
_EXTENSIONS = {"sh": "sh", "fish": "fish", "powershell": "ps1"}


def run(args: CiEnvArgs, environ: Mapping[str, str] | None = None) -> None:
    env = os.environ if environ is None else environ
    if args.cleanup:
        from ci_env.cienv_cleanup import cleanup

        cleanup(args, env)
        return
    platform = args.platform or detect_platform(env)
    job = job_for(platform, env, args)
    source = _source(dockerconfig.config_dir(args.docker_config, env))
    config = dockerconfig.load(source)
    carried = env_auths(env)
    if args.verify and job.logins:
        from ci_env.cienv_verify import verify_logins

        verify_logins(job, repository(job, env), args.insecure_registry)
    base = jobdir.tmp_base(args.tmp_dir, env, platform)
    directory = jobdir.create(base, platform, job.job_key, source=source)
    made = [directory]
    try:
        _populate(made, source, config, carried, job, args, env)
    except BaseException:
        for path in made:
            jobdir.remove(path)
        raise


def _source(found: Path) -> Path:
    """The Docker config to copy. A job directory (PORTSIDE_DOCKER_CONFIG and DOCKER_CONFIG point
    at it after a first ci-env in the same shell) is never copied: its job's source is, so a
    second ci-env gives what the first gave. One that is gone is bad input: the record of its
    source went with it, and an empty config would silently drop the runner's."""
    doc = jobdir.marker(found)
    recorded = doc.get("source") if doc else None
    if isinstance(recorded, str) and recorded:
        return Path(recorded)
    if found.name.startswith(jobdir.PREFIX) and not os.path.lexists(found):
        raise InvalidInput(
            f"the Docker config {found} is a job directory that was removed by ci-env --cleanup",
            hint="unset PORTSIDE_DOCKER_CONFIG and DOCKER_CONFIG (or pass --docker-config) "
            "to say which config to copy",
        )
    return found


def job_for(platform: str, env: Mapping[str, str], args: CiEnvArgs) -> CiJob:
    if platform == GITHUB:
        from integrations.github import github_job

        return github_job(env, login=args.login, token=args.repo_github_token)
    from integrations.gitlab import gitlab_job

    return gitlab_job(env, login=args.login)


def repository(job: CiJob, env: Mapping[str, str]) -> str | None:
    """The repository later commands will use: the user's PORTSIDE_REPO, else the job's."""
    return env.get("PORTSIDE_REPO") or dict(job.values).get("PORTSIDE_REPO")


def exports(job: CiJob, directory: Path, env: Mapping[str, str]) -> list[Line]:
    """What to export, in order; a variable the user already set is Kept (except the three
    config variables)."""
    lines: list[Line] = [
        Export("DOCKER_CONFIG", str(directory)),
        Export("PORTSIDE_DOCKER_CONFIG", str(directory)),
        Export("REGISTRY_AUTH_FILE", str(directory / dockerconfig.CONFIG_FILENAME)),
    ]
    for name, value in [*job.values, *ci_registry_values(job)]:
        lines.append(Kept(name) if env.get(name) else Export(name, value))
    return lines


def _host(text: str) -> str:
    return dockerconfig.normalize_key(text)


def _populate(
    made: list[Path],
    source: Path,
    config: dockerconfig.DockerConfig,
    carried: Mapping[str, dockerconfig.AuthEntry],
    job: CiJob,
    args: CiEnvArgs,
    env: Mapping[str, str],
) -> None:
    """Fill the job directory `made[0]` and print (or write) the exports; a directory made on
    the way is appended to `made`, so that the caller removes it too if this fails."""
    directory = made[0]
    jobdir.copy_tree(source, directory)
    lines = exports(job, directory, env)
    shadowed = shadowed_hosts(carried, job, login=args.login)
    if shadowed:
        lines.append(Unset(ENV_VARIABLE))
    target = _destination(args, made, job)
    if args.as_env_file:
        text = render_env_file(lines)
    else:
        # A file is sourced, not split into words: it may carry a comment, stdout may not.
        title = platform_title(job.platform)
        header = f"portside ci-env: job-isolated Docker config for this {title} job"
        text = render_script(lines, args.shell, header=header if target else "")
    github = job.platform == GITHUB
    if github and env.get("GITHUB_ACTIONS") == "true":
        from integrations.github_files import add_masks

        # The credentials pass through config.json; mask them (and the `auth` base64 form the
        # file holds) before the file exists, so no later step can print them unmasked.
        add_masks(_mask_values(job))
    write_config(config, directory, job, login=args.login, carried=carried)
    for line in lines:
        if isinstance(line, Kept):
            sys.stderr.write(f"portside: {line.name} is already set; kept\n")
    if shadowed:
        _note_unset(
            shadowed, env_file=args.as_env_file, github_env=bool(github and env.get("GITHUB_ENV"))
        )
    if target:
        write_private(target, text)
    if github:
        _github_files(lines, directory, env)
    if target and args.as_file:
        write_stdout(target + "\n")
    elif not target:
        write_stdout(text)


def _destination(args: CiEnvArgs, made: list[Path], job: CiJob) -> str | None:
    """Where the output goes: `-o FILE`, else (with --as-file) a file in the job directory,
    else None for stdout.

    `. $(portside ci-env --as-file)`, unquoted, splits and globs the path it reads. When the job
    directory's path would not survive that (a --tmp-dir with spaces), the file goes into a
    second job directory for this job in a system temp dir whose path does (`jobdir.SCRIPT_BASES`);
    `--cleanup` removes both.
    """
    if args.output:
        return args.output
    if not args.as_file:
        return None
    name = "env." + ("env" if args.as_env_file else _EXTENSIONS[args.shell])
    if is_safe(str(made[0] / name)):
        return str(made[0] / name)
    for base in jobdir.SCRIPT_BASES:
        if is_safe(str(base)) and base.is_dir():
            try:
                made.append(jobdir.create(base, job.platform, job.job_key))
            except PortsideError:
                continue
            return str(made[-1] / name)
    sys.stderr.write(
        f"portside: note: {made[0]} holds characters that an unquoted $(…) splits; "
        'quote it: . "$(portside ci-env --as-file)"\n'
    )
    return str(made[0] / name)


def write_config(
    config: dockerconfig.DockerConfig,
    directory: Path,
    job: CiJob,
    *,
    login: bool,
    carried: Mapping[str, dockerconfig.AuthEntry] | None = None,
) -> None:
    """The job's `config.json`: the source's content, made safe to hold the CI credentials.

    - `credsStore` is dropped: a store is shared by every job of the user (the very thing ci-env
      avoids) and Docker would ask it before `auths`. Each host the source config lists with an
      empty `auths` placeholder (Docker's record of a login kept in the store) gets a
      `credHelpers` entry for that store instead, so those logins still work.
    - DOCKER_AUTH_CONFIG's entries (`carried`) go into `auths` under their own keys, replacing
      the source's entries for the same host (or namespace), and a host's `credHelpers` entry:
      docker puts the variable before every store, and tools that read only the job's config
      (podman, skopeo, buildah, docker before 28.3) then see the same credentials.
    - With the login, `credHelpers` entries for the CI registries are dropped (Docker asks a
      host's helper before `auths`), and `auths` gets exactly one entry per CI registry; it
      replaces a carried entry for that host, since the job's own login is the point of ci-env.
    - `currentContext` is dropped (the contexts directory is not copied), and the source's
      `cli-plugins` directory is added to `cliPluginsExtraDirs` (it is not copied either).
    """
    isolated = dockerconfig.relocated(config, directory)
    store = isolated.creds_store
    isolated.creds_store = None
    ci_hosts = {_host(login.registry) for login in job.logins} if login else set()
    if store:
        for key, entry in isolated.auths.items():
            if entry.is_empty and _host(key) not in ci_hosts:
                isolated.cred_helpers.setdefault(key, store)
    for key, entry in (carried or {}).items():
        isolated.replace_entry(key, entry)
        if not authkeys.parse_key(key).namespace:
            for helper_key in authkeys.host_keys(isolated.cred_helpers, key):
                del isolated.cred_helpers[helper_key]
    for key in [k for k in isolated.cred_helpers if _host(k) in ci_hosts]:
        del isolated.cred_helpers[key]
    if login:
        for item in job.logins:
            isolated.set_auth(item.registry, item.username, item.password)
    dockerconfig.pop_field(isolated.raw, "currentContext")
    plugins = config.directory / "cli-plugins"
    extra = isolated.raw.get("cliPluginsExtraDirs")
    if plugins.is_dir() and (extra is None or isinstance(extra, list)):
        isolated.raw["cliPluginsExtraDirs"] = [*(extra or []), str(plugins)]
    dockerconfig.save(isolated)


def shadowed_hosts(
    carried: Mapping[str, dockerconfig.AuthEntry], job: CiJob, *, login: bool
) -> list[str]:
    """The CI registries that DOCKER_AUTH_CONFIG names (under any key for the host), when ci-env
    logs into them.

    docker ≥ 28.3 (and portside, which reads the variable as docker does) take its entry over the
    job's login in config.json (docker/cli#6156): a GitLab deploy token kept there for private
    job images would serve `docker push $CI_REGISTRY_IMAGE`. Every entry is in the job's config
    by then (`write_config`), so the script unsets the variable and loses nothing. One that names
    no CI registry shadows nothing and stays: testcontainers and others read it.
    """
    if not login:
        return []
    named = {_host(key) for key in carried}
    return sorted({_host(item.registry) for item in job.logins} & named)


def _note_unset(hosts: list[str], *, env_file: bool, github_env: bool) -> None:
    """Say what happens to DOCKER_AUTH_CONFIG (never its content), and what to do where it
    cannot be unset: `KEY=VALUE` lines (an empty value is not unset, and a dotenv report passes
    it on to later jobs, whose private images GitLab's runner pulls with it) and `$GITHUB_ENV`."""
    named = (
        f"{ENV_VARIABLE} names {', '.join(hosts)}, which docker ≥ 28.3 and portside would use "
        "before the job's login"
    )
    if env_file:
        sys.stderr.write(
            f"portside: note: {named}; KEY=VALUE lines cannot unset it (an empty one would reach "
            f"later jobs): run `unset {ENV_VARIABLE}` in the scripts that use these variables "
            "(its entries are in the job's config)\n"
        )
    else:
        sys.stderr.write(f"portside: {named}; unset (its entries are in the job's config)\n")
    if github_env:
        sys.stderr.write(
            f"portside: note: later steps still get {ENV_VARIABLE} ($GITHUB_ENV cannot unset a "
            f"variable): run `unset {ENV_VARIABLE}` in them too\n"
        )


def _mask_values(job: CiJob) -> list[str]:
    values: list[str] = []
    for login in job.logins:
        pair = f"{login.username}:{login.password}".encode("utf-8", "surrogateescape")
        values += [login.password, base64.b64encode(pair).decode("ascii")]
    return values


def _github_files(lines: list[Line], directory: Path, env: Mapping[str, str]) -> None:
    from integrations.github_files import append_env, set_output

    if env.get("GITHUB_ENV"):
        append_env(env["GITHUB_ENV"], [(e.name, e.value) for e in lines if isinstance(e, Export)])
    if env.get("GITHUB_OUTPUT"):
        set_output(env["GITHUB_OUTPUT"], "docker-config", str(directory))


def write_private(path: str, text: str) -> None:
    """Write `text` to `path`, truncating it, with mode 0600."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(text.encode("utf-8", "surrogateescape"))
    except OSError as exc:
        raise PortsideError(
            f"cannot write {path}: {exc.strerror or exc}",
            hint="choose a writable file for -o",
        ) from None


def write_stdout(text: str) -> None:
    # Bytes, so a value holding bytes that are not UTF-8 (os.environ keeps them as surrogates)
    # reaches the shell unchanged.
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        sys.stdout.write(text)
        return
    buffer.write(text.encode("utf-8", "surrogateescape"))
    buffer.flush()
