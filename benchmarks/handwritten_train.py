"""The hand-written training script that `train_vs_script.py` compares `mlops run` with.

One process, plain pandas + scikit-learn + skops, the same work as the built-in
ingest, split, train and evaluate stages: read the CSV, a stratified split,
impute + scale the numeric columns, impute + one-hot the categorical ones, fit a
RandomForestClassifier, score accuracy and macro F1 on the test rows, and save
the fitted pipeline with skops.

    python benchmarks/handwritten_train.py data.csv --target label --out model.skops
"""

from __future__ import annotations

import argparse
import json
import sys

import pandas as pd
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", help="the training data")
    parser.add_argument("--target", required=True, help="the label column")
    parser.add_argument("--out", required=True, help="where to write the skops model")
    parser.add_argument("--seed", type=int, default=42, help="split and forest seed")
    parser.add_argument("--test-size", type=float, default=0.25, help="share of test rows")
    parser.add_argument("--trees", type=int, default=100, help="n_estimators")
    args = parser.parse_args()

    frame = pd.read_csv(args.csv)
    train, test = train_test_split(
        frame, test_size=args.test_size, random_state=args.seed, stratify=frame[args.target]
    )
    features = [c for c in frame.columns if c != args.target]
    categorical = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c])]
    numeric = [c for c in features if c not in categorical]
    model = Pipeline(
        [
            (
                "preprocess",
                ColumnTransformer(
                    [
                        (
                            "numeric",
                            Pipeline(
                                [
                                    ("impute", SimpleImputer(strategy="median")),
                                    ("scale", StandardScaler()),
                                ]
                            ),
                            numeric,
                        ),
                        (
                            "categorical",
                            Pipeline(
                                [
                                    ("impute", SimpleImputer(strategy="most_frequent")),
                                    (
                                        "encode",
                                        OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                                    ),
                                ]
                            ),
                            categorical,
                        ),
                    ],
                    sparse_threshold=0.0,
                ),
            ),
            ("estimator", RandomForestClassifier(n_estimators=args.trees, random_state=args.seed)),
        ]
    )
    model.fit(train[features], train[args.target])
    predicted = model.predict(test[features])
    scores = {
        "accuracy": float(accuracy_score(test[args.target], predicted)),
        "f1_macro": float(f1_score(test[args.target], predicted, average="macro")),
    }
    sio.dump(model, args.out)
    sys.stdout.write(json.dumps(scores, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
