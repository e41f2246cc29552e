"""The layers of the package: each imports only the layers below it (core < runs < ui < lessons).

`quizzes` is a separate, torch-free package below all of them: rnn_lesson may use its progress
file (`quizzes.progress`, the learner's one record), and nothing else of it; quizzes never imports
rnn_lesson.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "rnn_lesson"
LAYERS = {  # module (relative to the package) -> layer; a layer may import its own and lower ones
    "data": 0, "japanese_vowels": 0, "models": 0, "training": 0,
    "runs": 1, "results": 1, "recipe": 1,
    "ui.plots": 2, "ui.svg": 2, "ui.widgets": 2,
    "lessons.overfitting": 3, "lessons.rnn_vs_lstm": 3, "lessons.real_data": 3,
    "lessons.original_script": 3, "lessons.write_the_fix": 3, "lessons.diagnose": 3,
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


def test_rnn_lesson_uses_only_the_progress_file_of_quizzes_and_quizzes_never_rnn_lesson():
    for path in PACKAGE.rglob("*.py"):
        quiz = {n for n in outside_imports(path) if n.split(".")[0] == "quizzes"}
        assert quiz <= {"quizzes.progress"}, (path.name, quiz)
    for path in (PACKAGE.parent / "quizzes").rglob("*.py"):
        assert not any(n.split(".")[0] in ("rnn_lesson", "torch") for n in outside_imports(path)), path


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
