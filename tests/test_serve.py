"""The Rasa server process: one BLAS thread and no JAX, set before NumPy and TensorFlow load."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from bot.serve import BLAS_THREADS_ENV, JAX_ENV, prepare_process
from bot.stack import Stack
from tests.conftest import PROJECT_ROOT


def test_sets_one_blas_thread_and_hides_jax():
    env: dict[str, str] = {}
    modules: dict[str, object] = {}
    assert prepare_process(env, modules) == ["OPENBLAS_NUM_THREADS=1", "jax not importable"]
    assert env[BLAS_THREADS_ENV] == "1"
    assert modules["jax"] is None


def test_an_operators_settings_win():
    env = {BLAS_THREADS_ENV: "2", JAX_ENV: "on"}
    modules: dict[str, object] = {}
    assert prepare_process(env, modules) == []
    assert env[BLAS_THREADS_ENV] == "2"
    assert "jax" not in modules


def test_an_already_imported_jax_is_left_alone():
    loaded = object()
    modules: dict[str, object] = {"jax": loaded}
    prepare_process({}, modules)
    assert modules["jax"] is loaded


def test_in_a_fresh_process_numpy_has_one_blas_thread_and_tensorflow_loads_without_jax():
    """What the server process gets, checked in a new interpreter (imports TensorFlow: a few seconds)."""
    probe = textwrap.dedent(
        """
        import json, os, sys
        os.environ.pop("OPENBLAS_NUM_THREADS", None)
        os.environ.pop("KOSMO_SERVER_JAX", None)
        from bot.serve import prepare_process
        prepare_process()
        import numpy, threadpoolctl
        import tensorflow
        from tensorflow.lite.python import util
        blas = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
        maps = open("/proc/self/maps").read()
        print(json.dumps({
            "blas_threads": blas,
            "xla_computation": util._xla_computation is None,
            "jaxlib_mapped": "jaxlib" in maps,
            "tf_works": float(tensorflow.reduce_sum(tensorflow.constant([1.0, 2.0]))),
        }))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True,
        timeout=300, check=True, env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"},
    )
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["blas_threads"] and set(seen["blas_threads"]) == {1}
    assert seen["xla_computation"] is True  # TensorFlow took its own ImportError path
    assert seen["jaxlib_mapped"] is False
    assert seen["tf_works"] == 3.0


def test_the_stack_starts_rasa_through_bot_serve(tmp_path):
    stack = Stack(model=tmp_path / "m.tar.gz", rasa_port=1, actions_port=2, portal_port=3,
                  smtp_port=4, web_port=5, env={}, log_dir=tmp_path)
    rasa = next(s for s in stack.build() if s.name == "rasa")
    assert list(rasa.argv[:4]) == [sys.executable, "-m", "bot.serve", "run"]
    assert "--model" in rasa.argv
