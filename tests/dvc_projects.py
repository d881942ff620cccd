"""Three hand-written DVC projects, shaped like public ones, for `mlops import` tests.

Each is a dict of path -> text. The scripts use only the standard library and
write deterministic files, so `dvc repro` of the original and of the imported
project can be compared byte for byte.

- `getstarted`: DVC's get-started layout: prepare -> featurize -> train -> evaluate,
  params at the top level of params.yaml read by the scripts themselves, top-level
  metrics and plots with templates, an artifact with labels.
- `validation`: a `foreach` over a param (one stage per dataset), `${...}` in cmd and
  paths, a `matrix` stage, and a report stage without outputs.
- `multiparams`: two params files (params.yaml and configs/train.yaml, read through
  `vars:`), a hyphenated key, output options, frozen/always_changed/desc, stage plots
  with every plot property, and top-level params.
"""

from __future__ import annotations

READ_PARAMS = """\
import json, sys
import yaml

def params():
    with open("params.yaml") as fh:
        return yaml.safe_load(fh)
"""

GETSTARTED: dict[str, str] = {
    "params.yaml": """\
prepare:
  split: 0.25
  seed: 20170428
featurize:
  max_features: 50
  ngrams: 2
train:
  seed: 7
  n_est: 30
  min_split: 0.01
""",
    "data/data.xml": "\n".join(f"<row id='{i}' text='post {i * 7 % 13}'/>" for i in range(40))
    + "\n",
    "src/common.py": READ_PARAMS,
    "src/prepare.py": """\
import os, sys
sys.path.insert(0, "src")
from common import params
p = params()["prepare"]
rows = open(sys.argv[1]).read().splitlines()
cut = int(len(rows) * (1 - p["split"]))
os.makedirs("data/prepared", exist_ok=True)
open("data/prepared/train.tsv", "w").write("\\n".join(rows[:cut]) + "\\n")
open("data/prepared/test.tsv", "w").write("\\n".join(rows[cut:]) + "\\n")
""",
    "src/featurize.py": """\
import os, sys
sys.path.insert(0, "src")
from common import params
p = params()["featurize"]
os.makedirs(sys.argv[2], exist_ok=True)
for part in ("train", "test"):
    rows = open(os.path.join(sys.argv[1], part + ".tsv")).read().splitlines()
    feats = [str(len(r) % p["max_features"] * p["ngrams"]) for r in rows]
    open(os.path.join(sys.argv[2], part + ".txt"), "w").write("\\n".join(feats) + "\\n")
""",
    "src/train.py": """\
import sys
sys.path.insert(0, "src")
from common import params
p = params()["train"]
feats = [int(x) for x in open(sys.argv[1] + "/train.txt").read().split()]
weight = (sum(feats) * p["seed"] + p["n_est"]) % 97
open(sys.argv[2], "w").write(f"weight={weight} min_split={p['min_split']}\\n")
""",
    "src/evaluate.py": """\
import json, os, sys
model = open(sys.argv[1]).read()
weight = int(model.split()[0].split("=")[1])
feats = [int(x) for x in open(sys.argv[2] + "/test.txt").read().split()]
score = round((sum(feats) + weight) % 100 / 100, 4)
os.makedirs("eval/plots", exist_ok=True)
json.dump({"avg_prec": score, "roc_auc": round(1 - score / 2, 4)},
          open("eval/metrics.json", "w"), indent=2)
points = [{"fpr": i / 10, "tpr": min(1.0, i / 10 + score / 5)} for i in range(11)]
json.dump({"roc": points}, open("eval/plots/roc.json", "w"), indent=2)
""",
    "dvc.yaml": """\
stages:
  prepare:
    cmd: python src/prepare.py data/data.xml
    deps:
      - data/data.xml
      - src/prepare.py
    params:
      - prepare.seed
      - prepare.split
    outs:
      - data/prepared
  featurize:
    cmd: python src/featurize.py data/prepared data/features
    deps:
      - data/prepared
      - src/featurize.py
    params:
      - featurize.max_features
      - featurize.ngrams
    outs:
      - data/features
  train:
    cmd: python src/train.py data/features model.pkl
    deps:
      - data/features
      - src/train.py
    params:
      - train
    outs:
      - model.pkl:
          desc: the trained model
          type: model
          labels: [baseline, text]
  evaluate:
    cmd: python src/evaluate.py model.pkl data/features
    deps:
      - data/features
      - model.pkl
      - src/evaluate.py
    outs:
      - eval:
          cache: false
metrics:
  - eval/metrics.json
plots:
  - eval/plots/roc.json:
      template: simple
      x: fpr
      y: tpr
      title: ROC
artifacts:
  text-classifier:
    path: model.pkl
    type: model
    desc: Detect the topic of a post
    labels: [nlp, classification]
    meta:
      owner: data-team
""",
}

VALIDATION: dict[str, str] = {
    "params.yaml": """\
datasets:
  - name: north
    threshold: 3
  - name: south
    threshold: 5
models: [linear, tree]
seeds: [1, 2]
""",
    "data/north.csv": "a,b\n1,2\n3,4\n5,6\n",
    "data/south.csv": "a,b\n7,8\n9,10\n",
    "validate.py": """\
import json, os, sys
name, threshold = sys.argv[1], int(sys.argv[2])
rows = open(f"data/{name}.csv").read().splitlines()[1:]
bad = [r for r in rows if sum(int(v) for v in r.split(",")) < threshold]
os.makedirs("out/checks", exist_ok=True)
json.dump({"rows": len(rows), "bad": len(bad)}, open(f"out/checks/{name}.json", "w"))
""",
    "fit.py": """\
import json, os, sys
model, seed = sys.argv[1], int(sys.argv[2])
os.makedirs("out/models", exist_ok=True)
json.dump({"model": model, "score": (len(model) * 13 + seed * 7) % 10 / 10},
          open(f"out/models/{model}-{seed}.json", "w"))
""",
    "report.py": """\
import glob, json
checks = sorted(glob.glob("out/checks/*.json"))
print("checked", len(checks), "datasets")
""",
    "dvc.yaml": """\
stages:
  validate:
    foreach: ${datasets}
    do:
      cmd: python validate.py ${item.name} ${item.threshold}
      deps:
        - validate.py
        - data/${item.name}.csv
      outs:
        - out/checks/${item.name}.json:
            cache: false
  fit:
    matrix:
      model: ${models}
      seed: ${seeds}
    cmd: python fit.py ${item.model} ${item.seed}
    deps:
      - fit.py
    metrics:
      - out/models/${item.model}-${item.seed}.json:
          cache: false
  report:
    cmd: python report.py
    deps:
      - report.py
      - out/checks/north.json
      - out/checks/south.json
""",
}

MULTIPARAMS: dict[str, str] = {
    "params.yaml": """\
evaluate:
  roc-auc: true
  bins: 4
""",
    "configs/train.yaml": """\
train:
  epochs: 3
  lr: 0.5
""",
    "train.py": """\
import json, os, sys
import yaml
epochs = int(sys.argv[1])
cfg = yaml.safe_load(open("configs/train.yaml"))["train"]
os.makedirs("models", exist_ok=True)
history = []
w = 0.0
for epoch in range(epochs):
    w += cfg["lr"] / (epoch + 1)
    history.append({"epoch": epoch, "loss": round(1 / (1 + w), 5)})
json.dump({"w": round(w, 5)}, open("models/model.json", "w"))
os.makedirs("logs", exist_ok=True)
json.dump({"history": history}, open("logs/loss.json", "w"), indent=1)
""",
    "evaluate.py": """\
import json, yaml
p = yaml.safe_load(open("params.yaml"))["evaluate"]
w = json.load(open("models/model.json"))["w"]
out = {"bins": p["bins"], "score": round(w / (w + 1), 5)}
if p["roc-auc"]:
    out["roc-auc"] = round(min(1.0, w / 2), 5)
json.dump(out, open("metrics.json", "w"), indent=2)
""",
    "stamp.py": "import time\nopen('stamp.txt', 'w').write('x')\n",
    "dvc.yaml": """\
vars:
  - configs/train.yaml
stages:
  train:
    desc: Fit the model for a few epochs
    cmd: python train.py ${train.epochs}
    deps:
      - train.py
    params:
      - configs/train.yaml:
          - train
    outs:
      - models/model.json:
          persist: false
          push: true
          desc: weights
    plots:
      - logs/loss.json:
          cache: false
          template: linear
          x: epoch
          y: loss
          title: Training loss
          x_label: epoch
          y_label: loss
  evaluate:
    cmd: python evaluate.py
    deps:
      - evaluate.py
      - models/model.json
    params:
      - evaluate.roc-auc
      - evaluate.bins
    metrics:
      - metrics.json:
          cache: false
  touch:
    cmd: python stamp.py
    always_changed: true
    deps:
      - stamp.py
    outs:
      - stamp.txt:
          cache: false
params:
  - configs/train.yaml
""",
}

PROJECTS = {"getstarted": GETSTARTED, "validation": VALIDATION, "multiparams": MULTIPARAMS}
