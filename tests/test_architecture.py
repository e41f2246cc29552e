"""The layers of the package: each imports only the layers below it (core < runs < ui < lessons).

`quizzes` is a separate package below all of them. Its core (questions, checker, session, messages,
progress, widgets) needs no torch; only `quizzes.items`, whose answer keys are computed by running
PyTorch, imports torch. The user interface of rnn_lesson may use the progress file
(`quizzes.progress`, the learner's one record) and nothing else of it; the lessons may build on the
whole quiz engine. quizzes never imports rnn_lesson, except in its command line (`quizzes/cli.py`),
an entry point on top of both, which draws the test from `rnn_lesson.lessons.mastery`.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "rnn_lesson"
LAYERS = {  # module (relative to the package) -> layer; a layer may import its own and lower ones
    "data": 0, "japanese_vowels": 0, "models": 0, "training": 0,
    "runs": 1, "results": 1, "recipe": 1, "forkserver": 1,
    "grading.sandbox": 1, "grading.wire": 1, "grading.walls": 1, "grading.guard": 1,
    "grading.source": 1, "grading.feedback": 1, "grading.fix": 1, "grading.loop": 1,
    "ui.plots": 2, "ui.svg": 2, "ui.widgets": 2,
    "lessons.overfitting": 3, "lessons.rnn_vs_lstm": 3, "lessons.real_data": 3,
    "lessons.original_script": 3, "lessons.write_the_fix": 3, "lessons.diagnose": 3,
    "lessons.mastery": 3, "lessons.write_the_loop": 3, "lessons.summary": 3, "lessons.paths": 3,
    "cli": 4, "__main__": 4,
}
CORE = {"data", "japanese_vowels", "models", "training"}


def imports_of(module: str) -> set[str]:
    path = PACKAGE / (module.replace(".", "/") + ".py")
    package = module.rsplit(".", 1)[0] if "." in module else ""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".") if package else []
            base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
            target = ".".join(base + ([node.module] if node.module else []))
            names = [target] + [f"{target}.{a.name}".lstrip(".") for a in node.names]
            found.update(n for n in names if n)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rnn_lesson"):
            found.add(node.module.removeprefix("rnn_lesson").lstrip("."))
        elif isinstance(node, ast.Import):
            found.update(a.name.removeprefix("rnn_lesson.") for a in node.names
                         if a.name.startswith("rnn_lesson."))
    return {f for f in found if f in LAYERS}


def outside_imports(path: Path) -> set[str]:
    """Every absolute module name a file imports."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module)
    return names


def test_only_the_lessons_build_on_the_quiz_engine_and_quizzes_reaches_up_only_from_its_cli():
    for path in PACKAGE.rglob("*.py"):
        quiz = {n for n in outside_imports(path) if n.split(".")[0] == "quizzes"}
        if path.parent.name != "lessons":
            assert quiz <= {"quizzes.progress"}, (path.name, quiz)
    for path in (PACKAGE.parent / "quizzes").rglob("*.py"):
        names = {n.split(".")[0] for n in outside_imports(path)}
        if path.name != "cli.py":
            assert "rnn_lesson" not in names, path
        if path.name != "items.py":
            assert "torch" not in names, path


def test_every_module_is_placed_in_a_layer():
    modules = {str(p.relative_to(PACKAGE).with_suffix("")).replace("/", ".")
               for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"}
    assert modules == set(LAYERS)


def test_no_module_imports_a_layer_above_its_own():
    for module, layer in LAYERS.items():
        for imported in imports_of(module):
            assert LAYERS[imported] <= layer, f"{module} (layer {layer}) imports {imported}"


def test_the_core_imports_only_the_core():
    for module in CORE:
        assert imports_of(module) <= CORE, module
