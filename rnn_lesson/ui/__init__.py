"""What the learner sees: figures from run records (`plots`) and the widgets (`widgets`)."""
