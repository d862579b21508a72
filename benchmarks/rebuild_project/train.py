"""A small training script: the code that changes on every commit."""

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

frame = pd.DataFrame(np.random.default_rng(0).normal(size=(200, 3)), columns=["a", "b", "c"])
labels = (frame["a"] + frame["b"] > 0).astype(int)
model = LogisticRegression().fit(frame, labels)
print("accuracy", model.score(frame, labels))
