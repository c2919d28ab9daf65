"""The Rasa server process as we run it: two process settings, then Rasa's own CLI.

``python -m bot.serve run --model ... [rasa run options]`` is ``rasa run`` with
two settings made before NumPy or TensorFlow is imported (``bot.stack`` starts
the server this way, so ``make run``, the end-to-end tests and ``make bench``
all get them):

- **One BLAS thread** (``OPENBLAS_NUM_THREADS=1`` unless already set). DIET and
  the ResponseSelector predict with NumPy (``bot.nlu.numpy_predict``), a few
  small matrix products per message. OpenBLAS would run them on a pool of one
  thread per core whose helper threads spin while waiting for the next call:
  under load that helper burned about a core (8 ms of CPU per message) on this
  2-core machine and slowed the server's own thread from 7.8 to 5.5 ms of CPU
  per message beside it. The products are far too small to gain from a second
  thread.
- **No JAX.** TensorFlow 2.12 lists JAX as a dependency and imports it for one
  optional TFLite converter feature (``tensorflow.lite.python.util``, inside
  ``try: from jax import ... except ImportError``). Rasa never converts to
  TFLite, and loading JAX cost the server about 105 MB of resident memory and
  half a second at start. The server marks ``jax`` as not importable, so
  TensorFlow takes its own ``ImportError`` path. Set ``KOSMO_SERVER_JAX=on`` to
  let it load (for ruling this out).

Everything else is Rasa's: the arguments are those of ``rasa`` itself.
"""

from __future__ import annotations

import os
import sys
from typing import Any, MutableMapping, Optional, Sequence

BLAS_THREADS_ENV = "OPENBLAS_NUM_THREADS"
JAX_ENV = "KOSMO_SERVER_JAX"


def prepare_process(
    environ: Optional[MutableMapping[str, str]] = None,
    modules: Optional[MutableMapping[str, object]] = None,
) -> list[str]:
    """Make the two settings (before NumPy/TensorFlow are imported); returns what was set."""
    env = os.environ if environ is None else environ
    mods: MutableMapping[str, Any] = sys.modules if modules is None else modules
    done = []
    if BLAS_THREADS_ENV not in env:
        env[BLAS_THREADS_ENV] = "1"
        done.append(f"{BLAS_THREADS_ENV}=1")
    if (env.get(JAX_ENV) or "").strip().lower() not in ("on", "1", "true", "yes") and "jax" not in mods:
        mods["jax"] = None  # `import jax` now raises ImportError, which TensorFlow catches
        done.append("jax not importable")
    return done


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Rasa's command line (``rasa`` with ``argv``), in a prepared process."""
    prepare_process()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *(sys.argv[1:] if argv is None else argv)]
    rasa_main()


if __name__ == "__main__":
    main()
