"""The test measures mastery: fresh items from a seed, keys computed by PyTorch (and checked here
again, independently, by running each item's own code), no cue in the options, a pre- and a
post-test kept in the progress file (issue 16)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings
from collections import Counter
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

from quizzes import items
from quizzes.progress import Progress
from quizzes.questions import DIAGNOSES, LETTERS, QUESTIONS, DIAGNOSE
from rnn_lesson.lessons import mastery

REPO = Path(__file__).resolve().parents[1]
SEEDS = range(200)


def run_code(item) -> dict:
    """Run an item's own snippet, as a learner would paste it."""
    namespace = {"torch": torch, "nn": nn, "pad_sequence": pad_sequence,
                 "pack_padded_sequence": pack_padded_sequence,
                 "pad_packed_sequence": pad_packed_sequence}
    with torch.random.fork_rng(devices=[]), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dropout with one layer warns: that is the item's point
        torch.manual_seed(1)
        exec(item.code, namespace)
    return namespace


def shape_text(tensor) -> str:
    return str(tuple(tensor.shape))  # Python's own spelling: (4, 7, 20), (12,)


def raises(call, namespace) -> bool:
    try:
        with torch.no_grad():
            eval(call, namespace)
    except RuntimeError:
        return True
    return False


def pytorch_says(item) -> set[str]:
    """The letters PyTorch itself makes right, found without the generator's bookkeeping."""
    kind = item.id.split("-")[0]
    options = item.options
    if kind == "constructor":
        i, h = map(int, re.findall(r"\d+", item.prompt))
        right = set()
        for letter, call in options.items():
            try:
                layer = eval(call, {"nn": nn})
            except TypeError:
                continue
            if (layer.input_size, layer.hidden_size) == (i, h):
                right.add(letter)
        return right
    ns = run_code(item) if kind not in ("input_size_error",) else None
    if kind == "input_size_error":
        expected = int(re.search(r"input_size=(\d+)", item.code).group(1))
        given = int(re.search(r"randn\(\d+, \d+, (\d+)\)", item.code).group(1))
        try:
            output = run_code(item)["output"]
        except RuntimeError as error:
            assert f"Expected {expected}, got {given}" in str(error)
            return {l for l, text in options.items()
                    if text == f"RuntimeError: input_size is {expected}, the input has {given} per step"}
        return {l for l, text in options.items()
                if text == f"It runs, and output has the shape {shape_text(output)}"}
    asked = {"output_shape": "output", "h_n_shape": "h_n", "unbatched_h_n": "h_n",
             "lstm_state_shape": "c_n"}
    if kind in asked:
        return {l for l, text in options.items() if text == shape_text(ns[asked[kind]])}
    if kind.startswith("param_count"):
        layer = ns.get("rnn", ns.get("layer"))
        count = sum(p.numel() for p in layer.parameters())
        return {l for l, text in options.items() if int(text.replace(",", "")) == count}
    if kind == "layout_default":
        steps, batch, features = ns["output"].shape[0], ns["h_n"].shape[1], ns["x"].shape[-1]
        return {l for l, text in options.items() if text == f"{steps} time steps, a batch of "
                f"{batch} sequences, {features} features per step"}
    if kind == "h0_shape":
        rnn, x = ns["rnn"], ns["x"]
        right = set()
        for letter, text in options.items():
            size = tuple(int(n) for n in re.findall(r"\d+", text))
            try:
                with torch.no_grad():
                    rnn(x, torch.zeros(size))
                right.add(letter)
            except RuntimeError:
                pass
        return right
    if kind == "which_raises":
        return {l for l, call in options.items() if raises(call, ns)}
    if kind == "packed_last_state":
        j = int(re.search(r"h_n\[-1\]\[(\d+)\]", item.prompt).group(1))
        target = ns["h_n"][-1][j]
        return {l for l, expr in options.items() if torch.allclose(eval(expr, ns), target, atol=1e-6)}
    if kind == "bidirectional_final":
        name = re.search(r"(h_n\[-\d\])", item.prompt).group(1)
        target = eval(name, ns)
        return {l for l, expr in options.items() if torch.equal(eval(expr, ns), target)}
    if kind == "dropout_where":
        rnn, layers = ns["rnn"], ns["rnn"].num_layers
        x = torch.randn(64, 10, rnn.input_size)
        with torch.no_grad():
            (_, first), (_, second) = rnn(x), rnn(x)
        layer_1_changed = not torch.equal(first[0], second[0])
        expected = ("Nowhere" if layers == 1 else "Between stacked layers")
        assert not layer_1_changed  # the recurrence of layer 1 is never dropped
        return {l for l, text in options.items() if text.startswith(expected)}
    raise AssertionError(f"no independent check for {kind}")


@pytest.mark.parametrize("kind", sorted(items.KINDS))
def test_each_generator_on_200_seeds_has_one_correct_option_that_pytorch_confirms(kind):
    ids = set()
    for seed in SEEDS:
        item = items.generate(kind, seed)
        assert tuple(item.options) == LETTERS and len(set(item.options.values())) == 4
        assert pytorch_says(item) == {item.answer}, (seed, item.full_prompt(), item.options)
        assert set(item.mistakes) == set(LETTERS) - {item.answer}
        assert all(item.mistakes.values()) and all(item.wrong_option_hints.values())
        assert item.section is not None and item.explanation and item.hint
        ids.add(item.id)
    assert len(ids) >= 180  # parameters vary: few repeats over 200 seeds


def test_a_seed_gives_the_same_item_every_time_and_another_seed_another():
    for kind in items.KINDS:
        assert items.generate(kind, 7) == items.generate(kind, 7)
        assert items.generate(kind, 7).id != items.generate(kind, 8).id


def test_a_test_has_3_easy_4_medium_3_hard_and_at_most_two_learning_curves():
    for seed in range(100):
        chosen = mastery.plan(seed)
        difficulties = Counter(
            (mastery.CURVE_KINDS[k].difficulty if k in mastery.CURVE_KINDS else items.KINDS[k].difficulty)
            for k, _ in chosen)
        assert difficulties == {"easy": 3, "medium": 4, "hard": 3}
        assert len({k for k, _ in chosen}) == 10  # ten different kinds
        assert sum(k in mastery.CURVE_KINDS for k, _ in chosen) <= mastery.MAX_CURVES


def test_no_drawn_item_is_one_the_notebooks_show():
    notebook_ids = {q.id for q in QUESTIONS + DIAGNOSE}
    for seed in range(100):
        for kind, item_seed in mastery.plan(seed):
            if kind in mastery.CURVE_KINDS:
                continue  # its seeds are 2-9; the notebooks show seeds 0 and 1 (test below)
            item = items.generate(kind, item_seed)
            assert item.id not in notebook_ids
    assert not {0, 1} & set(mastery.CURVE_SEEDS)


def test_every_learning_curve_case_has_enough_seeds_that_show_their_diagnosis():
    from rnn_lesson.lessons.diagnose import shows
    from rnn_lesson.runs import run_many

    cases = list(mastery.CURVE_KINDS.items())
    seeds = mastery.CURVE_SEEDS
    # one call: the two workers stay busy across the cases
    runs = run_many([case.job(seed) for _, case in cases for seed in seeds])
    for n, (name, case) in enumerate(cases):
        mine = runs[n * len(seeds):(n + 1) * len(seeds)]
        good = [seed for seed, run in zip(seeds, mine) if not shows(case.diagnosis, run)]
        assert len(good) >= 2, (name, good)


def strictly_longest(options: dict[str, str], answer: str) -> bool:
    lengths = {letter: len(text) for letter, text in options.items()}
    longest = max(lengths.values())
    return lengths[answer] == longest and list(lengths.values()).count(longest) == 1


def test_across_50_draws_the_key_is_the_strictly_longest_option_in_at_most_35_percent():
    assert len({len(text) for text in DIAGNOSES.values()}) == 1  # curve items: no longest option
    cued = total = 0
    for seed in range(50):
        for kind, item_seed in mastery.plan(seed):
            total += 1
            if kind not in mastery.CURVE_KINDS:
                item = items.generate(kind, item_seed)
                cued += strictly_longest(item.options, item.answer)
    assert total == 500
    assert cued / total <= 0.35, cued / total


def agrees_most(options: dict[str, str], answer: str) -> float | None:
    """The chance that guessing "the option that agrees most with the others, number by number"
    picks the key (ties shared); None when the options do not line up token for token."""
    tokens = {letter: re.findall(r"-?\d+|[A-Za-z_]+", text) for letter, text in options.items()}
    if len({len(t) for t in tokens.values()}) != 1:
        return None
    score = {letter: sum(other[k] == value for m, other in tokens.items() if m != letter
                         for k, value in enumerate(own)) for letter, own in tokens.items()}
    best = [letter for letter, value in score.items() if value == max(score.values())]
    return (answer in best) / len(best)


def test_the_option_that_agrees_most_with_the_others_is_no_better_than_chance():
    # One mistake per wrong shape made the key the consensus of the options (90% of shape items).
    for kind in items.KINDS:
        hits = [agrees_most(q.options, q.answer) for q in (items.generate(kind, s) for s in SEEDS)]
        hits = [h for h in hits if h is not None]
        if len(hits) >= 30:
            assert sum(hits) / len(hits) <= 0.35, (kind, sum(hits) / len(hits))


def test_no_way_of_writing_an_option_gives_the_key_away():
    """Over 400 seeds of each kind, always picking the option written a certain way (its digits
    aside: "RuntimeError: input_size is #, ...", "nn.RNN(hidden_size=#, input_size=#)") is right
    in at most 62% of the items that offer one (two outcomes at 50% each, and noise)."""
    for kind in items.KINDS:
        offered, right = Counter(), Counter()
        for seed in range(400):
            item = items.generate(kind, seed)
            forms = Counter(re.sub(r"\d+", "#", text) for text in item.options.values())
            key = re.sub(r"\d+", "#", item.answer_text)
            for form, count in forms.items():
                if count < len(LETTERS):  # a form every option has tells nothing apart
                    offered[form] += 1
                    right[form] += (form == key) / count  # pick one of the options so written
        for form, n in offered.items():
            if n >= 40:
                assert right[form] / n <= 0.62, (kind, form, right[form], n)


def test_the_notebooks_build_no_layer_a_test_item_would_ask_about_unlisted():
    """Every nn.RNN a notebook (or its cheat-sheet tables) builds with literal sizes is in
    SHOWN_IN_NOTEBOOKS for the items whose answer is the layer alone (its constructor line, its
    parameter count), so a test never asks what a notebook printed."""
    import ast

    sources = [REPO / "rnn_lesson" / "lessons" / "summary.py"]
    texts = [path.read_text() for path in sources]
    for notebook in sorted((REPO / "notebooks").glob("*.ipynb")):
        cells = json.loads(notebook.read_text())["cells"]
        texts += ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    found = set()
    for text in texts:
        for call in re.findall(r"nn\.RNN\([^()]*\)", text):
            try:
                node = ast.parse(call).body[0].value
                args = [ast.literal_eval(a) for a in node.args]
                kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
            except (ValueError, SyntaxError):
                continue  # sizes that are names, not numbers
            sizes = dict(zip(("input_size", "hidden_size", "num_layers"), args), **kwargs)
            if {"input_size", "hidden_size"} <= set(sizes):
                found.add((sizes["input_size"], sizes["hidden_size"], sizes.get("num_layers", 1)))
    assert (10, 20, 1) in found and (10, 32, 2) in found  # the scan sees the notebooks
    for i, h, layers in found:
        if 2 <= i <= 40 and 2 <= h <= 40 and i != h:
            assert ("constructor", i, h) in items.SHOWN_IN_NOTEBOOKS, (i, h)
            if layers in (1, 2):
                assert ("param_count_rnn", i, h, layers) in items.SHOWN_IN_NOTEBOOKS, (i, h, layers)


def test_a_picture_has_the_same_difficulty_in_the_notebook_and_in_the_test():
    from rnn_lesson.lessons.diagnose import CASES

    by_id = {q.id: q for q in DIAGNOSE}
    for case in CASES:
        assert by_id[case.question].difficulty == case.difficulty, case.question


def test_letters_and_positions_say_nothing():
    letters = Counter(items.generate(kind, seed).answer for kind in items.KINDS for seed in range(60))
    assert all(150 <= letters[letter] <= 270 for letter in LETTERS), letters  # ~210 each


@pytest.fixture(scope="module")
def drawn():
    """Three whole tests, learning curves included (they train at most six runs, cached)."""
    return {seed: mastery.draw(seed) for seed in (0, 1, 2)}


def test_a_whole_draw_is_reproducible_and_its_curve_items_show_their_key(drawn):
    for seed, questions in drawn.items():
        assert [q.id for q in questions] == [q.id for q in mastery.draw(seed, pictures=False)]
        for q in questions:
            if q.id.startswith("curve-"):
                assert q.figure_png and q.figure_text and "epoch" in q.figure_text
                case = mastery.CURVE_KINDS["curve_" + q.id.split("-")[1]]
                assert DIAGNOSES[case.diagnosis] == q.answer_text


def test_the_json_interface_prints_the_drawn_test_and_exits_0():
    def run(seed: int) -> list[dict]:
        out = subprocess.run([sys.executable, "-m", "quizzes", "--test", "--seed", str(seed), "--json"],
                             cwd=REPO, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    test = run(5)
    assert len(test) == 10
    for item in test:
        assert set(item) == {"id", "difficulty", "prompt", "options", "answer", "section"}
        assert item["answer"] in item["options"] and list(item["options"]) == list(LETTERS)
        assert ".ipynb / " in item["section"]
    assert Counter(item["difficulty"] for item in test) == {"easy": 3, "medium": 4, "hard": 3}
    assert [item["id"] for item in test] == [q.id for q in mastery.draw(5, pictures=False)]
    assert {item["id"] for item in run(6)} != {item["id"] for item in test}


def test_the_json_interface_refuses_without_a_seed_and_outside_a_test():
    for args in (["--test", "--json"], ["--json"], ["--test", "--seed", "-3"], ["--seed", "1"]):
        out = subprocess.run([sys.executable, "-m", "quizzes", *args], cwd=REPO, capture_output=True,
                             text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert out.returncode == 2 and "Traceback" not in out.stderr, (args, out.stderr)


def test_the_pre_and_post_test_survive_a_restart_and_never_share_an_item():
    pre = mastery.test_card("pre")  # the progress file is this test's own (conftest)
    assert not pre.started  # nothing is drawn before the learner asks
    pre.start(seed=0)
    first = pre.session.questions[0]
    pre.select(first.answer)
    again = mastery.test_card("pre")  # a new kernel: the same draw, the answer in place
    assert again.seed == 0 and [q.id for q in again.session.questions] == \
        [q.id for q in pre.session.questions]
    assert again.session.answers == {first.id: first.answer}
    again.finish()
    post = mastery.test_card("post")
    post.start()
    assert post.seed != 0
    assert not {q.id for q in again.session.questions} & {q.id for q in post.session.questions}
    assert Progress().test("post")["seed"] == post.seed and Progress().test("pre")["score"]


def test_the_terminal_test_saves_its_answers_and_score_as_the_pre_test(tmp_path, monkeypatch):
    import io

    from quizzes import cli

    monkeypatch.setenv("RNN_LESSON_PROGRESS", str(tmp_path / "progress.json"))
    questions = mastery.draw(0, pictures=False)
    answers = "".join(q.answer + "\n" for q in questions[:9]) + "A\n"
    stdout = io.StringIO()
    assert cli.main(["--test", "--seed", "0"], io.StringIO(answers), stdout) == 0
    saved = Progress(tmp_path / "progress.json").test("pre")
    assert saved["seed"] == 0 and len(saved["answers"]) == 10
    right = 9 + (questions[9].answer == "A")
    assert saved["score"]["correct"] == right and f"Score: {right}/10" in stdout.getvalue()
    if right < 10:
        assert "Taught in notebook" in stdout.getvalue()
    stdout = io.StringIO()  # the pre-test is scored: the next test is the post-test
    assert not mastery.shares_items(4, 0)
    assert cli.main(["--test", "--seed", "4"], io.StringIO(""), stdout) == 1
    assert "The post-test (seed 4)" in stdout.getvalue()


def test_the_terminal_test_is_taken_up_where_it_stopped(tmp_path, monkeypatch):
    import io

    from quizzes import cli

    monkeypatch.setenv("RNN_LESSON_PROGRESS", str(tmp_path / "progress.json"))
    questions = mastery.draw(7, pictures=False)
    first_three = "".join(q.answer + "\n" for q in questions[:3])
    assert cli.main(["--test", "--seed", "7"], io.StringIO(first_three), io.StringIO()) == 1
    stdout = io.StringIO()  # a new terminal, without --seed: the same test, at question 4
    rest = "".join(q.answer + "\n" for q in questions[3:])
    assert cli.main(["--test"], io.StringIO(rest), stdout) == 0
    assert "3 of 10 answered before" in stdout.getvalue() and "Question 1/10" not in stdout.getvalue()
    saved = Progress(tmp_path / "progress.json").test("pre")
    assert saved["seed"] == 7 and saved["score"]["correct"] == 10


def test_the_terminal_post_test_refuses_a_seed_that_repeats_the_pre_test(tmp_path, monkeypatch):
    import io

    from quizzes import cli

    monkeypatch.setenv("RNN_LESSON_PROGRESS", str(tmp_path / "progress.json"))
    answers = "".join(q.answer + "\n" for q in mastery.draw(7, pictures=False))
    assert cli.main(["--test", "--seed", "7"], io.StringIO(answers), io.StringIO()) == 0
    out = subprocess.run([sys.executable, "-m", "quizzes", "--test", "--seed", "7"], cwd=REPO,
                         capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
                         env={**__import__("os").environ,
                              "RNN_LESSON_PROGRESS": str(tmp_path / "progress.json")})
    assert out.returncode == 2 and "asks items of your pre-test" in out.stderr
    assert "Traceback" not in out.stderr
