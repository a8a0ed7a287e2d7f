"""A real browser check: JupyterLab, started as `python3 run.py lab` starts it, in Chromium.

nbval runs every notebook's kernel, but never renders a widget. Learners use JupyterLab in a
browser, and widget rendering is what breaks first when versions drift (ipywidgets in the
kernel against jupyterlab_widgets in the page). So this module starts the JupyterLab server
with the command `run.py lab` builds (plus a free port, a token and --no-browser), opens it in
headless Chromium driven by Playwright, and then, as a learner would:

* opens notebook 04, clears its outputs, runs all cells, moves the time-travel slider with the
  keyboard and checks that the view shows the state of the version chosen, as
  ``esteach.state_at`` computes it in this process;
* opens notebook 05, runs it, and checks that the plot is shown as an image.

The browser is Debian's ``chromium`` package (Playwright's own browser downloads need network;
``.ci/run`` installs the package when it is missing). Without it the test fails and says how
to install it: it is never skipped. Screenshots and the server's log are written to
``test-artifacts/browser/``, whose path the test prints.

The server runs as `run.py lab` runs it (the repository as Jupyter's root), but opens the tracked
notebooks in ``notebooks/``, not a learner's working copies in ``workspace/`` (it makes none),
and cannot change them: autosave is off, checkpoints go to a temporary folder, and the server's
fixture fails at teardown if the notebooks' bytes changed all the same.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from esteach import InMemoryEventStore, load_sample, state_at
from esteach.domains.user import User
from esteach.notebook.explorer import explorer_text

# Without Playwright the `browser` fixture fails every test here, saying how to install it.
with contextlib.suppress(ImportError):
    from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = Path(os.environ.get("ESTEACH_CHROMIUM", "/usr/bin/chromium"))
INSTALL_CHROMIUM = "sudo apt-get update && sudo apt-get install -y chromium"
# The machines that run this have no network: nothing in Chromium may try to reach it.
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SERVER_START_TIMEOUT = 60.0  # seconds until /api/status answers
RUN_ALL_TIMEOUT = 180.0  # seconds for one notebook's Run All (04 and 05 take about 10 s)
UPDATE_TIMEOUT_MS = 15_000  # a slider move: browser -> kernel -> browser

# JupyterLab user settings for the test's server (JUPYTERLAB_SETTINGS_DIR points at a copy):
# never save the notebooks it runs, and ask no one about news (no network, and no pop-up
# over the page in the screenshots).
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}

# Code-cell prompts, and the text of error outputs, of the notebook shown.
NOTEBOOK_STATE_JS = """() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return {prompts: [], errors: []};
  const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
    .map(e => e.textContent.trim());
  const errors = [...panel.querySelectorAll(
      '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
    .map(e => e.textContent)
    .filter(t => /Traceback|Error:/.test(t));
  return {prompts, errors};
}"""


# --- the JupyterLab server, as `python3 run.py lab` starts it -----------------------------------


def run_py_lab_command(extra: list[str]) -> tuple[list[str], dict[str, str]]:
    """The command `python3 run.py lab EXTRA...` runs, and its environment, from run.py itself.

    `run.py lab` also makes the working copies in workspace/; this takes only the command. The
    .venv's Python is replaced by this one (the same interpreter under `run.py test`; in a
    conda environment the environment's).
    """
    spec = importlib.util.spec_from_file_location("esteach_run_py", ROOT / "run.py")
    assert spec and spec.loader
    run_py = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_py)
    command = [str(arg) for arg in run_py.lab_command(extra)]
    assert command[0] == str(run_py.PYTHON), command
    return [sys.executable, *command[1:]], run_py.lab_environment()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def notebook_bytes() -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(NOTEBOOKS.glob("*.ipynb"))
    }


class Lab:
    """A running JupyterLab server: its URL, token and log."""

    def __init__(self, port: int, token: str, log: Path) -> None:
        self.base_url = f"http://127.0.0.1:{port}"
        self.token = token
        self.log = log

    def url(self, path: str, query: str = "") -> str:
        return f"{self.base_url}/{path.lstrip('/')}?{query}{'&' if query else ''}token={self.token}"

    def kernel_ready(self, notebook: str) -> bool:
        """Whether the server has a session for `notebook` whose kernel is idle and connected."""
        with urllib.request.urlopen(self.url("api/sessions"), timeout=5) as response:
            sessions = json.load(response)
        return any(
            session.get("path") == notebook
            and session["kernel"].get("execution_state") == "idle"
            and session["kernel"].get("connections", 0) > 0
            for session in sessions
        )

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@pytest.fixture(scope="module")
def artifacts(request: pytest.FixtureRequest) -> Path:
    """test-artifacts/browser/, emptied first; its path is printed, also when the test passes."""
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    # Printed past pytest's output capture, so that the log of a passing run shows it too.
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print(f"\nbrowser test artifacts (screenshots, JupyterLab log): {ARTIFACTS}", flush=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def lab(artifacts: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab on notebooks/, started with run.py's command; stopped, with its kernels, after.

    The server's process group is ended on the way out, whatever happened in the tests.
    """
    home = tmp_path_factory.mktemp("jupyterlab")
    settings = home / "settings"
    for name, values in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values), encoding="utf-8")
    port, token = free_port(), secrets.token_hex(16)
    command, lab_env = run_py_lab_command(
        [
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",  # fail on a taken port, not drift to another
            f"--IdentityProvider.token={token}",
            # Checkpoints outside the repository (the folder is used as given when absolute).
            f"--FileCheckpoints.checkpoint_dir={home / 'checkpoints'}",
        ]
    )
    env = {
        **lab_env,
        "ESTEACH_SIZE": "small",  # the heavy cells at test size, as under nbval
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
    }
    log = artifacts / "jupyterlab.log"
    before = notebook_bytes()
    with log.open("wb") as out:
        server = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the kernels go down with it
        )
    running = Lab(port, token, log)
    try:
        wait_for_server(server, running)
        yield running
    finally:
        stop(server)
    assert notebook_bytes() == before, "the browser test changed notebooks/*.ipynb"


def wait_for_server(server: subprocess.Popen[bytes], lab: Lab) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while True:
        if server.poll() is not None:
            pytest.fail(
                f"JupyterLab exited with code {server.returncode} before it answered. "
                f"Its log ({lab.log}) ends:\n{lab.log_tail()}"
            )
        try:
            with urllib.request.urlopen(lab.url("api/status"), timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(
                f"JupyterLab did not answer {lab.base_url}/api/status within "
                f"{SERVER_START_TIMEOUT:.0f} s. Its log ({lab.log}) ends:\n{lab.log_tail()}"
            )
        time.sleep(0.2)


def stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group (Jupyter shuts its kernels down), then SIGKILL."""
    group = server.pid  # start_new_session made the server its group's leader
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
        server.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError):  # a kernel that outlived its server
        os.killpg(group, signal.SIGKILL)


# --- the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium, driven by Playwright. Missing either: fail, saying so."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as error:
        pytest.fail(
            f"The browser test needs Playwright for Python ({error}). It is a dev dependency: "
            f"`python3 run.py setup` installs it (or pip install playwright).",
            pytrace=False,
        )
    if not CHROMIUM.exists():
        pytest.fail(
            f"The browser test needs Chromium at {CHROMIUM}, and it is not installed. "
            f"On Debian: `{INSTALL_CHROMIUM}` (.ci/run does this in CI). Elsewhere (Ubuntu's "
            f"is a snap, macOS, Windows), set ESTEACH_CHROMIUM to a Chromium or Chrome binary.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
            )
        except Error as error:
            pytest.fail(
                f"Chromium at {CHROMIUM} is installed but did not start: {error}\n"
                f"Reinstall it (`{INSTALL_CHROMIUM}`).",
                pytrace=False,
            )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, artifacts: Path, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh page; how it looked when the test ended is saved, failed or not."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    opened = context.new_page()
    try:
        yield opened
    finally:
        opened.screenshot(path=artifacts / f"{request.node.name}-at-the-end.png")
        context.close()


def open_notebook(page: Page, lab: Lab, name: str) -> None:
    """Open notebooks/NAME (the tracked copy) alone in JupyterLab; wait until its kernel is ready.

    `reset` starts from an empty workspace, so the notebooks an earlier page had open do not
    come back (with their kernels' status in the status bar).
    """
    path = f"notebooks/{name}"  # the server's root is the repository
    page.goto(lab.url(f"lab/tree/{path}", query="reset"))
    page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
    # The toolbar's indicator says "idle" once before the kernel even starts, so first ask the
    # server: a session for this notebook, its kernel idle, and the page connected to it.
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while not lab.kernel_ready(path):
        if time.monotonic() > deadline:
            pytest.fail(f"{name}: no idle kernel connected to it within {SERVER_START_TIMEOUT} s")
        time.sleep(0.2)
    indicator = page.locator(
        ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator"
    )
    expect(indicator).to_have_attribute("data-status", "idle", timeout=30_000)


def menu(page: Page, top: str, item: str) -> None:
    """Click a menu bar entry, e.g. Run -> Run All Cells, as a learner does."""
    page.locator("#jp-menu-panel").get_by_role("menuitem", name=top, exact=True).click()
    page.get_by_role("menuitem", name=item, exact=True).click()


def run_all_cells(page: Page, name: str) -> None:
    """Clear every output, Run All Cells, and wait until each code cell ran, top to bottom.

    The stored notebook already shows outputs and prompts [1], [2], ...; clearing them first
    makes what is seen afterwards this run's. Fails early, with the traceback, on an error.
    """
    # Counted in the file, not on the page: JupyterLab attaches a long notebook's cells to the
    # page a few at a time after opening it, so a count taken from the page too early was
    # short, and the wait below then never saw its list (all 24 cells of 04 had run).
    count = code_cells(name)
    deadline = time.monotonic() + 60
    while len(page.evaluate(NOTEBOOK_STATE_JS)["prompts"]) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"{name}: JupyterLab did not show all {count} code cells within 60 s")
        time.sleep(0.1)
    menu(page, "Edit", "Clear Outputs of All Cells")
    state = page.evaluate(NOTEBOOK_STATE_JS)
    assert state["prompts"] == ["[ ]:"] * count, state["prompts"]
    menu(page, "Run", "Run All Cells")
    if not started(page):
        # Seen once in many runs: the click left every prompt blank. Nothing ran, so trying
        # again is safe; the screenshot and the warning keep it visible.
        page.screenshot(path=ARTIFACTS / f"{Path(name).stem}-run-all-not-started.png")
        warnings.warn(f"{name}: Run All Cells did not start; clicked it again", stacklevel=2)
        page.keyboard.press("Escape")
        menu(page, "Run", "Run All Cells")
    wanted = [f"[{n}]:" for n in range(1, count + 1)]
    deadline = time.monotonic() + RUN_ALL_TIMEOUT
    while True:
        state = page.evaluate(NOTEBOOK_STATE_JS)
        if state["errors"]:
            pytest.fail(f"{name}: a cell failed in JupyterLab:\n" + "\n".join(state["errors"]))
        if state["prompts"] == wanted:
            return
        if time.monotonic() > deadline:
            shot = ARTIFACTS / f"{Path(name).stem}-run-all-timeout.png"
            page.screenshot(path=shot)
            status = page.locator(
                ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator"
            ).get_attribute("data-status")
            pytest.fail(
                f"{name}: Run All Cells did not finish within {RUN_ALL_TIMEOUT:.0f} s; kernel "
                f"{status}; prompts ({count} code cells): {' '.join(state['prompts'])}; "
                f"screenshot: {shot}"
            )
        time.sleep(0.25)


def code_cells(name: str) -> int:
    """How many code cells notebooks/NAME has."""
    notebook = json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))
    return sum(1 for cell in notebook["cells"] if cell["cell_type"] == "code")


def started(page: Page, timeout: float = 10.0) -> bool:
    """Whether some code cell shows [*] (queued or running) or a count within `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if set(page.evaluate(NOTEBOOK_STATE_JS)["prompts"]) != {"[ ]:"}:
            return True
        time.sleep(0.1)
    return False


def no_widget_errors(page: Page) -> None:
    text = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").text_content() or ""
    for problem in ("Error displaying widget", "Loading widget..."):
        assert problem not in text, f"the notebook shows {problem!r}"


# --- the tests ---------------------------------------------------------------------------------
# `page` comes first in their arguments, so a missing browser fails them before the server starts.


def expected_view(user_id: str, version: int) -> tuple[str, dict[str, str]]:
    """The explorer's heading and the state table's values at `version`, computed here."""
    store = InMemoryEventStore()
    load_sample(store)
    heading = explorer_text(store, User, user_id, version).splitlines()[0]
    state = state_at(store, User, user_id, version=version).state()
    return heading, {field: repr(value) for field, value in state.items()}


def test_the_time_travel_slider_moves_the_view_in_jupyterlab(
    page: Page, lab: Lab, artifacts: Path
) -> None:
    open_notebook(page, lab, "04_time_travel.ipynb")
    run_all_cells(page, "04_time_travel.ipynb")

    view = page.locator(".esteach-time-travel")
    expect(view).to_have_count(1)
    explorer = page.locator(".widget-vbox", has=view)
    handle = explorer.locator(".widget-slider .noUi-handle")
    readout = explorer.locator(".widget-slider .widget-readout")
    expect(handle).to_be_visible()
    no_widget_errors(page)

    # The explorer shows the notebook's busiest user; the cell after it set the slider to 2.
    explorer.scroll_into_view_if_needed()
    heading = view.locator("p").first
    shown = heading.text_content() or ""
    found = re.match(r"User '(?P<id>[^']+)', version 2 of (?P<last>\d+):", shown)
    assert found, f"the explorer does not show version 2 after Run All: {shown!r}"
    user_id, last = found["id"], int(found["last"])
    assert last > 2, f"{user_id} has too few versions ({last}) to travel through"

    def shows(version: int, shot: str) -> None:
        title, state = expected_view(user_id, version)
        expect(readout).to_have_text(str(version), timeout=UPDATE_TIMEOUT_MS)
        expect(heading).to_have_text(title, timeout=UPDATE_TIMEOUT_MS)
        table = view.locator("table").evaluate(
            "t => Object.fromEntries([...t.rows].slice(1)"
            ".map(r => [r.cells[0].textContent, r.cells[1].textContent]))"
        )
        assert table == state, f"version {version}: the view shows {table}, state_at {state}"
        explorer.scroll_into_view_if_needed()
        page.screenshot(path=artifacts / shot)

    shows(2, "04-explorer-version-2.png")
    handle.focus()
    page.keyboard.press("ArrowLeft")
    shows(1, "04-explorer-version-1.png")
    page.keyboard.press("End")
    shows(last, f"04-explorer-version-{last}.png")
    no_widget_errors(page)


def test_the_snapshot_notebook_shows_its_plot_in_jupyterlab(
    page: Page, lab: Lab, artifacts: Path
) -> None:
    open_notebook(page, lab, "05_snapshots_and_caching.ipynb")
    run_all_cells(page, "05_snapshots_and_caching.ipynb")

    # The plot cell: the code cell that calls plot_loads; its output is a PNG, shown as <img>.
    cell = page.locator(".jp-CodeCell", has_text="plot_loads(frame")
    expect(cell).to_have_count(1)
    image = cell.locator(".jp-OutputArea-output img")
    expect(image).to_have_count(1)
    image.scroll_into_view_if_needed()
    expect(image).to_be_visible()
    width, height = image.evaluate(
        "img => img.complete ? [img.naturalWidth, img.naturalHeight] : [0, 0]"
    )
    assert width > 100 and height > 100, f"the plot image did not load: {width}x{height}"
    page.screenshot(path=artifacts / "05-plot.png")
    image.screenshot(path=artifacts / "05-plot-image.png")

    # The reference figure beside it, a markdown image from docs/figures/: the server's root is
    # the repository, so the notebook's `../docs/...` link reaches it.
    reference = page.locator(".jp-MarkdownCell img[src*='05-load-times-reference.png']")
    expect(reference).to_have_count(1)
    reference.scroll_into_view_if_needed()
    width, height = reference.evaluate(
        "img => img.complete ? [img.naturalWidth, img.naturalHeight] : [0, 0]"
    )
    assert width > 100 and height > 100, f"the reference figure did not load: {width}x{height}"
