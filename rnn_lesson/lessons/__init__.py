"""One module per notebook: its configurations, claims, hints and the figures only it uses.

    overfitting      notebook 02: the baseline, the fix, the task, the claims, the ablation, the map
    write_the_fix    notebook 02's exercise: the learner's own nn.Module, trained and graded
    rnn_vs_lstm      notebook 03: RNN vs LSTM vs GRU, accuracy against length, gradient per step
    real_data        notebook 04: the same diagnosis on Japanese Vowels; the published table
    diagnose         notebook 05: five learning-curve pictures from the course's own runs
    original_script  an exhibit: the lesson's own script, and what its protocol does to numbers
"""
