"""bench/rollout.py's own logic: reading profile_tasks' summary (from a real ansible-playbook run, and from
its format's corner cases), the recap, when it refuses to run, the environment it gives Ansible, the chart.
Nothing here is timed, and no playbook of the collection is run."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from bench import rollout
from bench.common import ROOT
from bench.rollout import TaskTime

LONG_NAME = "a task whose name is longer than the line, so that no dashes are left at all, none at all"


def summary_row(name: str, seconds: float, columns: int = 80) -> str:
    """A summary line as profile_tasks formats one (name and dashes, then the time right-aligned in 9)."""
    return "{0:-<{2}}{1:->9}".format(name + " ", f" {seconds:.02f}s", columns - 9)


def recap_block(rows: list[str]) -> str:
    return "\n".join(
        [
            "PLAY RECAP *********************************************************************",
            "localhost                  : ok=3    changed=1    unreachable=0    failed=0    skipped=0",
            "",
            "TASKS RECAP ********************************************************************",
            "Thursday 03 December 2026  18:00:00 +0000 (0:00:00.035)       0:00:01.885 *****",
            "===============================================================================",
            *rows,
            "",
        ]
    )


def test_the_summary_rows_are_read_with_their_names_and_times() -> None:
    rows = [
        summary_row("meshlab.mesh.runtime : Build the wheelhouse on the controller", 14.06),
        summary_row("meshlab.mesh.bookinfo : Wait - then check - each app", 2.5),
        summary_row(LONG_NAME, 1234.5),
        summary_row("Gathering Facts", 0.0),
    ]

    parsed = rollout.parse_profile_tasks("TASK [x] ***\nok: [localhost]\n" + recap_block(rows) + "done\n")

    assert parsed == [
        TaskTime("meshlab.mesh.runtime : Build the wheelhouse on the controller", 14.06),
        TaskTime("meshlab.mesh.bookinfo : Wait - then check - each app", 2.5),
        TaskTime(LONG_NAME, 1234.5),
        TaskTime("Gathering Facts", 0.0),
    ]


def test_output_without_the_summary_gives_no_rows() -> None:
    assert rollout.parse_profile_tasks("PLAY RECAP ***\nlocalhost : ok=1 changed=0\n") == []
    assert rollout.parse_profile_tasks("TASKS RECAP ****\nThursday …\n") == []
    assert rollout.parse_profile_tasks("") == []


def test_the_slowest_come_first_and_are_cut_to_the_count() -> None:
    rows = [TaskTime("a", 1.0), TaskTime("b", 3.0), TaskTime("c", 2.0), TaskTime("d", 0.5)]

    assert rollout.slowest(rows, 2) == [TaskTime("b", 3.0), TaskTime("c", 2.0)]
    assert rollout.slowest(rows, 10) == sorted(rows, key=lambda r: -r.seconds)
    assert rollout.describe_tasks("site.yml", rollout.slowest(rows, 2)) == (
        "slowest tasks, site.yml: 1) b 3.00 s; 2) c 2.00 s"
    )
    assert rollout.describe_tasks("x", []) == "slowest tasks, x: none timed"


def test_the_recap_is_summed_over_hosts() -> None:
    output = (
        "PLAY RECAP ***\n"
        "node-1                     : ok=10   changed=2    unreachable=0    failed=0    skipped=1\n"
        "node-2                     : ok=7    changed=0    unreachable=1    failed=1    skipped=0\n"
    )

    assert rollout.recap(output) == {"ok": 17, "changed": 2, "unreachable": 1, "failed": 1}
    assert rollout.recap("no recap") == {}


def test_a_real_playbook_run_is_profiled_and_read(tmp_path: Path) -> None:
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "- name: Two tasks\n"
        "  hosts: localhost\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - name: First, a short one\n"
        "      ansible.builtin.debug:\n"
        "        msg: one\n"
        "    - name: Second, a pause\n"
        "      ansible.builtin.wait_for:\n"
        "        timeout: 1\n"
    )
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    localhost:\n      ansible_connection: local\n")
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    environment = rollout.profiled_environment(base, tmp_path / "t")

    done = subprocess.run(
        rollout.playbook_command(playbook, inventory),
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    rows = rollout.parse_profile_tasks(done.stdout)
    assert [row.task for row in rows] == ["Second, a pause", "First, a short one"]
    assert rows[0].seconds >= rows[1].seconds
    assert rollout.recap(done.stdout) == {"ok": 2, "changed": 0, "unreachable": 0, "failed": 0}


def test_profile_tasks_is_added_to_the_callbacks_already_enabled(tmp_path: Path) -> None:
    env = rollout.profiled_environment(
        {"PATH": "/bin", "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.timer"}, tmp_path
    )
    again = rollout.profiled_environment(env, tmp_path)

    assert env["ANSIBLE_CALLBACKS_ENABLED"] == "ansible.posix.timer,ansible.posix.profile_tasks"
    assert again["ANSIBLE_CALLBACKS_ENABLED"] == env["ANSIBLE_CALLBACKS_ENABLED"]
    assert env["PROFILE_TASKS_TASK_OUTPUT_LIMIT"] == "all"
    assert env["ANSIBLE_CONFIG"] == str(ROOT / "ansible.cfg")
    assert env["ANSIBLE_LOCAL_TEMP"] == str(tmp_path)


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield int(server.getsockname()[1])


def test_a_mesh_is_seen_by_its_directories_and_meshd_ports(tmp_path: Path, listener: int) -> None:
    present, absent = tmp_path / "opt-meshlab", tmp_path / "var-lib-meshd"
    present.mkdir()
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        free = int(closed.getsockname()[1])

    found = rollout.installed_mesh([present, absent], [listener, free])

    assert found == [str(present), f"port {listener} listening"]
    assert rollout.installed_mesh([absent], [free]) == []


def test_the_local_inventory_needs_from_nothing_and_says_what_it_found() -> None:
    installed = rollout.refusal(rollout.LOCAL_INVENTORY, False, ["/opt/meshlab", "port 15012 listening"])
    empty = rollout.refusal(rollout.LOCAL_INVENTORY, False, [])

    assert installed is not None and empty is not None
    assert "(a mesh is installed on this machine (/opt/meshlab, port 15012 listening))" in installed
    assert "(no mesh is found now)" in empty
    for problem in (installed, empty):
        assert problem.startswith(f"{rollout.LOCAL_INVENTORY} installs the mesh into /opt/meshlab")
        assert "--from-nothing" in problem and "teardown_confirm=yes" in problem and "--isolated" in problem
    assert rollout.refusal(rollout.LOCAL_INVENTORY, True, ["/opt/meshlab"]) is None
    assert rollout.refusal(rollout.LOCAL_INVENTORY, True, []) is None


def test_another_inventory_needs_from_nothing(tmp_path: Path) -> None:
    lab = ROOT / "inventories" / "lab"

    problem = rollout.refusal(lab, False, [])

    assert problem is not None and problem.startswith(f"{lab}: ") and "--from-nothing" in problem
    assert rollout.refusal(lab, True, []) is None


def test_options_that_do_not_go_together_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--isolated", "--from-nothing"], ["--runs", "2"], ["--top", "0"]):
        with pytest.raises(SystemExit):
            rollout.parse_args(argv)
    assert "--runs above 1 needs --from-nothing" in capsys.readouterr().err
    assert rollout.parse_args([]).inventory == rollout.LOCAL_INVENTORY
    assert rollout.parse_args(["--isolated", "--runs", "2"]).runs == 2


def test_chart_labels_lose_the_collection_prefix_and_their_middle_when_long() -> None:
    assert rollout.label("meshlab.mesh.runtime : Copy the wheelhouse") == "runtime : Copy the wheelhouse"
    long = "meshlab.mesh.bookinfo : " + "x" * 50 + " and the end of it"
    cut = rollout.label(long, width=40)
    assert len(cut) == 40 and cut.startswith("bookinfo : ") and cut.endswith("and the end of it"[-20:])


def bars(axis: Axes) -> list[Rectangle]:
    found = [patch for patch in axis.patches if isinstance(patch, Rectangle)]
    assert len(found) == len(axis.patches)
    return found


def test_the_chart_is_a_png_with_a_bar_for_each_task_even_when_names_repeat(tmp_path: Path) -> None:
    same = "meshlab.mesh.control_plane : Write the token"
    tasks = [TaskTime(same, 3.0), TaskTime(same, 2.0), TaskTime("runtime : Copy", 4.0)]
    runs = [
        rollout.PlaybookRun("site.yml from nothing", 12.5, 0, "", tmp_path / "a.txt", tasks),
        rollout.PlaybookRun("healthcheck.yml", 3.0, 0, "", tmp_path / "b.txt", [TaskTime("x", 1.0)]),
    ]

    top_two = rollout.slowest_chart(runs, 2)
    first, second = top_two.axes
    assert [bar.get_width() for bar in bars(first)] == [3.0, 4.0]  # slowest on top
    assert len(second.patches) == 1
    every = rollout.slowest_chart(runs, 10).axes[0]
    assert [bar.get_width() for bar in bars(every)] == [2.0, 3.0, 4.0]
    # Both tasks named alike keep a row each (on a categorical axis they would share one).
    labels = [tick.get_text() for tick in every.get_yticklabels()]
    assert labels == ["control_plane : Write the token", "control_plane : Write the token", "runtime : Copy"]
    assert len({bar.get_y() for bar in bars(every)}) == 3
    plt.close("all")

    path = rollout.plot_slowest(runs, 10, tmp_path / "out" / "chart.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
