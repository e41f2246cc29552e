"""Driving the pages as a learner does: JupyterLab notebooks (open, wait for the kernel, Run All),
the experiment panel (keyboard on the sliders, the Train button) and the quiz cards.

Every wait is for a condition on the page (a status text, a caption equal to the expected one),
never a fixed sleep. Timeouts are generous: training is 3-10x slower on a shared machine.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
import urllib.request
from dataclasses import dataclass

from .browser_support import KERNEL_START_S, RUN_ALL_S, TRAIN_S

KERNEL_STATUS = '.jp-StatusBar-TextItem[title^="Change kernel"]'
MS = 1000


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# ----------------------------------------------------------------------------- JupyterLab

class LabNotebook:
    """One notebook open in its own JupyterLab page (its own workspace: no other tabs)."""

    def __init__(self, browser, base_url: str, token: str, path: str,
                 notebook7: bool = False) -> None:
        self.path = path
        self.notebook7 = notebook7
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.page.set_default_timeout(120 * MS)
        self.ran_all = False
        workspace = "test-" + secrets.token_hex(4)
        self.base_url, self.token = base_url, token
        url = (f"{base_url}/notebooks/{path}?token={token}" if notebook7 else
               f"{base_url}/lab/workspaces/{workspace}/tree/{path}?token={token}")
        self.page.goto(url, timeout=180 * MS)
        self.wait_kernel_idle(KERNEL_START_S)

    def kernel_status(self) -> str:
        return self.page.locator(KERNEL_STATUS).inner_text()

    def wait_kernel_idle(self, timeout_s: float) -> None:
        """The status bar's "<kernel name> | Idle": a kernel exists and is idle. (The toolbar's
        circle reports idle before there is a kernel at all.) Notebook 7 has no status bar: its
        kernel name in the toolbar, then the execution indicator's "Kernel status: Idle"."""
        if self.notebook7:
            self.page.locator(".jp-Toolbar-kernelName").filter(
                has_text=re.compile(r"Python")).wait_for(timeout=timeout_s * MS)
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:  # the server knows the kernel's state
                with urllib.request.urlopen(f"{self.base_url}/api/kernels?token={self.token}",
                                            timeout=30) as answer:
                    kernels = json.load(answer)
                if kernels and all(k["execution_state"] == "idle" for k in kernels):
                    return
                time.sleep(0.25)
            raise TimeoutError(f"the kernel was not idle within {timeout_s} s: {kernels}")
        self.page.locator(KERNEL_STATUS).filter(
            has_text=re.compile(r"^(?!No Kernel).+ \| Idle$")).wait_for(timeout=timeout_s * MS)

    def run_all(self) -> None:
        """Run > Run All Cells, then wait until no cell is queued or running ([*]) and the kernel
        is idle. The copies have no outputs, so a numbered first prompt means this run began."""
        self.page.get_by_role("menuitem", name="Run", exact=True).click()
        self.page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        self.page.wait_for_function(
            """() => {
                const prompts = [...document.querySelectorAll(
                    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')]
                    .map(e => e.textContent);
                return prompts.length > 0 && /\\d/.test(prompts[0])
                    && !prompts.some(p => p.includes('*'));
            }""", timeout=RUN_ALL_S * MS, polling=250)
        self.wait_kernel_idle(60)
        self.ran_all = True

    def cells_not_run(self) -> list[int]:
        """Code cells with an empty prompt after Run All (it stops at the first error)."""
        prompts = self.page.eval_on_selector_all(
            ".jp-CodeCell .jp-InputPrompt", "els => els.map(e => e.textContent)")
        return [i for i, prompt in enumerate(prompts, 1) if not re.search(r"\d", prompt)]

    def close(self) -> None:
        self.context.close()


def page_problems(page) -> list[str]:
    """Error outputs and tracebacks anywhere on the page, and the Log Console's entries (where
    JupyterLab puts what widget callbacks and threads print: a learner does not see it, but an
    exception there is a broken button).

    An error output renders as a stderr output with the exception's name and "Traceback"; other
    stderr outputs (warnings) are reported too: a course notebook should show no pink boxes.
    """
    problems = []
    for text in page.eval_on_selector_all(
            '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]',
            "els => els.map(e => e.innerText)"):
        kind = "error output" if re.search(r"Traceback|Error\b|Exception\b", text) else "stderr output"
        problems.append(f"{kind}: {text[:2000]}")
    body = page.locator("body").inner_text()
    if "Traceback" in body and not problems:
        start = body.index("Traceback")
        problems.append(f"a traceback on the page: {body[max(0, start - 200):start + 1500]}")
    problems += [f"Log Console: {entry}" for entry in log_console_entries(page)]
    return problems


def log_console_entries(page) -> list[str]:
    """The Log Console's entries for the current notebook (none: its status item is hidden)."""
    item = page.locator(".jp-LogConsoleStatusItem")
    if item.count() == 0 or "lm-mod-hidden" in (item.get_attribute("class") or ""):
        return []
    title = item.locator("[title]").first.get_attribute("title") or ""
    if re.search(r"\b0 log entries", title):
        return []
    item.locator("[title]").first.click()
    entries = page.locator(".jp-LogConsolePanel .jp-OutputArea-output")
    entries.first.wait_for(timeout=30 * MS)
    return [text[:2000] for text in entries.all_inner_texts()] or [title]


# ----------------------------------------------------------------------------- the panel

@dataclass(frozen=True)
class PanelState:
    caption: str
    banner: str  # the verdict line, first line of the banner
    image: str  # the curves' SVG description (its <desc>: the numbers of the run it shows)
    images: int  # how many plots the curves area holds (must be 1)
    status: str


LOG_SCRIPT = """root => {
    // Every text the verdict banner shows, in order, even one replaced within the same frame:
    // the observer reads the nodes each update added.
    if (window.__bannerLog) return;
    window.__bannerLog = [];
    const banner = root.querySelector('.widget-html.rnn-lesson-verdict .widget-html-content');
    new MutationObserver(records => {
        for (const record of records) {
            const text = [...record.addedNodes].map(n => n.textContent).join('').trim();
            if (text) window.__bannerLog.push(text);
        }
    }).observe(banner, {childList: true, subtree: true, characterData: true});
}"""

STATE_SCRIPT = """root => {
    const text = sel => { const e = root.querySelector(sel); return e ? e.textContent.trim() : null; };
    const banner = root.querySelector('.widget-html.rnn-lesson-verdict .widget-html-content');
    const plots = root.querySelectorAll('.rnn-lesson-curves svg');
    const desc = plots.length ? plots[plots.length - 1].querySelector('desc') : null;
    return {
        caption: text('.rnn-lesson-curves-settings .widget-html-content') || '',
        banner: banner ? banner.innerText.split('\\n')[0].trim() : '',
        image: desc ? desc.textContent : '',
        images: plots.length,
        status: text('.rnn-lesson-status .widget-html-content') || '',
    };
}"""


class Panel:
    """The ExperimentPanel as the browser shows it (in JupyterLab or in the Voila app)."""

    def __init__(self, page, root_selector: str = ".rnn-lesson-panel") -> None:
        self.page = page
        self.selector = root_selector
        self.root = page.locator(root_selector)

    def wait_visible(self, timeout_s: float = 120) -> None:
        self.root.wait_for(timeout=timeout_s * MS)
        self.root.scroll_into_view_if_needed()

    def slider(self, description: str):
        label = self.page.locator("label.widget-label",
                                  has_text=re.compile(f"^{re.escape(description)}$"))
        return self.root.locator(".widget-slider").filter(has=label)

    def readout(self, description: str) -> str:
        return self.slider(description).locator(".widget-readout").inner_text().strip()

    def press(self, description: str, key: str, times: int = 1) -> None:
        """Keyboard on the slider's handle: one step per press; with continuous_update=False each
        press sends its value to the kernel at once (and so starts a run)."""
        handle = self.slider(description).locator(".noUi-handle")
        for _ in range(times):
            handle.press(key)

    def click_track(self, description: str, fraction: float) -> None:
        """A click on the slider's track at `fraction` of its width: the handle jumps there."""
        track = self.slider(description).locator(".noUi-target")
        box = track.bounding_box()
        track.click(position={"x": box["width"] * fraction, "y": box["height"] / 2})

    def values(self) -> dict:
        """The control values the page shows, as `rnn_lesson.ui.widgets.settings_from` takes them."""
        from rnn_lesson.ui.widgets import LEARNING_RATES

        checkbox = self.root.locator(".widget-checkbox input[type=checkbox]")
        cell = self.root.locator(".widget-dropdown").filter(
            has=self.page.locator("label.widget-label", has_text=re.compile("^cell$")))
        return {
            "dropout": float(self.readout("dropout")),
            "hidden_size": int(self.readout("hidden size")),
            "lr": dict(LEARNING_RATES)[self.readout("learning rate")],
            "num_layers": int(self.readout("layers")),
            "cell": cell.locator("select").input_value(),
            "early_stopping": checkbox.is_checked(),
            "max_epochs": int(self.readout("max epochs")),
            "seed": int(self.readout("seed")),
        }

    @staticmethod
    def expected_caption(values: dict) -> str:
        from rnn_lesson.lessons.overfitting import ES_ONLY
        from rnn_lesson.ui.widgets import describe, settings_from

        return "Curves for: " + describe(*settings_from(values, ES_ONLY))

    def state(self) -> PanelState:
        return PanelState(**self.root.evaluate(STATE_SCRIPT))

    def wait_result(self, values: dict, not_image: str = "", timeout_s: float = TRAIN_S) -> PanelState:
        """Until the panel shows a finished run of `values`: the caption names exactly these
        settings ("Curves for", not "Training for"), the banner holds a verdict (not
        "Training..."), and the image is a new one. Fails at once on "Training failed"."""
        expected = self.expected_caption(values)
        # Polled from Python with the same script as state() (a page-side wait_for_function
        # never resolved in Notebook 7 although the page showed the finished run).
        deadline = time.monotonic() + timeout_s
        state = self.state()
        while not (re.match(r"Training failed|Cannot train", state.banner)
                   or (state.caption == expected and re.match(r"Task (not )?passed:", state.banner)
                       and state.image and state.image != not_image)):
            if time.monotonic() > deadline:
                raise AssertionError(f"the panel did not show a finished run of {expected!r} "
                                     f"within {timeout_s} s; it shows {state}")
            self.page.wait_for_timeout(200)
            state = self.state()
        state = self.state()
        assert not re.match(r"Training failed|Cannot train", state.banner), state.banner
        # One plot, the last: an Output widget that was not cleared stacks the old plots above
        # the new one, and the learner sees a stale one (its box shows ~400 px).
        assert state.images == 1, (f"the curves area holds {state.images} plots, not 1: old ones "
                                   f"were not cleared (the learner sees the first)")
        return state

    def start_banner_log(self) -> None:
        self.root.evaluate(LOG_SCRIPT)

    def banner_log(self) -> list[str]:
        return self.page.evaluate("() => window.__bannerLog.slice()")

    def wait_banner_logged(self, pattern: str, after: int, timeout_s: float = TRAIN_S) -> None:
        """Until the banner has shown a text matching `pattern` since log entry `after`."""
        self.page.wait_for_function(
            """([pattern, after]) => window.__bannerLog.slice(after)
                .some(t => new RegExp(pattern).test(t))""",
            arg=[pattern, after], timeout=timeout_s * MS, polling=100)

    def train_button(self):
        # Not by role: the icon's glyph is part of the button's accessible name.
        return self.root.locator("button.widget-button").filter(
            has_text=re.compile(r"^\s*Train\s*$"))


def expected_verdict(values: dict) -> str:
    """The verdict line a run of `values` must end with, trained here (training is deterministic
    for a seed: the same numbers as in the kernel)."""
    from rnn_lesson.data import load_course_data
    from rnn_lesson.lessons.overfitting import ES_ONLY, check_task
    from rnn_lesson.training import train
    from rnn_lesson.ui.widgets import settings_from

    history = train(*settings_from(values, ES_ONLY), load_course_data())
    return check_task(history).short()


# ----------------------------------------------------------------------------- quiz cards

class QuizCard:
    """A `quizzes.show(id)` card: radio buttons, a Check button, the feedback under it."""

    def __init__(self, page, question_id: str) -> None:
        self.page = page
        heading = page.locator(".widget-html b", has_text=re.compile(
            f"^Question {re.escape(question_id)}$"))
        self.root = page.locator(".widget-vbox").filter(has=heading).filter(
            has=page.locator(".widget-radio-box")).last

    def choose(self, letter: str) -> None:
        self.root.locator(".widget-radio-box label").filter(
            has_text=re.compile(rf"^\s*{re.escape(letter)}\. ")).click()

    def check(self) -> None:
        self.root.locator("button.widget-button").filter(
            has_text=re.compile(r"^\s*Check\s*$")).click()

    def feedback(self):
        return self.root.locator(".widget-html").last


def keep_screenshot(target, name: str) -> None:
    """With COURSE_BROWSER_SCREENSHOTS=<folder>, a screenshot of a page or an element of it
    (to look at what a passing run saw)."""
    folder = os.environ.get("COURSE_BROWSER_SCREENSHOTS")
    if folder:
        os.makedirs(folder, exist_ok=True)
        target.screenshot(path=os.path.join(folder, f"{name}.png"))
