"""The committed notebooks read without a kernel: rendered by nbconvert to HTML (as GitHub, nbviewer
and an HTML export show them), every widget shows its static copy: each question with its options
and its answer collapsed, the hints collapsed, the panel's picture, the tests' and predictions'
texts, the progress bars' final text; never a widget's raw repr, never anyone's progress."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from quizzes.questions import get_question

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb")) + [ROOT / "app" / "experiment_app.ipynb"]


def rendered(path: Path) -> str:
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(path, as_version=4))
    return body


def code_cells(path: Path) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"]
            if c["cell_type"] == "code"]


@pytest.fixture(scope="module", params=NOTEBOOKS, ids=lambda p: p.name)
def notebook(request):
    return request.param, rendered(request.param)


def text_of(page: str) -> str:
    """The page's text, tags dropped and entities decoded (what a reader sees)."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def test_no_widget_shows_its_raw_repr_and_nobody_s_progress_is_saved(notebook):
    path, page = notebook
    text = text_of(page)
    for raw in ("VBox(", "HBox(", "IntProgress(", "interactive widget: run in Jupyter"):
        assert raw not in text, (path.name, raw)
    assert "rnn-lesson-execute-" not in page and "rnn-lesson-test-" not in page


def test_every_question_shows_its_prompt_options_and_a_collapsed_answer(notebook):
    path, page = notebook
    text = text_of(page)
    for source in code_cells(path):
        for qid in re.findall(r'quizzes\.show\("(\w+)"\)', source):
            question = get_question(qid)
            assert question.prompt in text, (path.name, qid)
            assert all(option in text for option in question.options.values()), (path.name, qid)
            assert question.explanation in text, (path.name, qid)  # inside <details>, collapsed
    assert page.count("<details>") >= sum(s.count("quizzes.show(") for s in code_cells(path))


def test_the_widgets_of_each_kind_show_their_static_copy():
    pages = {path.name: text_of(rendered(path)) for path in NOTEBOOKS}
    experiment = pages["02_overfitting_experiment.ipynb"]
    assert "Hint 1: dropout, in two places" in experiment and "Solution: all four together" in experiment
    assert "A static copy of the panel" in experiment
    assert "map: 108/108 runs" in experiment  # the progress bar's final text
    assert "Predict, then see" in experiment and "The measured answer" in experiment
    assert "Which single change lifts validation accuracy the most" in experiment.replace(
        "which single change", "Which single change")
    final = pages["05_diagnose_and_test.ipynb"]
    assert "The pre-test: ten questions drawn fresh" in final
    assert "The post-test: ten new questions" in final
    assert "Your progress: run this cell in Jupyter" in final
    assert "A static copy, nn.LSTM at T=30" in pages["03_rnn_vs_lstm.ipynb"]
    assert "A static copy of the panel" in pages["experiment_app.ipynb"]


def test_the_panel_picture_is_an_image_in_the_page():
    page = rendered(ROOT / "notebooks" / "02_overfitting_experiment.ipynb")
    panel = page[page.index("A static copy of the panel") - 200_000:page.index("A static copy of the panel")]
    assert "data:image/png;base64," in panel
