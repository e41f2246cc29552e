"""The quiz questions, as plain data.

``p1``-``p5`` are the lesson's five practice questions, in the lesson's order and with the
lesson's wording (p5's prompt says "correctly and efficiently": a loop over the sequences is
correct too, only slow). ``t6``-``t10`` are the course's own checkpoint questions and ``d1``-``d5``
ask about notebook 05's learning curves. All fifteen sit in the notebooks, where their concept is
taught. The test is not here: it is drawn fresh from a seed (``quizzes.items``), so that it
measures understanding, not memory of these answers.

Each question carries the lesson's hint (shown on request, before answering), its common mistakes,
and for each wrong option the mistake that option stands for and why it is wrong (shown after a
wrong answer); ``section`` names the notebook section that teaches it.

The lesson's own answer key has slips: its "Quick Check" lines name D, B and C for questions 2, 3
and 4, whose answers are C, D and B. The answers below are the right ones, and
``tests/test_quizzes.py`` verifies the code facts against torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Difficulty = Literal["easy", "medium", "hard"]
DIFFICULTIES: tuple[str, ...] = ("easy", "medium", "hard")
LETTERS: tuple[str, ...] = ("A", "B", "C", "D")


@dataclass(frozen=True)
class Section:
    """A notebook section that teaches something: the notebook's file name and a heading's text."""

    notebook: str  # e.g. "01_rnn_basics.ipynb", in notebooks/
    heading: str  # the text of a Markdown heading of that notebook

    @property
    def link(self) -> str:
        """A relative link that opens the notebook at the heading (JupyterLab's heading anchors)."""
        return f"{self.notebook}#{self.heading.replace(' ', '-')}"

    @property
    def label(self) -> str:
        return f"notebook {self.notebook[:2]}, \u201c{self.heading}\u201d"


@dataclass(frozen=True)
class Question:
    """One multiple-choice question with options A-D."""

    id: str
    prompt: str
    options: dict[str, str]  # letter -> option text, in A-D order
    answer: str  # the correct letter
    difficulty: Difficulty
    hint: str  # a nudge before answering (the lesson's, for p1-p5)
    explanation: str  # why the answer is right (shown once answered)
    common_mistakes: tuple[str, ...]
    # For each wrong letter: why that choice is tempting but wrong (the hint after a wrong answer)
    wrong_option_hints: dict[str, str] = field(default_factory=dict)
    # For each wrong letter: the common mistake that leads to it
    mistakes: dict[str, str] = field(default_factory=dict)
    code: str | None = None  # the snippet the prompt refers to, if any
    source: Literal["lesson", "course", "generated"] = "lesson"
    section: Section | None = None  # where the course teaches it
    figure_png: str | None = None  # a picture the prompt refers to (base64 PNG), if any
    figure_text: str | None = None  # that picture in words (the terminal, JSON, screen readers)

    def __post_init__(self) -> None:
        # Fail at import (or generation) time rather than in front of a learner.
        if tuple(self.options) != LETTERS:
            raise ValueError(f"{self.id}: options must be lettered {LETTERS}")
        if len(set(self.options.values())) != len(LETTERS):
            raise ValueError(f"{self.id}: two options have the same text")
        if self.answer not in self.options:
            raise ValueError(f"{self.id}: answer {self.answer!r} is not an option")
        if self.difficulty not in DIFFICULTIES:
            raise ValueError(f"{self.id}: unknown difficulty {self.difficulty!r}")
        expected = set(LETTERS) - {self.answer}
        if set(self.wrong_option_hints) != expected or set(self.mistakes) != expected:
            raise ValueError(f"{self.id}: need a hint and a mistake for each wrong letter "
                             f"{sorted(expected)}")

    @property
    def answer_text(self) -> str:
        return self.options[self.answer]

    def full_prompt(self) -> str:
        """The prompt with its code and its picture in words (what a text-only reader gets)."""
        parts = [self.prompt]
        if self.figure_text:
            parts.append(self.figure_text)
        if self.code:
            parts.append(self.code)
        return "\n\n".join(parts)


def _in(notebook: str, heading: str) -> Section:
    return Section(notebook, heading)


BASICS, EXPERIMENT, BONUS, DIAGNOSIS = ("01_rnn_basics.ipynb", "02_overfitting_experiment.ipynb",
                                        "03_rnn_vs_lstm.ipynb", "05_diagnose_and_test.ipynb")


PRACTICE: tuple[Question, ...] = (
    Question(
        id="p1",
        prompt="What does the nn.RNN layer in PyTorch primarily do?",
        options={
            "A": "Processes sequences step by step, keeping track of past information",
            "B": "Sorts input data in ascending order",
            "C": "Generates random numbers for initialization",
            "D": "Performs matrix multiplication without memory",
        },
        answer="A",
        difficulty="easy",
        hint="RNNs remember past steps in sequences.",
        section=_in(BASICS, "1. The recurrence"),
        explanation=(
            "nn.RNN walks through a sequence one time step at a time. At each step it "
            "combines the current input with the hidden state from the previous step, "
            "h_t = tanh(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh), so the hidden state "
            "carries information about everything seen so far."
        ),
        common_mistakes=(  # the lesson's words
            "Thinking RNN sorts data",
            "Confusing RNN with random number generators",
            "Assuming RNN does simple matrix multiplication only",
        ),
        wrong_option_hints={
            "B": "Sorting is torch.sort's job. An RNN learns from the order of a sequence; it does not reorder it.",
            "C": "Random values only initialise the layer's weights once, when it is built. That is not what the layer does with data.",
            "D": "An RNN does multiply matrices, but 'without memory' is the catch: what carries from step to step?",
        },
        mistakes={
            "B": "Thinking RNN sorts data",
            "C": "Confusing RNN with random number generators",
            "D": "Assuming RNN does simple matrix multiplication only",
        },
    ),
    Question(
        id="p2",
        prompt=(
            "Which of the following is the correct way to create an RNN layer with "
            "input size 10 and hidden size 20 in PyTorch?"
        ),
        options={
            "A": "nn.RNN(20, 10)",
            "B": "nn.RNN(10)",
            "C": "nn.RNN(input_size=10, hidden_size=20)",
            "D": "nn.RNN(hidden_size=10, input_size=20)",
        },
        answer="C",
        difficulty="easy",
        hint="Remember: input_size before hidden_size in nn.RNN.",
        section=_in(BASICS, "The constructor"),
        explanation=(
            "C names both sizes: input_size=10, hidden_size=20 (nn.RNN(10, 20) would "
            "be right too). A and D build a working layer, but with input 20 and hidden "
            "10, the sizes swapped. B raises TypeError because hidden_size is required."
        ),
        common_mistakes=(  # the lesson's words
            "Swapping input_size and hidden_size",
            "Omitting hidden_size parameter",
            "Using positional args in wrong order",
        ),
        wrong_option_hints={
            "A": "Positional arguments go (input_size, hidden_size): this layer takes 20 features in and has 10 hidden units.",
            "B": "hidden_size has no default, so this call raises TypeError before any layer exists.",
            "D": "With keywords the order doesn't matter, but look at the values: input 20, hidden 10.",
        },
        mistakes={
            "A": "Using positional args in wrong order",
            "B": "Omitting hidden_size parameter",
            "D": "Swapping input_size and hidden_size",
        },
    ),
    Question(
        id="p3",
        prompt="Given the code below, what is the shape of output after running the RNN?",
        code=(
            "import torch\n"
            "import torch.nn as nn\n"
            "rnn = nn.RNN(input_size=5, hidden_size=3, batch_first=True)\n"
            "input = torch.randn(4, 7, 5)  # batch=4, seq_len=7, input_size=5\n"
            "output, hn = rnn(input)"
        ),
        options={"A": "(7, 4, 3)", "B": "(3, 4, 7)", "C": "(4, 3, 7)", "D": "(4, 7, 3)"},
        answer="D",
        difficulty="medium",
        hint="batch_first=True means batch is first dimension.",
        section=_in(BASICS, "2. Shapes"),
        explanation=(
            "With batch_first=True the input is (batch, seq_len, input_size) = (4, 7, 5), "
            "and output holds the hidden state at every time step: (batch, seq_len, "
            "hidden_size) = (4, 7, 3). batch_first does not apply to hn, which stays "
            "(num_layers, batch, hidden_size) = (1, 4, 3)."
        ),
        common_mistakes=(  # the lesson's words
            "Confusing batch and sequence length order",
            "Ignoring batch_first parameter",
            "Mixing hidden_size with input_size in output shape",
        ),
        wrong_option_hints={
            "A": "(seq_len, batch, hidden) is the layout without batch_first. This layer sets batch_first=True.",
            "B": "The last dimension of the output is the feature dimension, and the output's features are the hidden units.",
            "C": "Time steps come before features, as in the input (4, 7, 5).",
        },
        mistakes={
            "A": "Ignoring batch_first parameter (and so confusing batch and sequence length order)",
            "B": "Reading the shape back to front: hidden size first, then batch and time steps",
            "C": "Putting the hidden size before the time steps",
        },
    ),
    Question(
        id="p4",
        prompt="What is wrong with this code snippet using nn.RNN?",
        # The lesson's comment read "batch=3, seq_len=5", but without batch_first
        # PyTorch reads (3, 5, 10) as (seq_len, batch, features); fixed here.
        code=(
            "rnn = nn.RNN(input_size=8, hidden_size=4)\n"
            "input = torch.randn(3, 5, 10)  # seq_len=3, batch=5, input_size=10\n"
            "output, hn = rnn(input)"
        ),
        options={
            "A": "RNN requires input to be 2D tensor",
            "B": "Input size does not match the RNN's input_size parameter",
            "C": "Batch size should be last dimension",
            "D": "Hidden size must be equal to input size",
        },
        answer="B",
        difficulty="medium",
        hint="Input last dimension must match RNN input_size.",
        section=_in(BASICS, "3. The input-size mismatch"),
        explanation=(
            "The last dimension of the input must equal input_size. The layer expects 8 "
            "features but gets 10, so the call raises RuntimeError: \"input.size(-1) "
            "must be equal to input_size. Expected 8, got 10\". Fix it with "
            "nn.RNN(input_size=10, ...) or by feeding 8 features. (Without batch_first, "
            "(3, 5, 10) means seq_len=3, batch=5; either way the features are last.)"
        ),
        common_mistakes=(  # the lesson's words
            "Ignoring input_size mismatch",
            "Thinking batch size is last dimension",
            "Assuming RNN input is 2D tensor",
        ),
        wrong_option_hints={
            "A": "nn.RNN takes 3-D input (or 2-D for one unbatched sequence). A 3-D tensor is fine.",
            "C": "Features are always the last dimension; batch is first or second depending on batch_first.",
            "D": "input_size and hidden_size are independent: 8 features in, 4 hidden units is a valid layer.",
        },
        mistakes={
            "A": "Assuming RNN input is 2D tensor",
            "C": "Thinking batch size is last dimension",
            "D": "Believing hidden_size must equal input_size (and so ignoring the input_size mismatch)",
        },
    ),
    Question(
        id="p5",
        prompt=(
            "You want to process a batch of sequences with varying lengths using nn.RNN. "
            "Which approach correctly and efficiently handles this in PyTorch?"
        ),
        options={
            "A": "Pad sequences to the same length and use pack_padded_sequence before the RNN",
            "B": "Feed sequences directly without padding or packing",
            "C": "Use a for loop to process each sequence separately without padding",
            "D": "Set hidden_size equal to the longest sequence length",
        },
        answer="A",
        difficulty="hard",
        hint="Pad and pack sequences before RNN for variable lengths.",
        section=_in(BASICS, "4. Sequences of different lengths"),
        explanation=(
            "Pad to the longest length (pad_sequence), then pack_padded_sequence(padded, "
            "lengths, batch_first=True, enforce_sorted=False) tells the RNN each "
            "sequence's true length, so h_n is the state after each sequence's last real "
            "step, not after the padding; pad_packed_sequence gives the padded output "
            "back. Padding without packing runs the RNN over the pad values and changes "
            "the final state. A loop per sequence (C) also gets the right answer, but "
            "one sequence at a time, without batching: slow. A is the correct and efficient "
            "choice."
        ),
        common_mistakes=(  # the lesson's words
            "Feeding raw variable-length sequences directly",
            "Ignoring packing after padding",
            "Misusing hidden_size for sequence length",
        ),
        wrong_option_hints={
            "B": "Sequences of different lengths cannot be stacked into one batch tensor without padding.",
            "C": "This works, one sequence at a time, but it is slow. Which option keeps the whole batch in one call?",
            "D": "hidden_size is the size of the state vector, not a number of time steps.",
        },
        mistakes={
            "B": "Feeding raw variable-length sequences directly",
            "C": "Looping over the sequences one at a time: correct, but it gives up batching",
            "D": "Misusing hidden_size for sequence length",
        },
    ),
)

COURSE: tuple[Question, ...] = (
    Question(
        id="t6",
        source="course",
        prompt="What is the shape of h_n after this code runs?",
        code=(
            "rnn = nn.RNN(input_size=10, hidden_size=20, num_layers=2, batch_first=True)\n"
            "x = torch.randn(4, 7, 10)  # batch=4, seq_len=7, features=10\n"
            "output, h_n = rnn(x)"
        ),
        options={"A": "(4, 2, 20)", "B": "(2, 4, 20)", "C": "(4, 7, 20)", "D": "(1, 4, 20)"},
        answer="B",
        difficulty="medium",
        hint="batch_first changes the layout of the input and output, not of h_n.",
        section=_in(BASICS, "2. Shapes"),
        explanation=(
            "h_n holds the final hidden state of every layer, shaped (num_layers, batch, "
            "hidden_size) = (2, 4, 20) whatever batch_first says. output is (4, 7, 20); "
            "its last time step equals h_n[-1], the top layer's final state."
        ),
        common_mistakes=(
            "Assuming batch_first also puts batch first in h_n",
            "Mixing up h_n (last step, every layer) with output (every step, last layer)",
            "Forgetting that h_n has one entry per layer",
        ),
        wrong_option_hints={
            "A": "That is batch first. Does batch_first=True apply to h_n?",
            "C": "That is output's shape: every time step of the top layer. h_n is the last step of every layer.",
            "D": "There is one final state per layer, and this RNN has num_layers=2.",
        },
        mistakes={
            "A": "Assuming batch_first also puts batch first in h_n",
            "C": "Mixing up h_n (last step, every layer) with output (every step, last layer)",
            "D": "Forgetting that h_n has one entry per layer",
        },
    ),
    Question(
        id="t7",
        source="course",
        prompt="What does PyTorch do with this layer during training?",
        code="rnn = nn.RNN(input_size=10, hidden_size=20, num_layers=1, dropout=0.3)",
        options={
            "A": "Drops 30% of the outputs at every time step",
            "B": "Raises a ValueError, because dropout needs num_layers > 1",
            "C": "Builds the layer with a UserWarning; no dropout is ever applied",
            "D": "Drops 30% of the hidden state passed between time steps",
        },
        answer="C",
        difficulty="hard",
        hint="nn.RNN's dropout argument acts between stacked layers. How many are there?",
        section=_in(EXPERIMENT, "Where the dropout of nn.RNN acts"),
        explanation=(
            "nn.RNN applies dropout to the outputs of every layer except the last, so "
            "with one layer there is nowhere to apply it. PyTorch builds the layer, warns "
            "\"non-zero dropout expects num_layers greater than 1\", and trains with no "
            "dropout. Use num_layers=2 or more, or an nn.Dropout on the RNN's output, as "
            "the lesson's fix does."
        ),
        common_mistakes=(
            "Believing dropout=0.3 regularises a one-layer nn.RNN",
            "Ignoring the UserWarning",
            "Thinking nn.RNN's dropout acts on the recurrent connection",
        ),
        wrong_option_hints={
            "A": "nn.RNN's dropout acts on the outputs of all but the last layer. Here the only layer is the last one.",
            "B": "It is a warning, not an error: the layer is built.",
            "D": "nn.RNN never drops the recurrent hidden state; its dropout acts between stacked layers.",
        },
        mistakes={
            "A": "Believing dropout=0.3 regularises a one-layer nn.RNN",
            "B": "Taking PyTorch's UserWarning for an error",
            "D": "Thinking nn.RNN's dropout acts on the recurrent connection",
        },
    ),
    Question(
        id="t8",
        source="course",
        prompt=(
            "Your RNN reaches 98% training accuracy but 70% validation accuracy "
            "(training loss 0.05, validation loss 0.85). What does this gap tell you?"
        ),
        options={
            "A": "The model underfits: add layers or hidden units",
            "B": "The learning rate is too low: train for more epochs",
            "C": "The validation set must be broken, so ignore it",
            "D": "The model overfits: it fits the training set but does not generalise",
        },
        answer="D",
        difficulty="easy",
        hint="Compare how the model does on data it trained on with data it has never seen.",
        section=_in(EXPERIMENT, "The baseline: a big RNN, trained too fast and too long"),
        explanation=(
            "Near-perfect training scores with much worse validation scores mean the "
            "model has memorised the training set, noise included, instead of learning "
            "patterns that carry over to new data. Reduce overfitting: dropout, a "
            "smaller model, early stopping; then check the gap narrows."
        ),
        common_mistakes=(
            "Reading high training accuracy as success",
            "Making the model bigger when it already overfits",
            "Training longer, which widens the gap",
        ),
        wrong_option_hints={
            "A": "An underfitting model does badly on the training data too. This one scores 98% there.",
            "B": "Training loss is already 0.05. More epochs would fit the training set even more closely.",
            "C": "The validation set is how you see the problem. Its job is to hold data the model never trained on.",
        },
        mistakes={
            "A": "Making the model bigger when it already overfits",
            "B": "Training longer, which widens the gap",
            "C": "Blaming the validation set for what the model does",
        },
    ),
    Question(
        id="t9",
        source="course",
        prompt=(
            "You train with early stopping on validation loss (patience 3). Validation "
            "loss is lowest at epoch 9 and training stops at epoch 12. Why restore the "
            "weights saved at epoch 9 instead of keeping the final ones?"
        ),
        options={
            "A": "Epochs 10-12 did not improve validation loss; the epoch-9 weights generalise best",
            "B": "Restoring resets the optimizer's learning rate so training can resume",
            "C": "The final weights are deleted when training stops",
            "D": "Restoring lowers the training loss",
        },
        answer="A",
        difficulty="medium",
        hint="Patience means training runs a few epochs past the best one. What happened in those epochs?",
        section=_in(EXPERIMENT, "Write the loop"),
        explanation=(
            "Patience lets training run past the best epoch to be sure it was the best. "
            "Those extra epochs fit the training set more closely without helping "
            "validation, so the final weights have started to overfit. Stopping alone "
            "keeps them; restoring the saved best weights gives the model that did best "
            "on unseen data. Save a copy (copy.deepcopy(model.state_dict())): "
            "state_dict() returns tensors that share memory with the live parameters."
        ),
        common_mistakes=(
            "Stopping early but keeping the last weights",
            "Reporting the best validation accuracy for a model that no longer has those weights",
            "Saving model.state_dict() without copying, so the 'best' weights keep changing",
        ),
        wrong_option_hints={
            "B": "Loading weights does not touch the optimizer's learning rate, and the point is to stop, not resume.",
            "C": "The model still holds the epoch-12 weights when training stops. Are they the best ones?",
            "D": "Later epochs usually have lower training loss. Early stopping is about validation loss.",
        },
        mistakes={
            "B": "Thinking that loading weights also resets the optimizer",
            "C": "Believing the model loses its weights when training stops",
            "D": "Judging weights by their training loss instead of their validation loss",
        },
    ),
    Question(
        id="t10",
        source="course",
        prompt=(
            "The bonus experiment swaps nn.RNN for nn.LSTM. What does the LSTM's cell "
            "state add?"
        ),
        options={
            "A": "A second copy of the hidden state, so it returns twice as many outputs per step",
            "B": "Support for variable-length sequences without padding",
            "C": "A memory path updated additively through gates, so information and gradients last over many steps",
            "D": "Processing each sequence forwards and backwards",
        },
        answer="C",
        difficulty="hard",
        hint="Think about what happens to gradients flowing back through many time steps.",
        section=_in(BONUS, "3. Why: the gradient that reaches the early steps"),
        explanation=(
            "An LSTM keeps a cell state c_t next to its hidden state h_t. The forget and "
            "input gates update it additively (c_t = f_t * c_(t-1) + i_t * g_t) instead of "
            "squashing it through tanh at every step, so information and gradients can "
            "survive across long sequences, where a plain RNN's tend to vanish. "
            "nn.LSTM returns output, (h_n, c_n); output still holds only the h_t."
        ),
        common_mistakes=(
            "Thinking the cell state is just another output",
            "Expecting an LSTM to remove the need for padding or packing",
            "Confusing LSTM with bidirectional=True",
        ),
        wrong_option_hints={
            "A": "The per-step output is still only h_t; c_t stays inside the layer and comes back once, as c_n.",
            "B": "LSTMs batch variable-length sequences exactly as RNNs do: pad, then pack.",
            "D": "That is bidirectional=True, which works for nn.RNN and nn.LSTM alike.",
        },
        mistakes={
            "A": "Thinking the cell state is just another output",
            "B": "Expecting an LSTM to remove the need for padding or packing",
            "D": "Confusing LSTM with bidirectional=True",
        },
    ),
)

# Diagnose the curves (notebook 05): one question per learning-curve picture, the same four
# diagnoses as options each time (about as long as each other, so that length gives nothing away).
# The pictures come from the course's own runs, and rnn_lesson.lessons.diagnose checks that each
# shows what its answer says. The test draws more pictures of the same kinds (other seeds).
DIAGNOSES = {  # 155 characters each
    "overfitting": "Overfitting: train accuracy climbs while the validation loss rises after an "
                   "early minimum. Keep the best epoch; slow the memorizing down, or get more data.",
    "undertrained": "Undertrained: train and validation both still improve at the last epoch, and "
                    "both curves are smooth. Train for more epochs, or with a higher learning rate.",
    "healthy": "Healthy: the validation loss bottoms out, early stopping restores that epoch, and "
               "train stays within a few points of validation. Keep the setting as it is.",
    "unstable": "Unstable: the curves jump up and down from one epoch to the next, and never "
                "settle at a good accuracy. The steps are too large: take a lower learning rate.",
}
DIAGNOSIS_MISTAKES = {
    "overfitting": ("Reading a rising validation loss as noise", "Overfitting needs a train curve "
                    "far above validation and a validation loss that turns upward: look at both "
                    "panels again."),
    "undertrained": ("Calling a run that is still improving finished", "Undertrained curves rise "
                     "smoothly to the last epoch: are these smooth, and still rising?"),
    "healthy": ("Calling a run healthy without checking all three signs", "A healthy run has a "
                "validation loss with one clear minimum before the end, keeps that epoch, and "
                "has train close to validation: is that what you see?"),
    "unstable": ("Reading every bump as instability", "Unstable curves zigzag from epoch to "
                 "epoch by many points; these move steadily."),
}
DIAGNOSIS_SECTIONS = {
    "overfitting": _in(EXPERIMENT, "The baseline: a big RNN, trained too fast and too long"),
    "undertrained": _in("04_real_data.ipynb", "4. The fix"),
    "healthy": _in(EXPERIMENT, "Before and after, against the lesson"),
    "unstable": _in(DIAGNOSIS, "Picture 1"),
}
DIAGNOSIS_HINTS = {
    "overfitting": "Compare where the validation loss is lowest with where training stops.",
    "undertrained": "Is the last epoch the best one so far?",
    "healthy": "Does the validation loss reach a minimum and rise after it, and which epoch did "
               "the run keep?",
    "unstable": "Follow one curve epoch by epoch: does it move steadily?",
}
# The order of the options in notebook 05 (the test shuffles them).
DIAGNOSIS_LETTERS = {"A": "overfitting", "B": "undertrained", "C": "healthy", "D": "unstable"}


def diagnosis_question(qid: str, picture: str, diagnosis: str, difficulty: Difficulty,
                       explanation: str, letters: dict[str, str] = DIAGNOSIS_LETTERS,
                       source: str = "course", section: Section | None = None,
                       figure_png: str | None = None, figure_text: str | None = None) -> Question:
    """A question about one learning-curve picture whose answer is `diagnosis`."""
    answer = next(letter for letter, name in letters.items() if name == diagnosis)
    wrong = {letter: name for letter, name in letters.items() if letter != answer}
    return Question(id=qid, prompt=f"Look at {picture}. What is happening, and which change helps?",
                    options={letter: DIAGNOSES[name] for letter, name in letters.items()},
                    answer=answer, difficulty=difficulty, hint=DIAGNOSIS_HINTS[diagnosis],
                    explanation=explanation, common_mistakes=tuple(
                        DIAGNOSIS_MISTAKES[name][0] for name in wrong.values()),
                    wrong_option_hints={k: DIAGNOSIS_MISTAKES[v][1] for k, v in wrong.items()},
                    mistakes={k: DIAGNOSIS_MISTAKES[v][0] for k, v in wrong.items()},
                    source=source, section=section or DIAGNOSIS_SECTIONS[diagnosis],
                    figure_png=figure_png, figure_text=figure_text)


DIAGNOSE: tuple[Question, ...] = (
    diagnosis_question(
        "d1", "picture 1", "unstable", "easy", "At this learning rate each Adam step is too "
        "large: the weights jump between bad regions, so accuracy zigzags and never settles. A "
        "lower learning rate (the lesson's 1e-3) lets it converge.",
        section=_in(DIAGNOSIS, "Picture 1")),
    diagnosis_question(
        "d2", "picture 2", "overfitting", "easy", "Train accuracy reaches 100% while the "
        "validation loss climbs from its first epochs on: the network memorizes the training "
        "set, flipped labels included. That is the lesson's problem; notebook 02 measures which "
        "of its four changes cure it (the hidden size and the learning rate do the most there, "
        "dropout little).", section=_in(DIAGNOSIS, "Picture 2")),
    diagnosis_question(
        "d3", "picture 3", "undertrained", "medium", "Both accuracies are still rising and the "
        "validation loss is still falling at the last epoch: the run stopped before it learned "
        "the task. Nothing is overfitting yet; it needs more epochs or a larger learning rate.",
        section=_in(DIAGNOSIS, "Picture 3")),
    diagnosis_question(
        "d4", "picture 4", "healthy", "medium", "The validation loss reaches its minimum, rises "
        "for a few epochs, early stopping ends the run and restores the best epoch (the dotted "
        "line): train and validation stay a few points apart, near the 90% ceiling.",
        section=_in(DIAGNOSIS, "Picture 4")),
    diagnosis_question(
        "d5", "picture 5 (real data: 27 recordings of 9 speakers)", "overfitting", "hard",
        "Train accuracy is 100% on 27 recordings while validation stays far below and its loss "
        "climbs after an early minimum: the same overfitting on real data. Here keeping the best "
        "epoch cures the loss but barely the accuracy; what helps most is more data (notebook "
        "04 measures both).", section=_in(DIAGNOSIS, "Picture 5: real data")),
)

# The notebooks' questions: the lesson's five, then the course's checkpoints (the terminal quiz's
# default); the test itself is drawn fresh from a seed (quizzes.items).
QUESTIONS: tuple[Question, ...] = PRACTICE + COURSE
_BY_ID: dict[str, Question] = {q.id: q for q in QUESTIONS + DIAGNOSE}
if len(_BY_ID) != len(QUESTIONS) + len(DIAGNOSE):
    raise ValueError("duplicate question ids")


# Where each question is asked as practice.
NOTEBOOK_OF = {"p1": "01", "p2": "01", "p3": "01", "t6": "01", "p4": "01", "p5": "01",
               "t8": "02", "t7": "02", "t9": "02", "t10": "03",
               "d1": "05", "d2": "05", "d3": "05", "d4": "05", "d5": "05"}


def question_ids() -> list[str]:
    """All question ids, in quiz order."""
    return list(_BY_ID)


def get_question(question_id: str) -> Question:
    """The question with this id; ``ValueError`` naming the valid ids otherwise."""
    key = str(question_id).strip().lower()
    try:
        return _BY_ID[key]
    except KeyError:
        raise ValueError(
            f"unknown question id {question_id!r}; valid ids: {', '.join(_BY_ID)}"
        ) from None
