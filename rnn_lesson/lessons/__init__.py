"""One module per notebook: its configurations, claims, hints and the figures only it uses.

    overfitting      notebook 02: the baseline, the fix, the task, the claims, the map, the hints
    rnn_vs_lstm      notebook 03: RNN vs LSTM vs GRU, accuracy against length, gradient per step
    real_data        notebook 04: the same diagnosis on Japanese Vowels
    original_script  an exhibit: the lesson's own script, and what its protocol does to numbers
"""
