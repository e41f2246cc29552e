"""The test's items, generated from a seed: every answer key is computed by running PyTorch.

Each kind of item draws its parameters (sizes, layers, `batch_first`, `bidirectional`...), builds
the layer, runs it, and reads the key off PyTorch: a shape, a sum of `p.numel()`, the exception a
call raises, the layers whose state dropout changed. Its wrong options are the classic mistakes,
each computed from the same parameters (batch_first ignored, the directions forgotten, the hidden
size taken for the output...), and every option is checked against what PyTorch did: an item has
exactly one correct option and four distinct ones, or its parameters are drawn again. Options are
shuffled per item, so a letter or a position says nothing.

`generate(kind, seed)` makes one item; `rnn_lesson.lessons.mastery` assembles a whole test from one
seed (these items, and learning-curve items from the course's own runs).
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import warnings
from dataclasses import dataclass
from typing import Callable, Iterator

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

from .questions import BASICS, BONUS, EXPERIMENT, LETTERS, Question, Section

MAX_TRIES = 50  # parameter draws before a kind gives up (none needs more than a few)


@dataclass(frozen=True)
class Option:
    """One answer option and what PyTorch says of it."""

    text: str
    correct: bool
    mistake: str = ""  # a wrong option: the classic mistake it stands for
    why: str = ""  # a wrong option: why it is wrong (shown after a wrong answer)


@dataclass
class Draft:
    """What a kind builds from its parameters, before the options are chosen and shuffled."""

    params: tuple  # identifies the item: the same parameters give the same item (and id)
    prompt: str
    code: str | None
    key: Option  # the option PyTorch says is correct
    wrong: list[Option]  # at least three candidates; the draw keeps three
    explanation: str
    hint: str


class Redraw(Exception):
    """These parameters make no good item (two options would coincide, say): draw again."""


@dataclass(frozen=True)
class Kind:
    name: str
    difficulty: str
    section: Section
    make: Callable[[random.Random], Draft]


KINDS: dict[str, Kind] = {}

# What the notebooks show answered: a test item with these parameters would be one the learner has
# seen worked out (p3, p4, t6, t7, notebook 01's examples, the parameter counts of notebooks 01, 03
# and 06). tests/test_mastery.py finds every nn.RNN built in a notebook and checks it is listed.
SHOWN_IN_NOTEBOOKS = {
    ("output_shape", 5, 3, True, (4, 7, 5)), ("output_shape", 10, 4, True, (3, 6, 10)),
    *((kind, *layer) for kind in ("h_n_shape", "h0_shape") for layer in (
        (10, 20, 2, True, False, (4, 7, 10)), (10, 4, 2, True, False, (3, 6, 10)),
        (5, 3, 2, True, False, (4, 7, 5)), (5, 3, 2, False, False, (7, 4, 5)),
        (5, 3, 2, True, True, (4, 7, 5)))),
    ("bidirectional_final", 5, 3, 2, 4, 7, True), ("bidirectional_final", 5, 3, 2, 4, 7, False),
    *(("constructor", i, h) for i, h in ((10, 20), (20, 10), (8, 4), (10, 4), (5, 3), (10, 32))),
    *(("param_count_rnn", i, h, layers) for i, h, layers in
      ((10, 20, 1), (10, 20, 2), (10, 32, 1), (10, 32, 2), (10, 4, 1), (10, 4, 2), (5, 3, 1),
       (5, 3, 2), (8, 4, 1))),
    ("input_size_error", 8, 4, 10, 3, 5),
    ("dropout_where", 10, 20, 1, 0.3),
}


def kind(name: str, difficulty: str, section: Section):
    def register(make: Callable[[random.Random], Draft]):
        KINDS[name] = Kind(name, difficulty, section, make)
        return make
    return register


def generate(kind_name: str, seed: int | str) -> Question:
    """One item of `kind_name`, the same for the same seed on every machine."""
    spec = KINDS[kind_name]
    rng = random.Random(f"{kind_name}:{seed}")
    for _ in range(MAX_TRIES):
        try:
            with _quiet_torch():
                draft = spec.make(rng)
            if (kind_name, *draft.params) in SHOWN_IN_NOTEBOOKS:
                raise Redraw("shown in a notebook")
            return _question(spec, draft, rng)
        except Redraw:
            continue
    raise RuntimeError(f"{kind_name}: no valid item in {MAX_TRIES} draws from seed {seed}")


def _question(spec: Kind, draft: Draft, rng: random.Random) -> Question:
    """Check the draft against PyTorch's verdicts, keep three wrong options, shuffle."""
    if not draft.key.correct:
        raise RuntimeError(f"{spec.name}: the key is not what PyTorch returned")  # a bug
    wrong = [o for o in draft.wrong if not o.correct and o.text != draft.key.text]
    distinct = list({o.text: o for o in wrong}.values())
    if len(distinct) < 3:
        raise Redraw("fewer than three distinct wrong options")
    options = [draft.key, *rng.sample(distinct, 3)]
    rng.shuffle(options)
    if sum(o.correct for o in options) != 1 or len({o.text for o in options}) != 4:
        raise RuntimeError(f"{spec.name}: not exactly one correct option")  # a bug
    letters = dict(zip(LETTERS, options))
    answer = next(letter for letter, o in letters.items() if o.correct)
    digest = hashlib.sha256(repr((spec.name, draft.params)).encode()).hexdigest()[:8]
    return Question(
        id=f"{spec.name}-{digest}", prompt=draft.prompt, code=draft.code,
        options={letter: o.text for letter, o in letters.items()}, answer=answer,
        difficulty=spec.difficulty, hint=draft.hint, explanation=draft.explanation,
        common_mistakes=tuple(o.mistake for o in letters.values() if not o.correct),
        wrong_option_hints={letter: o.why for letter, o in letters.items() if not o.correct},
        mistakes={letter: o.mistake for letter, o in letters.items() if not o.correct},
        source="generated", section=spec.section)


@contextlib.contextmanager
def _quiet_torch() -> Iterator[None]:
    """Seeded, without gradients and without touching the learner's random state."""
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(0)
        yield


# ---------------------------------------------------------------------------------------------
# Helpers


def shape(values) -> str:
    """A shape as Python prints a tuple: (4, 7, 20), and (12,) for one dimension."""
    numbers = [str(int(v)) for v in values]
    return "(" + ", ".join(numbers) + ("," if len(numbers) == 1 else "") + ")"


def _distinct(rng: random.Random, low: int, high: int, n: int, avoid: set[int] = frozenset()) -> list[int]:
    pool = [v for v in range(low, high + 1) if v not in avoid]
    return rng.sample(pool, n)


def _shape_option(candidate: tuple, truth: tuple, mistake: str = "", why: str = "") -> Option:
    return Option(shape(candidate), tuple(candidate) == tuple(truth), mistake, why)


def _layer_code(cell: str, i: int, h: int, layers: int = 1, batch_first: bool = False,
                bidirectional: bool = False, extra: str = "") -> str:
    args = [f"input_size={i}", f"hidden_size={h}"]
    if layers != 1:
        args.append(f"num_layers={layers}")
    if batch_first:
        args.append("batch_first=True")
    if bidirectional:
        args.append("bidirectional=True")
    if extra:
        args.append(extra)
    return f"nn.{cell}({', '.join(args)})"


def _sizes(rng: random.Random) -> tuple[int, int, int, int]:
    """input_size, hidden_size, batch, seq_len: four different numbers, so that no shape can be
    right by coincidence."""
    i, h, batch, steps = _distinct(rng, 2, 24, 4)
    return i, h, batch, steps


@dataclass(frozen=True)
class Mistake:
    """A classic mistake about a shape: `flag` names it for a kind's `believed` function."""

    flag: str
    name: str  # "Assuming batch_first also applies to h_n"
    why: str  # why it is wrong, for this item's numbers


def _two_mistakes(rng: random.Random, believed: Callable[[frozenset], tuple | None],
                  mistakes: list[Mistake], right: Callable[[tuple], bool]) -> tuple[Option, list[Option]]:
    """The key and three wrong shapes: the four corners of two mistakes, made or not (neither,
    the first, the second, both). `believed(flags)` is the shape a learner making those mistakes
    expects (None where the two do not combine); `right(shape)` is PyTorch's verdict.

    Why corners: with one mistake per wrong option, each wrong shape differs from the key in one
    place, so the option that agrees most with the others, number by number, is the key (about
    nine times in ten). With corners every number of an option is shared by another option, so
    that guess is no better than chance (tests/test_mastery.py measures it)."""
    truth = believed(frozenset())
    pairs = [(a, b) for n, a in enumerate(mistakes) for b in mistakes[n + 1:]]
    rng.shuffle(pairs)
    for a, b in pairs:
        corners = [believed(frozenset({a.flag})), believed(frozenset({b.flag})),
                   believed(frozenset({a.flag, b.flag}))]
        if None in corners or len({truth, *corners}) < 4:
            continue
        both = f"{a.name}, and {b.name[0].lower()}{b.name[1:]}"
        wrong = [Option(shape(c), right(c), name, why) for c, name, why in
                 zip(corners, (a.name, b.name, both), (a.why, b.why, f"{a.why} {b.why}"))]
        return Option(shape(truth), right(truth)), wrong
    raise Redraw("no two mistakes give four different shapes")


def _states(layers: int, directions: int, flags: frozenset) -> int:
    """How many final states (num_layers x directions) a learner making `flags` expects."""
    return (1 if "layers" in flags else layers) * (1 if "directions" in flags else directions)


def _stack_mistakes(layers: int, directions: int, batch_first: bool, h: int, i: int,
                    state: str = "h_n") -> list[Mistake]:
    """The mistakes about a final state's shape that these settings make possible."""
    found = [Mistake("input", "Mixing hidden_size with input_size",
                     f"A state has hidden_size={h} numbers, not input_size={i}.")]
    if batch_first:
        found.append(Mistake("batch_first", f"Assuming batch_first also applies to {state}",
                             f"batch_first changes the input and output, never {state}."))
    if directions == 2:
        found.append(Mistake("directions", "Forgetting that each direction has its own state",
                             "A bidirectional layer keeps a forward and a backward state per layer."))
    if layers > 1:
        found.append(Mistake("layers", f"Forgetting that {state} has one entry per layer",
                             f"There is one final state per layer (and direction): "
                             f"num_layers={layers}."))
    return found


def _state_shape(layers: int, directions: int, batch: int, size: int, flags: frozenset) -> tuple:
    """(num_layers x directions, batch, size), as a learner making `flags` expects it."""
    n = _states(layers, directions, flags)
    return (batch, n, size) if "batch_first" in flags else (n, batch, size)


# ---------------------------------------------------------------------------------------------
# Easy


@kind("output_shape", "easy", Section(BASICS, "2. Shapes"))
def _output_shape(rng: random.Random) -> Draft:
    i, h, batch, steps = _sizes(rng)
    batch_first = rng.random() < 0.5
    x_shape = (batch, steps, i) if batch_first else (steps, batch, i)
    rnn = nn.RNN(i, h, batch_first=batch_first)
    output, h_n = rnn(torch.randn(x_shape))
    truth = tuple(output.shape)
    layout = "(batch, seq_len, features)" if batch_first else "(seq_len, batch, features)"

    def believed(flags: frozenset) -> tuple | None:
        if {"h_n", "middle"} <= flags:
            return None
        size = i if "input" in flags else h
        first, second = (x_shape[1], x_shape[0]) if "layout" in flags else x_shape[:2]
        if "h_n" in flags:  # (1 layer, batch, size); swapped by a learner who applies the layout
            return (batch, 1, size) if "layout" in flags else (1, batch, size)
        return (first, size, second) if "middle" in flags else (first, second, size)

    key, wrong = _two_mistakes(rng, believed, [
        Mistake("layout", "Ignoring the batch_first parameter",
                f"batch_first={batch_first}: output keeps the input's layout {layout}."),
        Mistake("input", "Mixing hidden_size with input_size in the output shape",
                f"Each step of output has hidden_size={h} numbers, not input_size={i}."),
        Mistake("h_n", "Confusing output with h_n",
                "h_n is the last step of each layer; output holds every step."),
        Mistake("middle", "Putting the features before the time steps",
                "The features always come last, as in the input."),
    ], lambda candidate: candidate == truth)
    return Draft(
        params=(i, h, batch_first, x_shape),
        prompt="What is the shape of output after this code runs?",
        code=f"rnn = {_layer_code('RNN', i, h, batch_first=batch_first)}\n"
             f"x = torch.randn{shape(x_shape)}\noutput, h_n = rnn(x)",
        key=key, wrong=wrong,
        explanation=f"With batch_first={batch_first} the layer reads x {shape(x_shape)} as "
                    f"{layout}: a batch of {batch}, {steps} steps. output holds the hidden state "
                    f"at every step, in the same layout: {shape(truth)}, with hidden_size={h} "
                    f"numbers per step.",
        hint="Which layout does this layer use, and how many numbers does it return per step?")


@kind("layout_default", "easy", Section(BASICS, "2. Shapes"))
def _layout_default(rng: random.Random) -> Draft:
    i, h, first, second = _sizes(rng)
    rnn = nn.RNN(i, h)
    output, h_n = rnn(torch.randn(first, second, i))
    truth = (output.shape[0], h_n.shape[1], rnn.input_size)  # steps, batch, features: PyTorch's

    def believed(flags: frozenset) -> tuple:
        """(steps, batch, features) as read by a learner who thinks the batch comes first
        ("batch_first") or the features sit in the middle ("middle"); both: Conv1d's layout."""
        dims = [first, second, i]  # the sizes of x, in order
        roles = ["steps", "batch", "features"]
        if "batch_first" in flags:
            roles[0], roles[1] = roles[1], roles[0]
        if "middle" in flags:
            roles[1], roles[2] = roles[2], roles[1]
        read = dict(zip(roles, dims))
        return read["steps"], read["batch"], read["features"]

    def reads(steps_batch_features: tuple, mistake: str = "", why: str = "") -> Option:
        steps, batch, features = steps_batch_features
        return Option(f"{steps} time steps, a batch of {batch} sequences, {features} features "
                      "per step", steps_batch_features == truth, mistake, why)

    # The four corners of two mistakes (see _two_mistakes): no reading stands out by its numbers.
    wrong = [
        reads(believed(frozenset({"batch_first"})),
              "Assuming the batch comes first without batch_first=True",
              "Without batch_first the layout is (seq_len, batch, features)."),
        reads(believed(frozenset({"middle"})), "Taking the middle dimension for the features",
              f"The features are the last dimension, {i}: the layer's input_size."),
        reads(believed(frozenset({"batch_first", "middle"})),
              "Reading x as Conv1d's (batch, channels, length)",
              "Recurrent layers put the features last: (seq_len, batch, features) by default."),
    ]
    return Draft(
        params=(i, h, first, second),
        prompt="How does this layer read x?",
        code=f"rnn = {_layer_code('RNN', i, h)}\nx = torch.randn{shape((first, second, i))}\n"
             "output, h_n = rnn(x)",
        key=reads(believed(frozenset())), wrong=wrong,
        explanation=f"Without batch_first=True PyTorch's recurrent layers expect (seq_len, batch, "
                    f"features): {first} steps, a batch of {second}, {i} features. You can see it "
                    f"in h_n, whose batch dimension is {h_n.shape[1]}: shape {shape(h_n.shape)}.",
        hint="What is batch_first's default, and what layout does it mean?")


@kind("constructor", "easy", Section(BASICS, "The constructor"))
def _constructor(rng: random.Random) -> Draft:
    i, h = _distinct(rng, 2, 40, 2)

    def built(text: str, mistake: str = "", why: str = "") -> Option:
        try:
            layer = eval(text, {"nn": nn})  # our own expressions, nothing of the learner's
            ok = (layer.input_size, layer.hidden_size) == (i, h)
        except TypeError:
            ok = False
        return Option(text, ok, mistake, why)

    def call(first: int, second: int, style: str) -> str:
        """nn.RNN with these two sizes, positional or by keyword (in either order)."""
        return {"positional": f"nn.RNN({first}, {second})",
                "keywords": f"nn.RNN(input_size={first}, hidden_size={second})",
                "reversed": f"nn.RNN(hidden_size={second}, input_size={first})"}[style]

    # Every way of writing the call appears among the wrong options as well as in the key, so the
    # form of a line says nothing.
    styles = ["positional", "keywords", "reversed"]
    keyword = rng.choice(["keywords", "reversed"])
    wrong = [
        built(call(h, i, "positional"), "Using positional args in wrong order",
              f"Positional arguments go (input_size, hidden_size): this reads {h} features."),
        built(call(h, i, keyword), "Swapping input_size and hidden_size",
              "The names are right but the values are swapped."),
        built(rng.choice([f"nn.RNN({i})", f"nn.RNN(input_size={i})"]),
              "Omitting hidden_size parameter", "hidden_size has no default: this raises TypeError."),
        built(rng.choice([f"nn.RNN({i}, num_layers={h})", f"nn.RNN(input_size={i}, num_layers={h})"]),
              "Taking num_layers for the hidden size",
              "num_layers stacks layers; hidden_size is still missing, so this raises TypeError."),
    ]
    key = built(call(i, h, rng.choice(styles)))
    return Draft(
        params=(i, h),
        prompt=f"Which line builds an nn.RNN that reads {i} features per time step and keeps a "
               f"hidden state of {h} units?",
        code=None, key=key, wrong=wrong,
        explanation=f"The signature is nn.RNN(input_size, hidden_size, ...): {key.text} builds a "
                    f"layer with input_size={i} and hidden_size={h} (with keywords, their order "
                    "does not matter).",
        hint="What comes first in nn.RNN's signature, and which argument has no default?")


@kind("input_size_error", "easy", Section(BASICS, "3. The input-size mismatch"))
def _input_size_error(rng: random.Random) -> Draft:
    expected, h, batch, steps = _sizes(rng)
    # Most items feed a wrong number of features, some the right one: the answer is not always
    # an error, and every item offers two outcomes that run and two that raise.
    given = expected if rng.random() < 0.5 else \
        rng.choice([v for v in range(2, 25) if v not in (expected, h, batch, steps)])
    rnn = nn.RNN(input_size=expected, hidden_size=h, batch_first=True)
    x = torch.randn(batch, steps, given)
    try:
        outcome, output = "", rnn(x)[0]
    except RuntimeError as error:
        outcome, output = str(error), None
    # "it runs on the first features" would be true if it ran and matched the trimmed input
    trimmed = rnn(x[..., :expected])[0] if output is not None and given > expected else None

    def raises(text: str, fragment: str, mistake: str = "", why: str = "") -> Option:
        return Option(text, bool(outcome) and fragment in outcome, mistake, why)

    def runs(text: str, result_shape: tuple, mistake: str = "", why: str = "") -> Option:
        return Option(text, output is not None and tuple(output.shape) == result_shape, mistake, why)

    # The features the message names: the given ones, or (when they match) the middle dimension,
    # which a learner who misreads the layout takes for them.
    named = given if given != expected else steps
    it_runs = runs(f"It runs, and output has the shape {shape((batch, steps, h))}",
                   (batch, steps, h), "Ignoring the input_size mismatch",
                   "The layer checks the size of every step's input.")
    mismatch = raises(f"RuntimeError: input_size is {expected}, the input has {named} per step",
                      f"Expected {expected}, got {named}", "Taking the middle dimension for the "
                      "features", f"With batch_first=True the features are the last dimension, "
                      f"{given}, which matches input_size={expected}.")
    other_runs = runs(f"It runs, and output has the shape {shape((batch, steps, given))}",
                      (batch, steps, given), "Mixing hidden_size with input_size in the output shape",
                      f"Each step of output has hidden_size={h} numbers.")
    if given > expected and rng.random() < 0.5:
        other_runs = Option(f"It runs, reading only the first {expected} of the {given} features",
                            trimmed is not None and torch.allclose(output, trimmed),
                            "Expecting PyTorch to trim the input", "PyTorch never trims or pads features.")
    key, wrong = (it_runs, [other_runs, mismatch]) if not outcome else (mismatch, [other_runs, it_runs])
    wrong.append(raises(f"RuntimeError: hidden_size {h} must equal the {given} input features",
                        "hidden_size must", "Believing hidden_size must equal the input size",
                        "input_size and hidden_size are independent."))
    said = outcome.splitlines()[0] if outcome else ""
    return Draft(
        params=(expected, h, given, batch, steps),
        prompt="What happens when this code runs?",
        code=f"rnn = {_layer_code('RNN', expected, h, batch_first=True)}\n"
             f"x = torch.randn{shape((batch, steps, given))}\noutput, h_n = rnn(x)",
        key=key, wrong=wrong,
        explanation=(f"The last dimension of the input must equal input_size. Here it is {given}, "
                     f"not {expected}: PyTorch says \"{said}\". Build the layer with "
                     f"input_size={given}, or feed {expected} features." if outcome else
                     f"The last dimension of the input, {given}, equals input_size: it runs. With "
                     f"batch_first=True, output is (batch, seq_len, hidden_size) = "
                     f"{shape((batch, steps, h))}."),
        hint="Compare the input's last dimension with the layer's input_size.")


# ---------------------------------------------------------------------------------------------
# Medium


def _stack(rng: random.Random) -> tuple[int, int, int, int, int, bool, bool]:
    i, h, batch, steps = _sizes(rng)
    layers = rng.choice([1, 2, 3])
    batch_first, bidirectional = rng.random() < 0.5, rng.random() < 0.5
    return i, h, batch, steps, layers, batch_first, bidirectional


@kind("h_n_shape", "medium", Section(BASICS, "2. Shapes"))
def _h_n_shape(rng: random.Random) -> Draft:
    i, h, batch, steps, layers, batch_first, bidirectional = _stack(rng)
    directions = 2 if bidirectional else 1
    x_shape = (batch, steps, i) if batch_first else (steps, batch, i)
    rnn = nn.RNN(i, h, num_layers=layers, batch_first=batch_first, bidirectional=bidirectional)
    output, h_n = rnn(torch.randn(x_shape))
    truth = tuple(h_n.shape)

    def believed(flags: frozenset) -> tuple | None:
        size = i if "input" in flags else h
        if "output" in flags:  # every step of the top layer, in the input's layout
            if flags & {"batch_first", "layers"}:
                return None
            return (*x_shape[:2], (1 if "directions" in flags else directions) * size)
        return _state_shape(layers, directions, batch, size, flags)

    key, wrong = _two_mistakes(
        rng, believed, _stack_mistakes(layers, directions, batch_first, h, i) + [
            Mistake("output", "Mixing up h_n with output",
                    "output is every step of the top layer; h_n is the last step of every layer.")],
        lambda candidate: candidate == truth)
    return Draft(
        params=(i, h, layers, batch_first, bidirectional, x_shape),
        prompt="What is the shape of h_n after this code runs?",
        code=f"rnn = {_layer_code('RNN', i, h, layers, batch_first, bidirectional)}\n"
             f"x = torch.randn{shape(x_shape)}\noutput, h_n = rnn(x)",
        key=key, wrong=wrong,
        explanation=f"h_n holds the final state of every layer and direction: (num_layers x "
                    f"directions, batch, hidden_size) = ({layers} x {directions}, {batch}, {h}) = "
                    f"{shape(truth)}, whatever batch_first says. output is {shape(output.shape)}.",
        hint="batch_first changes the layout of the input and output, not of h_n.")


@kind("h0_shape", "medium", Section(BASICS, "2. Shapes"))
def _h0_shape(rng: random.Random) -> Draft:
    i, h, batch, steps, layers, batch_first, bidirectional = _stack(rng)
    directions = 2 if bidirectional else 1
    x_shape = (batch, steps, i) if batch_first else (steps, batch, i)
    rnn = nn.RNN(i, h, num_layers=layers, batch_first=batch_first, bidirectional=bidirectional)
    x = torch.randn(x_shape)

    def accepted(candidate: tuple) -> bool:
        try:
            rnn(x, torch.zeros(candidate))
            return True
        except RuntimeError:
            return False

    def believed(flags: frozenset) -> tuple | None:
        if {"steps", "batch_first"} <= flags:
            return None
        size = i if "input" in flags else h
        if "steps" in flags:  # a starting state per time step
            return (_states(layers, directions, flags), steps, size)
        return _state_shape(layers, directions, batch, size, flags)

    key, wrong = _two_mistakes(
        rng, believed, _stack_mistakes(layers, directions, batch_first, h, i, state="h_0") + [
            Mistake("steps", "Giving a starting state per time step",
                    "h_0 is one state per sequence, before the first step.")],
        accepted)
    right = _state_shape(layers, directions, batch, h, frozenset())
    return Draft(
        params=(i, h, layers, batch_first, bidirectional, x_shape),
        prompt="rnn(x, h_0) runs this layer from a given starting state. Which shape must h_0 have?",
        code=f"rnn = {_layer_code('RNN', i, h, layers, batch_first, bidirectional)}\n"
             f"x = torch.randn{shape(x_shape)}",
        key=key, wrong=wrong,
        explanation=f"h_0 has the shape of h_n: (num_layers x directions, batch, hidden_size) = "
                    f"{shape(right)}, whatever batch_first says. Any other shape makes PyTorch "
                    "raise RuntimeError.",
        hint="h_0 is shaped like the h_n the layer returns.")


@kind("param_count_rnn", "medium", Section(BASICS, "The constructor"))
def _param_count_rnn(rng: random.Random) -> Draft:
    i, h = _distinct(rng, 2, 40, 2)
    layers = rng.choice([1, 2])
    rnn = nn.RNN(i, h, num_layers=layers)
    truth = sum(p.numel() for p in rnn.parameters())
    upper = (layers - 1) * h * (2 * h + 2)

    def count(n: int, mistake: str = "", why: str = "") -> Option:
        return Option(f"{n:,}", n == truth, mistake, why)

    wrong = [
        count(h * (i + h) + (layers - 1) * h * 2 * h, "Forgetting the biases",
              "Each layer has two bias vectors of hidden_size: b_ih and b_hh."),
        count(h * (i + h + 1) + (layers - 1) * h * (2 * h + 1), "Counting one bias per layer",
              "nn.RNN keeps two biases per layer, b_ih and b_hh."),
        count(layers * h * (i + h + 2), "Assuming every layer reads the input features",
              f"Layer 2 reads layer 1's {h} outputs, not the {i} input features."),
        count(h * (i + 2) + (layers - 1) * h * (h + 2), "Forgetting the recurrent weights W_hh",
              "W_hh (hidden_size x hidden_size) carries the state from step to step."),
        count(i * h, "Counting only the input weights", "Also W_hh and the two biases."),
    ]
    per_layer = f"h x (i + h + 2) = {h} x ({i} + {h} + 2) = {h * (i + h + 2):,}"
    return Draft(
        params=(i, h, layers),
        prompt="How many parameters does this layer have "
               "(sum(p.numel() for p in rnn.parameters()))?",
        code=f"rnn = {_layer_code('RNN', i, h, layers)}",
        key=count(truth), wrong=wrong,
        explanation=f"Each layer has W_ih (h x its input), W_hh (h x h) and two biases of h. "
                    f"Layer 1: {per_layer}"
                    + (f"; layer 2 reads layer 1's {h} outputs: {upper:,}" if layers > 1 else "")
                    + f". In all {truth:,}.",
        hint="Count W_ih, W_hh and the two biases of each layer; what does layer 2 read?")


# The statement that is never true ("top") is the longest, so length points away from the key.
DROPOUT_PLACES = {
    "between": "Between stacked layers: on every layer's output but the last",
    "recurrent": "On the hidden state that each time step hands to the next one",
    "top": "On the top layer's output at each step, just as it is returned",
    "nowhere": "Nowhere: PyTorch only warns, and no unit is ever set to zero",
}


def _upper_inputs(layers: int) -> str:
    """'input of layer 2 is' or 'inputs of layers 2 and 3 are'."""
    if layers == 2:
        return "input of layer 2 is"
    return "inputs of layers " + ", ".join(str(n) for n in range(2, layers)) + f" and {layers} are"


@kind("dropout_where", "medium", Section(EXPERIMENT, "Where the dropout of nn.RNN acts"))
def _dropout_where(rng: random.Random) -> Draft:
    i, h = _distinct(rng, 4, 32, 2)
    layers = rng.choice([1, 1, 2, 3])  # half the items have one layer: neither answer is a safe guess
    p = rng.choice([0.2, 0.3, 0.4, 0.5, 0.6])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rnn = nn.RNN(i, h, num_layers=layers, dropout=p, batch_first=True).train()
    warned = any("dropout" in str(w.message) for w in caught)
    x = torch.randn(64, 10, i)
    (out_a, h_a), (out_b, h_b) = rnn(x), rnn(x)  # two training-mode passes, two dropout masks
    changed = [not torch.equal(h_a[k], h_b[k]) for k in range(layers)]
    top_dropped = not torch.equal(out_a[:, -1], h_a[-1])  # dropout after the top layer?
    measured = {
        "between": layers > 1 and not changed[0] and all(changed[1:]) and not top_dropped,
        "recurrent": changed[0],
        "top": top_dropped,
        "nowhere": not any(changed) and not top_dropped and warned,
    }
    mistakes = {
        "between": ("Expecting dropout inside a one-layer nn.RNN",
                    "With one layer there is no 'between': nothing is ever dropped."),
        "recurrent": ("Thinking nn.RNN's dropout acts on the recurrent connection",
                      "Two training-mode passes give layer 1 the same state: the recurrence is untouched."),
        "top": ("Thinking nn.RNN drops its own output",
                "The last layer's output is returned as is; add nn.Dropout yourself after it."),
        "nowhere": ("Thinking nn.RNN's dropout needs more than two layers",
                    f"With {layers} layers the {_upper_inputs(layers)} dropped."),
    }
    options = {place: Option(text, measured[place], *mistakes[place])
               for place, text in DROPOUT_PLACES.items()}
    (key,) = [o for o in options.values() if o.correct] or [Option("", False)]
    if not key.text:
        raise RuntimeError("dropout_where: no statement matches what PyTorch did")  # a bug
    return Draft(
        params=(i, h, layers, p),
        prompt="In training mode, where does this layer apply its dropout?",
        code=f"rnn = {_layer_code('RNN', i, h, layers, batch_first=True, extra=f'dropout={p}')}"
             "\nrnn.train()",
        key=key, wrong=[o for o in options.values() if not o.correct],
        explanation=("nn.RNN(dropout=p) drops the outputs of every layer except the last: with "
                     f"{layers} layers the {_upper_inputs(layers)} dropped. Run twice in training "
                     "mode, layer 1's final state is identical, the others differ."
                     if layers > 1 else
                     "nn.RNN(dropout=p) acts only between stacked layers; with num_layers=1 there "
                     "is none, so PyTorch warns and drops nothing. Add nn.Dropout after the layer, "
                     "or stack two layers."),
        hint="nn.RNN's dropout argument acts between stacked layers. How many are there?")


@kind("which_raises", "medium", Section(BASICS, "3. The input-size mismatch"))
def _which_raises(rng: random.Random) -> Draft:
    i, h, batch, steps = _sizes(rng)
    layers = rng.choice([1, 2])
    rnn = nn.RNN(i, h, num_layers=layers, batch_first=True)
    other = rng.choice([v for v in range(2, 25) if v not in (i, h, batch, steps, layers)])

    def call(text: str, make: Callable[[], tuple], mistake: str = "",
             why: str = "") -> tuple[Option, str]:
        """The option "this call raises", judged by running the call."""
        try:
            rnn(*make())
            return Option(text, False, mistake, why), ""
        except RuntimeError as error:
            return Option(text, True), str(error).splitlines()[0]

    fine = [
        call(f"rnn(torch.randn({batch}, {steps}, {i}))", lambda: (torch.randn(batch, steps, i),),
             "Thinking a correct call raises", "A batch of (batch, seq_len, features): it runs."),
        call(f"rnn(torch.randn({steps}, {i}))", lambda: (torch.randn(steps, i),),
             "Thinking nn.RNN needs a 3-D input",
             f"A 2-D input is one unbatched sequence of {steps} steps: it runs."),
        call(f"rnn(torch.randn({batch}, {steps}, {i}), torch.zeros({layers}, {batch}, {h}))",
             lambda: (torch.randn(batch, steps, i), torch.zeros(layers, batch, h)),
             "Thinking h_0 follows batch_first",
             "h_0 is (num_layers, batch, hidden) whatever batch_first says: it runs."),
        call(f"rnn(torch.randn({other}, {i}))", lambda: (torch.randn(other, i),),
             "Thinking a 2-D input must be (batch, features)",
             f"A 2-D input is read as {other} steps of one sequence: it runs."),
        call(f"rnn(torch.randn({batch}, {steps}, {i}), torch.randn({layers}, {batch}, {h}))",
             lambda: (torch.randn(batch, steps, i), torch.randn(layers, batch, h)),
             "Thinking h_0 must be zeros",
             "Any starting state of shape (num_layers, batch, hidden_size) is accepted: it runs."),
    ]
    failing = [
        call(f"rnn(torch.randn({batch}, {steps}, {other}))",
             lambda: (torch.randn(batch, steps, other),)),
        call(f"rnn(torch.randn({batch}, {steps}, {i}), torch.zeros({batch}, {layers}, {h}))",
             lambda: (torch.randn(batch, steps, i), torch.zeros(batch, layers, h))),
        call(f"rnn(torch.randn({batch}, {steps}, {i}), torch.zeros({layers}, {batch}, {i}))",
             lambda: (torch.randn(batch, steps, i), torch.zeros(layers, batch, i))),
    ]
    raising = [(option, message) for option, message in failing if option.correct]
    if not raising:
        raise Redraw("none of the candidate calls raises with these sizes")
    key, message = rng.choice(raising)
    return Draft(
        params=(i, h, batch, steps, layers, key.text),
        prompt="Which of these calls raises an error?",
        code=f"rnn = {_layer_code('RNN', i, h, layers, batch_first=True)}",
        key=key, wrong=[option for option, _ in fine],
        explanation=f"{key.text} raises RuntimeError: \"{message}\". The other calls run: a 2-D "
                    "input is one unbatched sequence, and h_0 is (num_layers, batch, hidden_size) "
                    "whatever batch_first says.",
        hint="Check each call's last dimension against input_size, and h_0 against h_n's shape.")


# ---------------------------------------------------------------------------------------------
# Hard


@kind("lstm_state_shape", "hard", Section(BONUS, "What nn.LSTM and nn.GRU return"))
def _lstm_state_shape(rng: random.Random) -> Draft:
    i, h, batch, steps, layers, batch_first, bidirectional = _stack(rng)
    directions = 2 if bidirectional else 1
    x_shape = (batch, steps, i) if batch_first else (steps, batch, i)
    lstm = nn.LSTM(i, h, num_layers=layers, batch_first=batch_first, bidirectional=bidirectional)
    output, (h_n, c_n) = lstm(torch.randn(x_shape))
    truth = tuple(c_n.shape)

    def believed(flags: frozenset) -> tuple | None:
        size = (4 if "gates" in flags else 1) * (i if "input" in flags else h)
        if "output" in flags:
            if flags & {"batch_first", "layers"}:
                return None
            return (*x_shape[:2], (1 if "directions" in flags else directions) * size)
        return _state_shape(layers, directions, batch, size, flags)

    key, wrong = _two_mistakes(
        rng, believed, _stack_mistakes(layers, directions, batch_first, h, i, state="c_n") + [
            Mistake("gates", "Thinking the cell state has one slice per gate",
                    "The four gates share one cell state of hidden_size numbers."),
            Mistake("output", "Mixing up the cell state with the output",
                    "output holds h_t at every step of the top layer; c_n is the last step only.")],
        lambda candidate: candidate == truth)
    return Draft(
        params=(i, h, layers, batch_first, bidirectional, x_shape),
        prompt="nn.LSTM returns output, (h_n, c_n). What is the shape of c_n here?",
        code=f"lstm = {_layer_code('LSTM', i, h, layers, batch_first, bidirectional)}\n"
             f"x = torch.randn{shape(x_shape)}\noutput, (h_n, c_n) = lstm(x)",
        key=key, wrong=wrong,
        explanation=f"c_n is the cell state after the last step, one per layer and direction, "
                    f"shaped like h_n: ({layers} x {directions}, {batch}, {h}) = {shape(truth)}. "
                    f"The gates share it; batch_first does not apply. output is "
                    f"{shape(output.shape)}.",
        hint="c_n is shaped like h_n. Does batch_first change it, and how many gates share it?")


@kind("param_count_gated", "hard", Section(BONUS, "What nn.LSTM and nn.GRU return"))
def _param_count_gated(rng: random.Random) -> Draft:
    i, h = _distinct(rng, 2, 24, 2)
    cell = rng.choice(["LSTM", "GRU"])
    gates = {"LSTM": 4, "GRU": 3}[cell]
    layers = rng.choice([1, 2])
    bidirectional = rng.random() < 0.5
    directions = 2 if bidirectional else 1
    layer = getattr(nn, cell)(i, h, num_layers=layers, bidirectional=bidirectional)
    truth = sum(p.numel() for p in layer.parameters())

    def counted(n_gates: int, upper_input: int, n_directions: int, biases: int) -> int:
        first = n_gates * h * (i + h + biases)
        upper = n_gates * h * (upper_input + h + biases)
        return n_directions * (first + (layers - 1) * upper)

    def count(n: int, mistake: str = "", why: str = "") -> Option:
        return Option(f"{n:,}", n == truth, mistake, why)

    wrong = [
        count(counted(1, directions * h, directions, 2), "Forgetting the gates",
              f"An {cell} has {gates} weight blocks per matrix, one per gate (or candidate)."),
        count(counted(gates, i, directions, 2), "Assuming every layer reads the input features",
              f"Layer 2 reads layer 1's output: {directions * h} numbers per step."),
        count(counted(gates, h, 1, 2), "Forgetting the second direction",
              "A bidirectional layer has a full set of weights per direction."),
        count(counted(gates, directions * h, directions, 1), "Counting one bias per gate block",
              "PyTorch keeps two biases, b_ih and b_hh, each gates x hidden_size long."),
        count(counted(gates, directions * h, directions, 0), "Forgetting the biases",
              "Each layer and direction has b_ih and b_hh."),
    ]
    return Draft(
        params=(cell, i, h, layers, bidirectional),
        prompt=f"How many parameters does this {cell} have (sum of p.numel())?",
        code=f"layer = {_layer_code(cell, i, h, layers, bidirectional=bidirectional)}",
        key=count(truth), wrong=wrong,
        explanation=f"Per layer and direction: {gates} gate blocks of (h x input + h x h + two "
                    f"biases of h). Layer 1's input is {i}"
                    + (f", layer 2's is {directions * h} (layer 1's output)" if layers > 1 else "")
                    + f"; x {directions} direction{'s' if directions > 1 else ''}: {truth:,}.",
        hint="Count one RNN's weights, then the gates, the layers' inputs and the directions.")


@kind("packed_last_state", "hard", Section(BASICS, "4. Sequences of different lengths"))
def _packed_last_state(rng: random.Random) -> Draft:
    i, h = _distinct(rng, 2, 12, 2)
    lengths = rng.sample(range(2, 9), 3)
    longest = max(lengths)
    j = rng.choice([k for k, n in enumerate(lengths) if n < longest])
    rnn = nn.RNN(i, h, num_layers=2, batch_first=True)
    sequences = [torch.randn(n, i) for n in lengths]
    padded = pad_sequence(sequences, batch_first=True)
    out_padded, _ = rnn(padded)
    packed_out, h_n = rnn(pack_padded_sequence(padded, torch.tensor(lengths), batch_first=True,
                                               enforce_sorted=False))
    unpacked, _ = pad_packed_sequence(packed_out, batch_first=True)
    target = h_n[-1][j]
    n = lengths[j]

    def equals(text: str, value: torch.Tensor, mistake: str = "", why: str = "") -> Option:
        return Option(text, torch.allclose(value, target, atol=1e-6), mistake, why)

    wrong = [
        equals(f"unpacked[{j}, -1]", unpacked[j, -1], "Reading the last padded step",
               f"Sequence {j} has {n} steps: after them pad_packed_sequence fills zeros."),
        equals(f"out_padded[{j}, -1]", out_padded[j, -1], "Ignoring packing after padding",
               "Without packing, the RNN runs on through the zeros and its state drifts."),
        equals(f"unpacked[{j}, 0]", unpacked[j, 0], "Taking the first step for the last",
               "The state after the first step has read only one input."),
        equals(f"h_n[0][{j}]", h_n[0][j], "Confusing the first layer's state with the top layer's",
               "h_n[0] is layer 1; h_n[-1] is the top layer, the one output comes from."),
        equals(f"unpacked[{j}, {n}]", unpacked[j, n], "Indexing with the length instead of length - 1",
               f"Steps are numbered from 0: the last of {n} steps is {n - 1}."),
    ]
    return Draft(
        params=(i, h, tuple(lengths), j),
        prompt=f"Which expression equals h_n[-1][{j}], the top layer's final state of sequence {j}?",
        code=f"rnn = {_layer_code('RNN', i, h, 2, batch_first=True)}\n"
             f"lengths = {lengths}  # three sequences, padded with zeros to {longest} steps\n"
             f"padded = pad_sequence([torch.randn(n, {i}) for n in lengths], batch_first=True)\n"
             "out_padded, _ = rnn(padded)\n"
             "packed = pack_padded_sequence(padded, torch.tensor(lengths), batch_first=True,\n"
             "                              enforce_sorted=False)\n"
             "out_packed, h_n = rnn(packed)\n"
             "unpacked, _ = pad_packed_sequence(out_packed, batch_first=True)",
        key=equals(f"unpacked[{j}, {n - 1}]", unpacked[j, n - 1]), wrong=wrong,
        explanation=f"Packed, the RNN stops each sequence at its own end: h_n[-1][{j}] is the top "
                    f"layer's state after sequence {j}'s last valid step, {n - 1} (it has {n} "
                    f"steps), which pad_packed_sequence puts at unpacked[{j}, {n - 1}].",
        hint="Packing makes each sequence stop at its own length. Which step is its last?")


@kind("bidirectional_final", "hard", Section(BASICS, "2. Shapes"))
def _bidirectional_final(rng: random.Random) -> Draft:
    i, h, batch, steps = _sizes(rng)
    layers = rng.choice([1, 2])
    rnn = nn.RNN(i, h, num_layers=layers, batch_first=True, bidirectional=True)
    output, h_n = rnn(torch.randn(batch, steps, i))
    backward = rng.random() < 0.5
    target = h_n[-1] if backward else h_n[-2]
    name = "h_n[-1], the top layer's backward" if backward else "h_n[-2], the top layer's forward"

    def equals(text: str, value: torch.Tensor, mistake: str = "", why: str = "") -> Option:
        return Option(text, torch.equal(value, target), mistake, why)

    slices = {
        "output[:, -1, :{h}]": (output[:, -1, :h], "Forward final state", ""),
        "output[:, -1, {h}:]": (output[:, -1, h:], "Taking the last step for the backward direction",
                                "The backward direction finishes at step 0, not at the last step."),
        "output[:, 0, {h}:]": (output[:, 0, h:], "Backward final state", ""),
        "output[:, 0, :{h}]": (output[:, 0, :h], "Taking the first step for the forward direction",
                               "At step 0 the forward direction has read one input only."),
        "output[:, -1]": (output[:, -1], "Forgetting that output concatenates both directions",
                          f"output has {2 * h} features per step: forward, then backward."),
    }
    options = []
    for pattern, (value, mistake, why) in slices.items():
        text = pattern.format(h=h)
        if torch.equal(value, target):
            options.append(Option(text, True))
        else:
            options.append(Option(text, False, mistake if why else
                                  "Swapping the forward and the backward direction",
                                  why or "The first hidden_size features are forward, the rest backward."))
    (key,) = [o for o in options if o.correct]
    return Draft(
        params=(i, h, layers, batch, steps, backward),
        prompt=f"Which slice of output equals {name} final state?",
        code=f"rnn = {_layer_code('RNN', i, h, layers, True, True)}\n"
             f"output, h_n = rnn(torch.randn({batch}, {steps}, {i}))",
        key=key, wrong=[o for o in options if not o.correct],
        explanation=f"output concatenates the two directions at every step: features :{h} are "
                    f"forward, {h}: backward. The forward direction ends at the last step, the "
                    f"backward one at step 0, so {key.text} equals {name.split(',')[0]}.",
        hint="Where does each direction finish reading the sequence?")


@kind("unbatched_h_n", "hard", Section(BASICS, "2. Shapes"))
def _unbatched_h_n(rng: random.Random) -> Draft:
    i, h, steps, _ = _sizes(rng)
    layers = rng.choice([1, 2, 3])
    bidirectional = rng.random() < 0.5
    directions = 2 if bidirectional else 1
    rnn = nn.RNN(i, h, num_layers=layers, bidirectional=bidirectional, batch_first=True)
    output, h_n = rnn(torch.randn(steps, i))
    truth = tuple(h_n.shape)

    def believed(flags: frozenset) -> tuple | None:
        n = _states(layers, directions, flags)
        if "output" in flags:  # every step of the top layer
            if "layers" in flags:
                return None
            per_step = (1 if "directions" in flags else directions) * h
            return (1, steps, per_step) if "batch" in flags else (steps, per_step)
        return (n, 1, h) if "batch" in flags else (n, h)

    mistakes = [Mistake("batch", "Assuming a batch of 1 is added",
                        "An unbatched input gives unbatched results: no batch dimension."),
                Mistake("output", "Mixing up h_n with output",
                        "output is every step of the top layer; h_n is the last step of each layer.")]
    if bidirectional:
        mistakes.append(Mistake("directions", "Forgetting that each direction has its own state",
                                "A bidirectional layer keeps a forward and a backward state."))
    if layers > 1:
        mistakes.append(Mistake("layers", "Forgetting that h_n has one entry per layer",
                                f"There is one final state per layer: num_layers={layers}."))
    key, wrong = _two_mistakes(rng, believed, mistakes, lambda candidate: candidate == truth)
    return Draft(
        params=(i, h, steps, layers, bidirectional),
        prompt="x is 2-D here. What is the shape of h_n?",
        code=f"rnn = {_layer_code('RNN', i, h, layers, True, bidirectional)}\n"
             f"x = torch.randn{shape((steps, i))}  # 2-D\noutput, h_n = rnn(x)",
        key=key, wrong=wrong,
        explanation=f"A 2-D input is one unbatched sequence ({steps} steps of {i} features; "
                    f"batch_first does not apply). The results have no batch dimension: output "
                    f"{shape(output.shape)}, h_n (num_layers x directions, hidden) = {shape(truth)}.",
        hint="A 2-D input has no batch dimension. Do the results get one?")
