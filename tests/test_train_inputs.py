"""The model's hash (Makefile TRAIN_INPUTS) holds exactly the bot/ code training imports.

``rasa train`` imports the modules of the components named in config.yml, and
they import what they need from bot/. What the components use only once a
trained model is loaded (the NumPy prediction, the direct counting, the rule
index...) is imported then, so changing it does not retrain the model. This
test imports the config's component modules in a fresh interpreter and
compares the bot/ files it then has with the Makefile's ``TRAIN_CODE``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import PROJECT_ROOT


def makefile_train_code() -> list[str]:
    text = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    match = re.search(r"^TRAIN_CODE\s*:=(.*)$", text, re.M)
    assert match, "no TRAIN_CODE in the Makefile"
    return sorted(match.group(1).split())


def config_modules() -> list[str]:
    config = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text(encoding="utf-8"))
    names = [c["name"] for c in config["pipeline"] + config["policies"]]
    return sorted({name.rsplit(".", 1)[0] for name in names if "." in name})


def test_the_model_hash_lists_exactly_the_bot_modules_training_imports():
    modules = config_modules()
    assert modules, "config.yml names none of our components"
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "files = [m.__file__ for n, m in list(sys.modules.items()) if (n == 'bot' or n.startswith('bot.')) and getattr(m, '__file__', None)]\n"
        "print(json.dumps(files))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, check=True, capture_output=True, text=True
    )
    imported = sorted(
        str(Path(f).resolve().relative_to(PROJECT_ROOT))
        for f in json.loads(result.stdout.strip().splitlines()[-1])
    )
    assert imported == makefile_train_code(), (
        "Makefile TRAIN_CODE must list exactly the bot/ modules training imports; "
        f"missing: {sorted(set(imported) - set(makefile_train_code()))}, "
        f"not imported: {sorted(set(makefile_train_code()) - set(imported))}"
    )


def test_the_inference_only_modules_are_not_in_the_hash():
    listed = set(makefile_train_code())
    for module in ("bot/nlu/numpy_predict.py", "bot/nlu/diet_weights.py", "bot/nlu/message_batch.py",
                   "bot/nlu/diet_batch_predict.py", "bot/nlu/numpy_layers.py",
                   "bot/nlu/count_vectors.py", "bot/nlu/sparse_features.py",
                   "bot/rule_matching.py", "bot/past_states.py", "bot/speedups/__init__.py"):
        assert module not in listed, module
