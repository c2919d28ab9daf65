"""The Rasa server process: one BLAS thread and no JAX, set before NumPy and TensorFlow load."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from bot.serve import (
    AUTH_TOKEN_ENV,
    BLAS_THREADS_ENV,
    CORS_ENV,
    JAX_ENV,
    ServeConfigError,
    prepare_process,
    server_args,
)
from dev.stack import Stack
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


TOKEN = "Zk3-random-token-0123456789"


def test_the_api_token_comes_from_the_environment_not_the_command_line():
    args = server_args(["run", "--enable-api", "--model", "m.tar.gz"], {AUTH_TOKEN_ENV: TOKEN})
    assert args == ["run", "--enable-api", "--model", "m.tar.gz", f"--auth-token={TOKEN}"]
    # a token that begins with "-" still reaches Rasa as the option's value
    assert server_args(["run"], {AUTH_TOKEN_ENV: "-abc-0123456789x"})[-1] == "--auth-token=-abc-0123456789x"


@pytest.mark.parametrize(
    "flag", [["-t", TOKEN], [f"-t{TOKEN}"], ["--auth-token", TOKEN], [f"--auth-token={TOKEN}"]]
)
def test_a_token_on_the_command_line_is_refused(flag):
    with pytest.raises(ServeConfigError, match=AUTH_TOKEN_ENV):
        server_args(["run", *flag], {AUTH_TOKEN_ENV: TOKEN})


@pytest.mark.parametrize(
    "argv",
    [
        ["run", f"--auth-tok={TOKEN}", "--enable"],  # abbreviations Rasa's parser accepts
        ["run", "--auth", TOKEN],
        ["run", "--enable-api", "-p", "5005", f"-t{TOKEN}"],
        ["--version", "run", "-t", TOKEN],  # an option before the command
    ],
)
def test_a_token_in_any_spelling_rasa_accepts_is_refused(argv):
    with pytest.raises(ServeConfigError, match=AUTH_TOKEN_ENV):
        server_args(argv, {AUTH_TOKEN_ENV: TOKEN})


def test_an_abbreviated_enable_api_needs_the_token_too():
    for flag in ("--enable", "--enable-a"):
        with pytest.raises(ServeConfigError, match="--enable-api needs"):
            server_args(["run", flag], {})


@pytest.mark.parametrize(
    "argv",
    [["run", "--cor", "*"], ["run", "--cors=*"], ["run", "--cor", "https://a.example", "*", "--port", "5005"]],
)
def test_a_wildcard_in_an_abbreviated_cors_is_refused(argv):
    with pytest.raises(ServeConfigError, match=r"--cors: '\*' is not an origin"):
        server_args(argv, {AUTH_TOKEN_ENV: TOKEN})


def test_a_trailing_model_path_stays_the_model(tmp_path):
    model = tmp_path / "m.tar.gz"
    model.write_bytes(b"")
    args = server_args(["run", "--port", "5005", str(model)], {AUTH_TOKEN_ENV: TOKEN})
    assert args == ["run", "--port", "5005", "--model", str(model), f"--auth-token={TOKEN}"]


def test_rasa_run_actions_is_refused():
    with pytest.raises(ServeConfigError, match="bot.action_server"):
        server_args(["run", "actions"], {AUTH_TOKEN_ENV: TOKEN})


def test_the_real_command_refuses_an_abbreviated_token_and_starts_nothing():
    """``python -m bot.serve run --auth-tok=...``: exit 2, the reason, no server."""
    out = subprocess.run(
        [sys.executable, "-m", "bot.serve", "run", f"--auth-tok={TOKEN}", "--enable", "--port", "1"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", AUTH_TOKEN_ENV: TOKEN},
    )
    assert out.returncode == 2, out.stderr
    assert AUTH_TOKEN_ENV in out.stderr and "visible to every user" in out.stderr


@pytest.mark.parametrize("token", ["", "change-me", "short-token-012"])
def test_the_api_is_not_opened_without_a_real_token(token):
    with pytest.raises(ServeConfigError, match=AUTH_TOKEN_ENV):
        server_args(["run", "--enable-api"], {AUTH_TOKEN_ENV: token})
    if not token:  # without the API, no token is needed
        assert server_args(["run"], {}) == ["run"]
    else:  # a weak token is refused even without --enable-api (Rasa's channels take it too)
        with pytest.raises(ServeConfigError, match="16"):
            server_args(["run"], {AUTH_TOKEN_ENV: token})


def test_cors_origins_come_from_the_environment():
    env = {AUTH_TOKEN_ENV: TOKEN, CORS_ENV: "https://www.kosekenpo.portal.kosmo-web.jp/, http://127.0.0.1:8000"}
    args = server_args(["run"], env)
    assert args[args.index("--cors") + 1 :] == [
        "https://www.kosekenpo.portal.kosmo-web.jp", "http://127.0.0.1:8000"
    ]
    assert "--cors" not in server_args(["run"], {AUTH_TOKEN_ENV: TOKEN})  # none: no origin allowed


@pytest.mark.parametrize(
    "origins", ["*", "https://a.example *", "https://a.example/path", "null", ".*", "https://a.example?x"]
)
def test_a_wildcard_or_anything_but_an_origin_is_refused(origins):
    with pytest.raises(ServeConfigError, match=CORS_ENV):
        server_args(["run"], {CORS_ENV: origins})
    with pytest.raises(ServeConfigError):
        server_args(["run", "--cors", *origins.split(), "--port", "5005"], {})


def test_other_commands_pass_through():
    assert server_args(["train", "--auth-token", "x"], {}) == ["train", "--auth-token", "x"]


def test_the_stack_hands_secrets_through_the_environment(tmp_path):
    stack = Stack(model=tmp_path / "m.tar.gz", rasa_port=1, actions_port=2, portal_port=3,
                  smtp_port=4, web_port=5, env={AUTH_TOKEN_ENV: TOKEN}, log_dir=tmp_path)
    services = {s.name: s for s in stack.build()}
    action_secret = stack.env["KOSMO_ACTION_SERVER_TOKEN"]
    assert len(action_secret) >= 32 and stack.base_env()["KOSMO_ACTION_SERVER_TOKEN"] == action_secret
    for service in services.values():
        assert TOKEN not in " ".join(service.argv) and action_secret not in " ".join(service.argv)
    assert list(services["actions"].argv[1:3]) == ["-m", "bot.action_server"]
    assert "*" not in services["rasa"].argv
    assert stack.base_env()[CORS_ENV].split() == [stack.web_url, "http://localhost:5"]


def test_arguments_rasa_cannot_parse_are_left_for_rasa_to_refuse():
    """``--co`` could be --cors or --connector: Rasa stops with that reason, and nothing starts."""
    assert server_args(["run", "--co", "*"], {AUTH_TOKEN_ENV: TOKEN}) == ["run", "--co", "*"]
    out = subprocess.run(
        [sys.executable, "-m", "bot.serve", "run", "--co", "*", "--port", "1"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", AUTH_TOKEN_ENV: TOKEN},
    )
    assert out.returncode == 2 and "ambiguous option: --co" in out.stderr, out.stderr
