"""The short and the full path through the course: real headings, and what they cover of the test."""

import json

import pytest

from rnn_lesson.lessons import mastery, paths
from rnn_lesson.lessons.paths import FULL_PATH, NOTEBOOKS, SHORT_PATH, Stretch

SEEDS = range(200)


@pytest.fixture(scope="module")
def sections():
    return [section for seed in SEEDS for section in mastery.sections(seed)]


@pytest.mark.parametrize("name", list(paths.PATHS))
def test_every_stretch_starts_and_stops_at_a_real_heading(name):
    for stretch in paths.PATHS[name]:
        assert paths.cells(stretch), f"{stretch} is empty"


def test_an_unknown_heading_is_an_error_that_lists_the_real_ones():
    with pytest.raises(ValueError, match="has no heading 'Nowhere'.*its headings are"):
        paths.cells(Stretch("01_rnn_basics.ipynb", start="Nowhere"))


def test_the_full_path_reads_every_notebook_whole_with_the_pre_test_first():
    read = {}
    for stretch in FULL_PATH:
        read.setdefault(stretch.notebook, []).extend(paths.cells(stretch))
    for name in NOTEBOOKS:
        whole = json.loads((paths.NOTEBOOK_FOLDER / name).read_text())["cells"]
        assert read[name] == whole, f"the full path skips part of {name}"
    assert FULL_PATH[0].notebook.startswith("05") and FULL_PATH[0].stop == "Diagnose the curves"


def test_the_short_path_is_shorter_and_ends_with_the_curves_and_the_post_test():
    short = sum(len(paths.cells(stretch)) for stretch in SHORT_PATH)
    full = sum(len(paths.cells(stretch)) for stretch in FULL_PATH)
    assert short < 0.7 * full
    assert SHORT_PATH[-1].start == paths.CURVES_SECTION.heading


def test_what_each_path_covers_of_the_test_over_200_draws(sections):
    assert len(sections) == 10 * len(SEEDS)
    assert paths.share_covered(FULL_PATH, sections) == 1.0
    # measured 92.0% over these seeds: packing (01 section 4) and the real data (04) are skipped
    assert 0.85 <= paths.share_covered(SHORT_PATH, sections) < 1.0


def test_a_curve_item_is_taught_by_the_curves_section():
    assert paths.covers(SHORT_PATH, None) and paths.covers(FULL_PATH, None)


def _names(source: str) -> tuple[set[str], set[str]]:
    """The names a cell defines and the names it reads (a static approximation)."""
    import ast

    defined, read = set(), set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name):
            (defined if isinstance(node.ctx, (ast.Store, ast.Del)) else read).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            defined.add(node.name)
    return defined, read


@pytest.mark.parametrize("name", list(paths.PATHS))
def test_each_path_runs_on_its_own_every_name_is_defined_before_it_is_read(name):
    # one kernel per notebook, as a learner runs it: a later stretch sees the earlier ones
    import builtins

    known = {notebook: set(dir(builtins)) | {"display", "get_ipython"} for notebook in NOTEBOOKS}
    for stretch in paths.PATHS[name]:
        for cell in paths.cells(stretch):
            if cell["cell_type"] != "code":
                continue
            defined, read = _names("".join(cell["source"]))
            missing = read - defined - known[stretch.notebook]
            assert not missing, f"{stretch}: a cell reads {sorted(missing)} before the path defines it"
            known[stretch.notebook] |= defined
