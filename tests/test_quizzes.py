"""Tests for the quizzes package: the answer key (checked against torch), the
checker, the notebook widgets' callbacks and the terminal quiz."""

from __future__ import annotations

import ast
import copy
import io
import os
import re
import subprocess
import sys
import warnings
from collections import Counter
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

import quizzes
from quizzes import cli
from quizzes.questions import COURSE, DIAGNOSE, DIFFICULTIES, LETTERS, PRACTICE, QUESTIONS

REPO = Path(__file__).resolve().parents[1]
KEY = {"p1": "A", "p2": "C", "p3": "D", "p4": "B", "p5": "A",
       "t6": "B", "t7": "C", "t8": "D", "t9": "A", "t10": "C"}
# The letters the lesson's "Quick Check" lines give; for p2-p4 they are slips.
LESSON_QUICK_CHECK = {"p1": "A", "p2": "D", "p3": "B", "p4": "C", "p5": "A"}
LESSON = Path(os.environ.get("RNN_LESSON_SOURCE", "/work/shared/seed/lesson.txt"))


@pytest.fixture
def one_thread():
    """Keep torch on one thread here, and restore whatever the session had."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(before)


def run_snippet(code: str) -> dict:
    namespace = {"torch": torch, "nn": nn}
    exec(code, namespace)
    return namespace


def option_shape(question_id: str, letter: str) -> tuple[int, ...]:
    return ast.literal_eval(quizzes.get_question(question_id).options[letter])


# --- The data ---------------------------------------------------------------


def test_ids_order_and_key():
    assert quizzes.question_ids() == list(KEY) + ["d1", "d2", "d3", "d4", "d5"]
    assert [q.id for q in PRACTICE] == ["p1", "p2", "p3", "p4", "p5"]
    assert [q.id for q in COURSE] == ["t6", "t7", "t8", "t9", "t10"]
    assert {q.id: q.answer for q in QUESTIONS} == KEY
    assert all(q.source == "lesson" for q in PRACTICE)
    assert all(q.source == "course" for q in COURSE)


@pytest.mark.parametrize("question", QUESTIONS + DIAGNOSE, ids=lambda q: q.id)
def test_question_is_complete(question):
    assert tuple(question.options) == LETTERS
    assert len(set(question.options.values())) == 4
    for text in (question.prompt, question.hint, question.explanation):
        assert text.strip()
    assert len(question.common_mistakes) >= 2
    wrong = set(LETTERS) - {question.answer}
    assert set(question.wrong_option_hints) == set(question.mistakes) == wrong
    assert all(question.mistakes[letter].strip() for letter in wrong)
    assert question.section is not None  # where the course teaches it
    assert "[OK]" not in question.hint  # the lesson's markers are not copied


@pytest.mark.parametrize("question", QUESTIONS + DIAGNOSE, ids=lambda q: q.id)
def test_every_section_names_a_heading_of_its_notebook(question):
    assert question.section.heading in notebook_headings(question.section.notebook)


def notebook_headings(name: str) -> set[str]:
    import json

    notebook = json.loads((REPO / "notebooks" / name).read_text())
    return {line.lstrip("#").strip() for cell in notebook["cells"] if cell["cell_type"] == "markdown"
            for line in "".join(cell["source"]).splitlines() if line.startswith("#")}


def test_code_questions_have_code():
    with_code = {q.id for q in QUESTIONS if q.code}
    assert with_code == {"p3", "p4", "t6", "t7"}


def test_lesson_difficulties_kept():
    assert [q.difficulty for q in PRACTICE] == ["easy", "easy", "medium", "medium", "hard"]


def test_ten_questions_balanced_across_difficulties():
    counts = Counter(q.difficulty for q in QUESTIONS)
    assert len(QUESTIONS) == 10
    assert set(counts) == set(DIFFICULTIES)
    assert max(counts.values()) - min(counts.values()) <= 1
    assert counts == {"easy": 3, "medium": 4, "hard": 3}


def test_our_key_fixes_the_lessons_quick_check_slips():
    ours = {qid: quizzes.get_question(qid).answer for qid in ("p2", "p3", "p4")}
    assert ours == {"p2": "C", "p3": "D", "p4": "B"}
    for qid, letter in ours.items():
        assert LESSON_QUICK_CHECK[qid] != letter
        assert not quizzes.check(qid, LESSON_QUICK_CHECK[qid]).correct
    # Where the lesson's Quick Check was right, we agree with it.
    assert quizzes.get_question("p1").answer == LESSON_QUICK_CHECK["p1"]
    assert quizzes.get_question("p5").answer == LESSON_QUICK_CHECK["p5"]


@pytest.mark.skipif(not LESSON.exists(), reason="lesson source text not available")
def test_questions_match_the_lesson_text():
    text = LESSON.read_text(encoding="utf-8")
    practice = text[text.index("Practice"):]
    blocks = re.split(r"^(?=[1-5]\. )", practice, flags=re.M)[1:]
    assert len(blocks) == 5
    for question, block in zip(PRACTICE, blocks):
        prompt = block.split("\n", 1)[0][3:].strip()
        if question.id == "p5":  # a loop over the sequences is correct too, only slow
            prompt = prompt.replace("correctly handles", "correctly and efficiently handles")
        assert prompt == question.prompt
        options = dict(re.findall(r"^([A-D])\. (.+)$", block, flags=re.M))
        assert options == question.options
        # The lesson's hint and common mistakes, in its words (shown on request, after a miss).
        assert re.search(r"^Hint: (.+?) \[OK\]$", block, flags=re.M).group(1).rstrip(".") \
            == question.hint.rstrip(".")
        mistakes = block.split("Common Mistakes:", 1)[1].split("\n")
        assert tuple(m.strip().lstrip("•").strip() for m in mistakes[1:4]) == question.common_mistakes
        # The lesson's "Final Answer" lines are right; its "Quick Check" lines are not always.
        assert re.search(r"-> Option ([A-D])", block).group(1) == question.answer
        quick = re.search(r"Quick Check:\s*\n.*= ([A-D]) \[OK\]", block).group(1)
        assert quick == LESSON_QUICK_CHECK[question.id]
        assert re.search(r"^(easy|medium|hard)$", block, flags=re.M).group(1) == question.difficulty


# --- check() ------------------------------------------------------------------


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.id)
def test_check_right_and_wrong_letters(question):
    right = quizzes.check(question.id, question.answer)
    assert right.correct and right.hint is None
    assert right.answer == question.answer
    assert right.answer_text == question.options[question.answer]
    assert right.explanation == question.explanation
    for letter in set(LETTERS) - {question.answer}:
        wrong = quizzes.check(question.id, letter)
        assert not wrong.correct
        assert wrong.chosen == letter and wrong.answer == question.answer
        assert wrong.hint == question.wrong_option_hints[letter]
        assert wrong.explanation == question.explanation


@pytest.mark.parametrize("raw", ["d", " D ", "\td\n", "D"])
def test_check_ignores_case_and_surrounding_space(raw):
    result = quizzes.check("p3", raw)
    assert result.correct and result.chosen == "D"


def test_check_accepts_question_id_case_and_space():
    assert quizzes.check(" P3 ", "d").question_id == "p3"


def test_unknown_question_id_names_the_valid_ids():
    with pytest.raises(ValueError) as error:
        quizzes.check("p6", "A")
    assert "p6" in str(error.value)
    for qid in KEY:
        assert qid in str(error.value)


@pytest.mark.parametrize("bad", ["E", "", "  ", "AB", "1", "A.", None, 1])
def test_answer_that_is_not_an_option_names_the_letters(bad):
    with pytest.raises(ValueError, match="valid letters: A, B, C, D"):
        quizzes.check("p1", bad)


def test_feedback_text():
    assert quizzes.check("p3", "d").feedback.startswith("Correct: D. (4, 7, 3)")
    wrong = quizzes.check("p3", "a").feedback
    assert wrong.startswith("Not yet: A")
    assert quizzes.get_question("p3").wrong_option_hints["A"] in wrong
    assert "Common mistake: Ignoring batch_first parameter" in wrong


def test_every_wrong_option_of_the_lessons_questions_names_a_mistake_and_they_cover_its_list():
    for question in PRACTICE:
        assert set(question.mistakes) == set(LETTERS) - {question.answer}
    # The lesson's words are used where they fit an option (the others name the option's own slip).
    used = {m for q in PRACTICE for m in q.mistakes.values()}
    lesson = {m for q in PRACTICE for m in q.common_mistakes}
    assert len(used & lesson) >= 9


def test_check_does_not_import_ipywidgets_or_torch():
    code = "import sys, quizzes; quizzes.check('p1', 'a'); print(sorted({'ipywidgets', 'torch'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- The key agrees with the installed torch -----------------------------------


def test_p1_rnn_output_remembers_earlier_steps(one_thread):
    rnn = nn.RNN(input_size=3, hidden_size=4, batch_first=True)
    x = torch.randn(1, 6, 3)
    changed = x.clone()
    changed[0, 0] += 1.0  # change only the first time step
    with torch.no_grad():
        last, last_changed = rnn(x)[0][0, -1], rnn(changed)[0][0, -1]
    assert not torch.allclose(last, last_changed)


def test_p2_only_the_answer_builds_input_10_hidden_20():
    question = quizzes.get_question("p2")
    for letter, call in question.options.items():
        if letter == "B":
            with pytest.raises(TypeError, match="hidden_size"):
                eval(call, {"nn": nn})
            continue
        layer = eval(call, {"nn": nn})
        sizes = (layer.input_size, layer.hidden_size)
        assert (sizes == (10, 20)) == (letter == question.answer), (letter, sizes)
    assert (nn.RNN(20, 10).input_size, nn.RNN(20, 10).hidden_size) == (20, 10)


def test_p3_output_shape(one_thread):
    question = quizzes.get_question("p3")
    namespace = run_snippet(question.code)
    shape = tuple(namespace["output"].shape)
    assert shape == (4, 7, 3) == option_shape("p3", question.answer)
    assert [l for l in LETTERS if option_shape("p3", l) == shape] == [question.answer]
    assert tuple(namespace["hn"].shape) == (1, 4, 3)  # as the explanation says


def test_p4_snippet_raises_on_the_size_mismatch(one_thread):
    with pytest.raises(RuntimeError) as error:
        run_snippet(quizzes.get_question("p4").code)
    message = str(error.value)
    assert "input_size" in message and "Expected 8, got 10" in message
    assert "Expected 8, got 10" in quizzes.get_question("p4").explanation


def test_p4_fixed_sizes_run(one_thread):
    output, _ = nn.RNN(input_size=10, hidden_size=4)(torch.randn(3, 5, 10))
    assert tuple(output.shape) == (3, 5, 4)  # seq_len=3, batch=5 without batch_first


def test_p5_packing_runs_and_padding_alone_changes_the_last_state(one_thread):
    lengths = [5, 3, 2]
    sequences = [torch.randn(n, 4) for n in lengths]
    rnn = nn.RNN(input_size=4, hidden_size=6, batch_first=True)
    padded = pad_sequence(sequences, batch_first=True)  # (3, 5, 4)
    with torch.no_grad():
        packed = pack_padded_sequence(padded, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
        _, h_packed = rnn(packed)
        _, h_padded = rnn(padded)
        # Option C, one sequence at a time: same answers as packing, just slower.
        h_loop = torch.stack([rnn(s.unsqueeze(0))[1][0, 0] for s in sequences])
    assert torch.allclose(h_packed[0], h_loop, atol=1e-6)
    assert torch.allclose(h_padded[0, 0], h_packed[0, 0], atol=1e-6)  # the longest has no padding
    for i in (1, 2):  # the padded ones: the RNN ran over the pad values
        assert not torch.allclose(h_padded[0, i], h_packed[0, i], atol=1e-4)
    with pytest.raises(RuntimeError):  # option B: unequal lengths make no batch
        torch.stack(sequences)


def test_t6_h_n_shape_ignores_batch_first(one_thread):
    question = quizzes.get_question("t6")
    namespace = run_snippet(question.code)
    h_n, output = namespace["h_n"], namespace["output"]
    assert tuple(h_n.shape) == (2, 4, 20) == option_shape("t6", question.answer)
    assert [l for l in LETTERS if option_shape("t6", l) == tuple(h_n.shape)] == [question.answer]
    assert tuple(output.shape) == (4, 7, 20) == option_shape("t6", "C")
    assert torch.allclose(output[:, -1], h_n[-1])


def test_t7_dropout_with_one_layer_warns_and_does_nothing(one_thread):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rnn = run_snippet(quizzes.get_question("t7").code)["rnn"]  # no error (option B)
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert any("num_layers greater than 1" in m for m in messages), messages
    rnn.train()
    x = torch.randn(5, 3, 10)
    with torch.no_grad():
        assert torch.equal(rnn(x)[0], rnn(x)[0])  # training mode, yet no randomness
    stacked = nn.RNN(input_size=10, hidden_size=20, num_layers=2, dropout=0.3).train()
    with torch.no_grad():
        assert not torch.equal(stacked(x)[0], stacked(x)[0])  # with 2 layers it drops


def test_t9_state_dict_needs_a_copy_to_keep_the_best_weights(one_thread):
    model = nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    aliased, copied = model.state_dict(), copy.deepcopy(model.state_dict())
    before = model.weight.detach().clone()
    model(torch.randn(8, 3)).pow(2).mean().backward()
    optimizer.step()
    assert not torch.equal(model.weight, before)
    assert torch.equal(aliased["weight"], model.weight)  # moved along with training
    assert torch.equal(copied["weight"], before)  # still the saved weights


def test_t10_lstm_returns_a_cell_state_beside_the_hidden_state(one_thread):
    lstm = nn.LSTM(input_size=10, hidden_size=20, batch_first=True)
    with torch.no_grad():
        output, (h_n, c_n) = lstm(torch.randn(4, 7, 10))
    assert c_n.shape == h_n.shape == (1, 4, 20)
    assert tuple(output.shape) == (4, 7, 20)  # one output per step, not two (option A)
    assert torch.allclose(output[:, -1], h_n[-1])
    assert not torch.allclose(output[:, -1], c_n[-1])


# --- The notebook widgets, driven through their callbacks --------------------


def test_question_card_wrong_then_right():
    card = quizzes.show("p3")
    assert card.feedback_text == ""
    card.check()  # nothing selected yet
    assert card.feedback_text == "Choose an option, then press Check."
    card.select(" a ")
    card.check_button.click()  # the button runs the same method
    text = card.feedback_text
    assert text.startswith("Not yet: A is not the answer.")
    assert quizzes.get_question("p3").wrong_option_hints["A"] in text
    assert "Common mistake: Ignoring batch_first parameter" in text  # the mistake of option A
    assert "(4, 7, 3)" not in text  # the answer stays hidden after a wrong try
    assert "Not yet" in card.feedback.value  # the HTML the learner sees
    result = (card.select("D"), card.check())[1]
    assert result.correct and card.attempts == 2
    assert card.feedback_text.startswith("Correct (attempt 2): D. (4, 7, 3)")
    assert quizzes.get_question("p3").explanation in card.feedback_text
    assert "Correct (attempt 2)" in card.feedback.value
    assert "Mixing hidden_size with input_size in output shape" in card.feedback_text  # the lesson's


def test_the_hint_button_shows_the_lessons_hint_before_answering_and_is_counted():
    from quizzes.progress import Progress

    card = quizzes.show("p5")
    assert card.hint_html.value == ""
    assert card.show_hint() == "Pad and pack sequences before RNN for variable lengths."
    assert "Pad and pack" in card.hint_html.value and card.hint_button.disabled
    card.hint_button.click()  # once is enough
    assert Progress().load()["practice"]["p5"]["hints"] == 1


def test_question_card_first_try_and_bad_selection():
    card = quizzes.show("t6")
    card.select("b")
    assert card.check().correct
    assert card.feedback_text.startswith("Correct: B. (2, 4, 20)")
    with pytest.raises(ValueError, match="valid letters"):
        card.select("E")
    with pytest.raises(ValueError, match="valid ids"):
        quizzes.show("p0")


def test_question_card_shows_prompt_code_and_options():
    card = quizzes.show("p4")
    question = quizzes.get_question("p4")
    header = card.widget.children[0].value
    assert question.prompt in header and "nn.RNN(input_size=8, hidden_size=4)" in header
    assert [value for _, value in card.radio.options] == list(LETTERS)
    assert card.radio.value is None


def test_displayed_text_is_stable_for_nbval():
    first, second = quizzes.show("p3"), quizzes.show("p3")
    second.select("A")
    second.check()
    plain = first._repr_mimebundle_()["text/plain"]
    assert plain == second._repr_mimebundle_()["text/plain"] == repr(first)
    assert "p3" in plain and "0x" not in plain


def test_a_card_carries_a_static_copy_with_the_question_and_the_answer_collapsed():
    bundle = quizzes.show("p3")._repr_mimebundle_()
    static = bundle["text/html"]
    question = quizzes.get_question("p3")
    assert question.prompt in static and "(4, 7, 3)" in static and "<details>" in static
    assert "Answer and explanation" in static and "2.-Shapes" in static  # the section's link
    assert "application/vnd.jupyter.widget-view+json" in bundle


def fixed_draw(seed):
    """A stand-in for the test's draw: the notebooks' ten questions, in an order set by the seed."""
    import random

    order = list(QUESTIONS)
    random.Random(seed).shuffle(order)
    return tuple(order)


def test_test_card_starts_on_request_then_navigates_scores_and_reviews(tmp_path):
    from quizzes.progress import Progress
    from quizzes.widgets import TestCard

    card = TestCard("pre", fixed_draw, progress=Progress(tmp_path / "p.json"))
    assert not card.started and card.start_box.layout.display is None
    card.start(seed=3)
    assert card.status_text == "Answered 0 of 10." and card.start_box.layout.display == "none"
    card.previous()
    assert card.index == 0  # stays on the first question
    for i, question in enumerate(card.session.questions):
        card.go_to(i)
        # Right on the easy ones only.
        card.select(question.answer if question.difficulty == "easy" else
                    next(l for l in LETTERS if l != question.answer))
    card.go_to(0)
    assert card.radio.value == card.session.answers[card.session.questions[0].id]
    assert card.review_text == ""  # nothing to review before finishing
    assert card.finish() == "Score: 3/10 correct (easy 3/3, medium 0/4, hard 0/3)"
    review = card.review_text
    assert review.count(": correct") == 3 and review.count(": wrong") == 7
    t6 = quizzes.get_question("t6")
    assert "Answer: B. (2, 4, 20)" in review and t6.explanation in review
    assert "Common mistake:" in review and "Taught in notebook 01" in review
    assert "Score: 3/10" in card.results_html.value and "href=" in card.results_html.value
    assert card.question_box.layout.display == "none"
    again = TestCard("pre", fixed_draw, progress=Progress(tmp_path / "p.json"))  # after a restart
    assert again.seed == 3 and again.done and again.session.answers == card.session.answers
    again.start(seed=4)
    assert not again.done and again.session.answers == {} and again.radio.value is None


def test_test_card_counts_unanswered_as_wrong(tmp_path):
    from quizzes.progress import Progress
    from quizzes.widgets import TestCard

    card = TestCard("post", lambda seed: (quizzes.get_question("p1"), quizzes.get_question("p2")),
                    progress=Progress(tmp_path / "p.json"))
    card.start(seed=1)
    card.select("A")
    assert "1 unanswered" in card.status.value
    assert card.finish() == "Score: 1/2 correct (easy 1/2)"
    assert "2. p2 [easy] not answered" in card.review_text


def test_a_new_test_avoids_the_seeds_its_other_phase_forbids(tmp_path):
    from quizzes.progress import Progress
    from quizzes.widgets import TestCard

    progress = Progress(tmp_path / "p.json")
    TestCard("pre", fixed_draw, progress=progress).start(seed=10)
    seen = []

    def fresh(seed, other):
        seen.append(other)
        return len(seen) > 3  # refuse the first three seeds drawn
    card = TestCard("post", fixed_draw, fresh=fresh, progress=progress)
    card.start()
    assert seen == [10, 10, 10, 10] and card.seed is not None


# --- The terminal quiz ----------------------------------------------------------


def test_run_quiz_all_right_and_its_answers_are_saved(tmp_path):
    from quizzes.progress import Progress

    stdin = io.StringIO("".join(q.answer.lower() + "\n" for q in QUESTIONS))
    stdout = io.StringIO()
    session = cli.run_quiz(QUESTIONS, stdin, stdout, progress=Progress(tmp_path / "p.json"))
    assert session.finished and session.score == 10
    assert "Score: 10/10 correct (easy 3/3, medium 4/4, hard 3/3)" in stdout.getvalue()
    assert Progress(tmp_path / "p.json").answer("t9")["solved"]  # as the notebook's card does


def test_run_quiz_reprompts_bad_letters_and_gives_hints():
    stdin = io.StringIO("e\n\nx y\n b \nD\n")
    stdout = io.StringIO()
    questions = (quizzes.get_question("p1"), quizzes.get_question("p3"))
    session = cli.run_quiz(questions, stdin, stdout)
    out = stdout.getvalue()
    assert out.count("Please answer with one of A, B, C, D, ? for a hint.") == 3
    assert "Not yet: B is not the answer. Answer: A." in out
    assert "Sorting is torch.sort's job" in out  # the hint aimed at B
    assert "Common mistake: Thinking RNN sorts data" in out
    assert session.answers == {"p1": "B", "p3": "D"}
    assert "Score: 1/2 correct" in out


def test_run_quiz_shows_the_hint_before_answering_and_the_mistakes_after_a_right_answer(tmp_path):
    from quizzes.progress import Progress

    p4 = quizzes.get_question("p4")
    stdout = io.StringIO()
    progress = Progress(tmp_path / "p.json")
    session = cli.run_quiz((p4,), io.StringIO("?\nB\n"), stdout, progress=progress)
    out = stdout.getvalue()
    assert session.answers == {"p4": "B"}
    assert out.index(f"Hint: {p4.hint}") < out.index("Correct: B.")  # asked for, before answering
    assert "Common mistakes:" in out and all(m in out for m in p4.common_mistakes)
    assert progress.load()["practice"]["p4"]["hints"] == 1  # counted, as the notebook's button


def test_a_test_gives_no_hint_and_the_review_reads_as_sentences():
    from quizzes.messages import reveal

    assert reveal("B", "(2, 4, 20)") == "Answer: B. (2, 4, 20)."  # no run-on into the explanation
    assert reveal("A", "It runs.") == "Answer: A. It runs."
    stdout = io.StringIO()
    cli.run_quiz((quizzes.get_question("p1"),), io.StringIO("?\nA\n"), stdout, phase="pre")
    assert "Hint:" not in stdout.getvalue() and "Please answer with one of A, B, C, D." in stdout.getvalue()


def test_run_quiz_stops_cleanly_at_end_of_input():
    stdout = io.StringIO()
    session = cli.run_quiz(QUESTIONS, io.StringIO("A\n"), stdout)
    assert not session.finished and session.answers == {"p1": "A"}
    assert "Input ended after 1 of 10 questions" in stdout.getvalue()


def test_main_practice_and_default():
    stdout = io.StringIO()
    assert cli.main(["--practice"], io.StringIO("a\nc\nd\nb\na\n"), stdout) == 0
    assert "Question 5/5" in stdout.getvalue() and "Score: 5/5" in stdout.getvalue()
    stdout = io.StringIO()
    assert cli.main([], io.StringIO(""), stdout) == 1
    assert "Question 1/10" in stdout.getvalue() and "Input ended after 0 of 10" in stdout.getvalue()


def test_python_dash_m_quizzes():
    ok = subprocess.run([sys.executable, "-m", "quizzes", "--practice"], input="A\nC\nD\nB\nA\n",
                        cwd=REPO, capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0, ok.stderr
    assert "Score: 5/5 correct" in ok.stdout
    empty = subprocess.run([sys.executable, "-m", "quizzes"], stdin=subprocess.DEVNULL,
                           cwd=REPO, capture_output=True, text=True, timeout=30)
    assert empty.returncode == 1 and "Traceback" not in empty.stderr
    assert "Input ended after 0 of 10 questions" in empty.stdout
    bad = subprocess.run([sys.executable, "-m", "quizzes", "--ids", "p3,zz"], stdin=subprocess.DEVNULL,
                         cwd=REPO, capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "valid ids: p1" in bad.stderr


def test_feedback_wording_lives_in_one_place():
    import pathlib
    import re

    folder = pathlib.Path(quizzes.__file__).parent
    for path in folder.glob("*.py"):
        if path.name == "messages.py":
            continue
        literals = re.findall(r'"[^"\n]*"', path.read_text())
        for phrase in ("Correct", "Not yet", "Not quite", "Answer:", "Hint:", "Try again"):
            assert not any(phrase in lit for lit in literals), (path.name, phrase)


def test_a_prediction_is_kept_and_shown_beside_the_measured_answer(tmp_path):
    from quizzes.progress import Progress
    from quizzes.widgets import PredictionCard

    seen = []

    def reveal(choices):
        seen.append(choices)
        return "<p>measured: B</p>"

    questions = [("q", "Which?", {"a": "option A", "b": "option B"})]
    card = PredictionCard("test", questions, reveal, Progress(tmp_path / "p.json"))
    assert card.predict() == "" and "Answer every question" in card.status.value
    card.choose(q="a")
    shown = card.predict()
    assert "You predicted:" in shown and "option A" in shown and "measured: B" in shown
    again = PredictionCard("test", questions, reveal, Progress(tmp_path / "p.json"))
    assert "option A" in again.answer.value and again.ask_box.layout.display == "none"
    assert Progress(tmp_path / "p.json").prediction("test")["choices"] == {"q": "option A"}
    static = again._repr_mimebundle_()["text/html"]
    assert "Which?" in static and "option B" in static and "<details>" in static
    fresh = PredictionCard("other", questions, reveal, Progress(tmp_path / "p.json"))
    fresh.show_answer()  # a learner who skips the prediction still sees the answer
    assert "measured: B" in fresh.answer.value and seen[-1] is None
