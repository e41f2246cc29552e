"""Notebook 06's cheat sheet: every row says what it is."""

from rnn_lesson.lessons import summary


def test_each_shape_row_says_how_its_input_is_laid_out():
    rows = summary.shapes().rows
    assert len({(layer, x, holds) for layer, x, holds, _, _ in rows}) == len(rows)  # none alike
    layer, x, holds, output, state = rows[-1]
    assert "unbatched" in holds and output == "(7, 32)" and state == "(2, 32)"
    assert rows[0][2] == "steps, batch, features"  # batch_first=False
    assert rows[1][2] == "batch, steps, features"


def test_every_cell_names_its_blocks():
    rows = {row[0]: row for row in summary.parameters().rows}
    assert all(row[3] for row in rows.values())  # no empty cell
    assert "no gates" in rows["RNN"][3]
