"""The rollout: wall times of `ansible-playbook -i <inventory> playbooks/site.yml` from nothing, of its second
run (nothing left to change), and of `playbooks/healthcheck.yml`, with the slowest tasks of each, as
ansible.posix's `profile_tasks` callback (bundled with the `ansible` package) times them.

Two modes:

- the default, issue 13's: `inventories/local` (or `--inventory`), which installs into /opt/meshlab,
  /etc/meshlab, /var/lib/meshd… on the mesh's usual ports. "From nothing" is meant: with `--from-nothing`,
  `playbooks/teardown.yml -e teardown_confirm=yes` runs first (not timed) and removes whatever mesh is there;
  without it the benchmark refuses to start, saying whether it found a mesh on this machine (its
  directories, or something listening on meshd's ports): no mesh now is no proof that nothing else is about
  to use the same paths. The mesh stays installed afterwards, as after `make rollout`.
- `--isolated`: one host's worth of mesh as the integration tests build it
  (tests/integration/playbooks/mesh_host.py: every path under a temporary directory, free ports, a
  supervisord of its own), removed afterwards; nothing on this machine's mesh paths or ports is touched.

    .venv/bin/python -m bench.rollout --isolated
    .venv/bin/python -m bench.rollout --from-nothing          # inventories/local: tears the mesh down first
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common import OUT, ROOT, BenchError, Figure, Result

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MatplotlibFigure

PLAYBOOKS = ROOT / "playbooks"
LOCAL_INVENTORY = ROOT / "inventories" / "local"
PROFILE_CALLBACK = "ansible.posix.profile_tasks"
PLAYBOOK_TIMEOUT = 1800
#: What a mesh installed on this machine by inventories/local leaves (the roles' defaults) …
MESH_PATHS = (
    Path("/opt/meshlab"),
    Path("/etc/meshlab"),
    Path("/var/lib/meshd"),
    Path("/var/lib/meshlab"),
    Path("/run/meshlab"),
)
#: … and the ports its meshd listens on (discovery, monitoring, config API).
MESH_PORTS = (15012, 15014, 15080)
#: One line of profile_tasks' summary: the task's name, dashes, its time (`… ---- 12.34s`).
TASK_ROW = re.compile(r"^(?P<task>\S.*?) -* ?(?P<seconds>\d+\.\d+)s$")
RECAP_ROW = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+"
    r"failed=(?P<failed>\d+)",
    re.MULTILINE,
)


@dataclass(frozen=True)
class TaskTime:
    task: str
    seconds: float


def parse_profile_tasks(output: str) -> list[TaskTime]:
    """The rows of profile_tasks' summary (after its TASKS RECAP banner and the line of `=`), in its order."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("TASKS RECAP")), None)
    if start is None:
        return []
    rule = next((i for i in range(start + 1, len(lines)) if set(lines[i].strip()) == {"="}), None)
    if rule is None:
        return []
    rows = []
    for line in lines[rule + 1 :]:
        found = TASK_ROW.match(line.rstrip())
        if found is None:
            break
        rows.append(TaskTime(found["task"], float(found["seconds"])))
    return rows


def slowest(rows: Sequence[TaskTime], count: int) -> list[TaskTime]:
    return sorted(rows, key=lambda row: row.seconds, reverse=True)[:count]


def recap(output: str) -> dict[str, int]:
    """PLAY RECAP's counts summed over the hosts; empty when there is no recap (ansible stopped early)."""
    totals: dict[str, int] = {}
    for found in RECAP_ROW.finditer(output):
        for key in ("ok", "changed", "unreachable", "failed"):
            totals[key] = totals.get(key, 0) + int(found[key])
    return totals


def describe_tasks(title: str, rows: Sequence[TaskTime]) -> str:
    listed = "; ".join(f"{n}) {row.task} {row.seconds:.2f} s" for n, row in enumerate(rows, start=1))
    return f"slowest tasks, {title}: {listed or 'none timed'}"


# -- running playbooks --------------------------------------------------------------------------------------


@dataclass
class PlaybookRun:
    title: str
    wall_seconds: float
    returncode: int
    output: str
    log: Path
    tasks: list[TaskTime] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return recap(self.output)


def profiled_environment(base: Mapping[str, str], local_temp: Path) -> dict[str, str]:
    """ansible-playbook's environment: this checkout's ansible.cfg, profile_tasks on, listing every task."""
    enabled = [name for name in base.get("ANSIBLE_CALLBACKS_ENABLED", "").split(",") if name.strip()]
    if PROFILE_CALLBACK not in enabled:
        enabled.append(PROFILE_CALLBACK)
    venv_bin = str(Path(sys.executable).parent)
    return dict(
        base,
        PATH=f"{venv_bin}{os.pathsep}{base.get('PATH', '')}",
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default",
        ANSIBLE_CALLBACKS_ENABLED=",".join(enabled),
        PROFILE_TASKS_TASK_OUTPUT_LIMIT="all",
        PROFILE_TASKS_SORT_ORDER="descending",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCAL_TEMP=str(local_temp),
    )


def playbook_command(
    playbook: Path, inventory: Path, extra_vars: Mapping[str, Any] | None = None
) -> list[str]:
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(playbook)]
    if extra_vars:
        command += ["--extra-vars", json.dumps(dict(extra_vars))]
    return command


@dataclass
class Target:
    """Where the playbooks run: an inventory, a directory for logs and Ansible's temporary files, and the
    environment (the isolated host's leaves out the operator's credentials directory)."""

    inventory: Path
    work: Path
    environment: dict[str, str]

    def run(self, title: str, playbook: str, extra_vars: Mapping[str, Any] | None = None) -> PlaybookRun:
        name = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
        log = self.work / f"{name}.txt"
        command = playbook_command(PLAYBOOKS / playbook, self.inventory, extra_vars)
        env = profiled_environment(self.environment, self.work / "ansible-tmp")
        print(f"{title}: {' '.join(command)}", flush=True)
        started = time.monotonic()
        try:
            done = subprocess.run(
                command,
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=False,
                timeout=PLAYBOOK_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            raise BenchError(f"{title}: ansible-playbook ran over {PLAYBOOK_TIMEOUT} s") from None
        elapsed = time.monotonic() - started
        output = done.stdout + done.stderr
        log.write_text(output)
        run = PlaybookRun(title, elapsed, done.returncode, output, log, parse_profile_tasks(done.stdout))
        if done.returncode != 0:
            raise BenchError(f"{title}: ansible-playbook exited with {done.returncode} (its output: {log})")
        print(f"{title}: {elapsed:.1f} s, {run.counts}", flush=True)
        return run


# -- where -------------------------------------------------------------------------------------------------


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1.0)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def installed_mesh(paths: Sequence[Path] = MESH_PATHS, ports: Sequence[int] = MESH_PORTS) -> list[str]:
    """What shows a mesh on this machine: its directories that exist, meshd's ports something listens on."""
    found = [str(path) for path in paths if path.exists()]
    found += [f"port {port} listening" for port in ports if listening(port)]
    return found


def refusal(inventory: Path, from_nothing: bool, found: Sequence[str]) -> str | None:
    """Why the benchmark must not run against `inventory` without --from-nothing (None with it).

    Always refused without it: a mesh not installed yet is no sign that nothing else is about to install one
    on the same paths and ports (a test run between its phases), and a run from nothing needs a teardown.
    """
    if from_nothing:
        return None
    if inventory.resolve() != LOCAL_INVENTORY.resolve():
        return (
            f"{inventory}: this benchmark measures site.yml from nothing and cannot see whether that "
            "inventory's hosts have a mesh; pass --from-nothing to run playbooks/teardown.yml on them first"
        )
    now = f"a mesh is installed on this machine ({', '.join(found)})" if found else "no mesh is found now"
    return (
        f"{inventory} installs the mesh into /opt/meshlab, /etc/meshlab and /var/lib/meshd on meshd's usual "
        f"ports ({now}): pass --from-nothing to confirm, which removes any mesh there first "
        "(playbooks/teardown.yml -e teardown_confirm=yes), or --isolated to measure a mesh of its own under "
        "a temporary directory"
    )


@contextlib.contextmanager
def local_target(inventory: Path, from_nothing: bool, work: Path) -> Iterator[Target]:
    problem = refusal(inventory, from_nothing, installed_mesh())
    if problem is not None:
        raise BenchError(problem)
    target = Target(inventory, work, dict(os.environ))
    if from_nothing:
        target.run("teardown first", "teardown.yml", {"teardown_confirm": "yes"})
    yield target


@contextlib.contextmanager
def isolated_target(work: Path) -> Iterator[Target]:
    """A fresh host under a temporary directory (tests/integration/playbooks/mesh_host.py), removed after."""
    # Only this mode needs the integration tests' host, imported here so that the default mode does not;
    # by importlib, so that `mypy --strict bench/rollout.py` does not type-check the test tree (its own
    # settings) too.
    mesh_host: Callable[[Path], contextlib.AbstractContextManager[Any]] = importlib.import_module(
        "tests.integration.playbooks.mesh_host"
    ).mesh_host

    controller = Path(tempfile.mkdtemp(prefix="bench-rollout-controller-"))
    environment = {k: v for k, v in os.environ.items() if k != "MESHLAB_CREDENTIALS_DIR"}
    try:
        with mesh_host(controller) as mesh:
            yield Target(mesh.inventory, work, environment)
    except AssertionError as error:
        # mesh_host checks on leaving that nothing it started is left running.
        raise BenchError(f"the isolated host was not cleaned up: {error}") from None
    finally:
        shutil.rmtree(controller, ignore_errors=True)


# -- the report ---------------------------------------------------------------------------------------------


def slowest_chart(runs: Sequence[PlaybookRun], count: int) -> MatplotlibFigure:
    """One horizontal bar chart per playbook run: its `count` slowest tasks, slowest on top."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(runs), 1, figsize=(12, 3 + 2.6 * len(runs)), squeeze=False)
    for axis, run in zip(axes[:, 0], runs, strict=True):
        rows = slowest(run.tasks, count)[::-1]
        # Positions, not names, on the axis: two tasks may have the same name (a role run twice).
        positions = list(range(len(rows)))
        axis.barh(positions, [row.seconds for row in rows], color="#4c72b0")
        axis.set_yticks(positions, labels=[label(row.task) for row in rows])
        axis.set_title(f"{run.title}: {run.wall_seconds:.1f} s in all")
        axis.set_xlabel("seconds (profile_tasks)")
        axis.tick_params(axis="y", labelsize=8)
    figure.tight_layout()
    return figure


def plot_slowest(runs: Sequence[PlaybookRun], count: int, path: Path) -> Path:
    """slowest_chart written to `path` as a PNG."""
    import matplotlib.pyplot as plt

    figure = slowest_chart(runs, count)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def label(task: str, width: int = 80) -> str:
    """A task's name for the chart: without the collection's prefix, its middle cut when still too long."""
    text = task.removeprefix("meshlab.mesh.")
    if len(text) <= width:
        return text
    half = (width - 1) // 2
    return text[:half] + "…" + text[len(text) - (width - 1 - half) :]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.rollout", description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--isolated", action="store_true", help="a host of its own under a temp directory")
    where.add_argument(
        "-i", "--inventory", type=Path, default=LOCAL_INVENTORY, help="default inventories/local"
    )
    parser.add_argument(
        "--from-nothing",
        action="store_true",
        help="run playbooks/teardown.yml (teardown_confirm=yes) on the inventory first",
    )
    parser.add_argument("--runs", type=int, default=1, help="rollouts from nothing (default 1)")
    parser.add_argument("--top", type=int, default=10, help="slowest tasks listed (default 10)")
    args = parser.parse_args(argv)
    if args.isolated and args.from_nothing:
        parser.error("--from-nothing is for an inventory; --isolated always starts from nothing")
    if args.runs < 1 or args.top < 1:
        parser.error("--runs and --top must be at least 1")
    if args.runs > 1 and not (args.isolated or args.from_nothing):
        parser.error("--runs above 1 needs --from-nothing (a teardown before each run) or --isolated")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except BenchError as error:
        print(f"bench-rollout: {error}", file=sys.stderr)
        return 1


def one_rollout(target: Target) -> list[PlaybookRun]:
    return [
        target.run("site.yml from nothing", "site.yml"),
        target.run("site.yml second run", "site.yml"),
        target.run("healthcheck.yml", "healthcheck.yml"),
    ]


def run(args: argparse.Namespace) -> int:
    command = "python -m bench.rollout " + " ".join(sys.argv[1:])
    result = Result(bench="rollout", command=command.strip())
    work = OUT / "rollout"
    work.mkdir(parents=True, exist_ok=True)
    result.mark_load("start")
    rollouts: list[list[PlaybookRun]] = []
    for number in range(1, args.runs + 1):
        if args.isolated:
            with isolated_target(work) as target:
                rollouts.append(one_rollout(target))
        else:
            with local_target(args.inventory, args.from_nothing, work) as target:
                rollouts.append(one_rollout(target))
        result.mark_load(f"after run {number}")
    where = (
        "an isolated host (tests/integration/playbooks/mesh_host.py)"
        if args.isolated
        else str(args.inventory)
    )
    for index, title in enumerate(("site.yml from nothing", "site.yml second run", "healthcheck.yml")):
        result.add(
            Figure(
                name=f"{title}, {where}",
                unit="s",
                runs=tuple(rollout[index].wall_seconds for rollout in rollouts),
                target="reported",
            )
        )
    last = rollouts[-1]
    result.notes.append(f"second run's recap: {last[1].counts} (changed should be 0)")
    result.notes += [describe_tasks(run.title, slowest(run.tasks, args.top)) for run in last]
    plot = plot_slowest(last, args.top, OUT / "rollout-slowest-tasks.png")
    result.plots.append(str(plot.relative_to(ROOT)))
    path = result.write()
    for figure in result.figures:
        print(f"{figure.name}: median {figure.value:.1f} s over {len(figure.runs)} run(s)")
    for note in result.notes:
        print(note)
    print(f"load average {result.load}; written to {path} and {plot}; playbook output in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
