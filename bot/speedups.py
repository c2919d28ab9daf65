"""Exact speed-ups of Rasa 3.6's prediction path, installed together when the server starts.

Each one replaces a slow step of Rasa's with one that gives the same result,
and each module says why it is exact and what it measured; each has a test
that compares it with Rasa's own code:

| module | what it replaces |
|---|---|
| ``bot.graph_runner`` | dask's scheduler for the (small) predict graph, 3 runs per message |
| ``bot.rule_matching`` | RulePolicy testing every rule at every state |
| ``bot.past_states`` | RulePolicy replaying the conversation twice for one prediction |
| ``bot.nlu.count_vectors`` | sklearn's general CSR path for counting a few tokens |
| ``bot.nlu.sparse_features`` | scipy's general block builder for joining two featurizers' output, and its COO constructor's checks |
| ``bot.nlu.tf_predict`` | ``tf.function``'s per-call graph selection (there is only one graph) |
| ``bot.nlu.numpy_predict`` | TensorFlow (and Rasa's batch building) for DIET's and the ResponseSelector's prediction: NumPy, from the same weights |

A patch of Rasa code with no extension point checks first that it is the code it
was written for (``written_for``: ``rasa.__version__`` and a SHA-256 of the
method's source); on any other it logs a warning and leaves Rasa's method in
place. ``bot.nlu.count_vectors``'s number replacement
(``CountVectorsFeaturizer._process_tokens``) does.

The tracker store (``bot.tracker_store``) calls ``install_prediction_speedups``
because Rasa creates it before it loads the model, so the speed-ups are in
place for the model's first prediction; ``rasa train`` never creates the store,
so training runs Rasa's code unchanged. Set ``KOSMO_RASA_SPEEDUPS=off`` to run
the server on Rasa's code alone (for comparing, or for ruling them out).
The server process's own settings (one BLAS thread, no JAX) are ``bot.serve``'s.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from typing import Any, Collection, Mapping, Optional

from bot.settings import RasaServerSettings

logger = logging.getLogger(__name__)


def source_digest(target: Any) -> Optional[str]:
    """SHA-256 (hex) of ``inspect.getsource(target)``; None when its source cannot be read."""
    try:
        source = inspect.getsource(target)
    except (OSError, TypeError):
        return None
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def written_for(
    target: Any, what: str, rasa_versions: Collection[str], source_sha256: str
) -> bool:
    """Whether ``target`` is the Rasa code a patch was written and checked against.

    True when ``rasa.__version__`` is one of ``rasa_versions`` and the SHA-256 of
    ``target``'s source is ``source_sha256``. Otherwise logs a warning naming
    ``what`` and both sides and returns False: the caller then leaves Rasa's code
    as it is, so a patch never keeps running on code it was not checked against.
    """
    import rasa

    version = getattr(rasa, "__version__", None)
    digest = source_digest(target)
    if version in rasa_versions and digest == source_sha256:
        return True
    logger.warning(
        "speed-up %s not installed: written for Rasa %s with source sha256 %s, found Rasa %s "
        "with source sha256 %s; Rasa's own code runs",
        what,
        "/".join(sorted(rasa_versions)),
        source_sha256[:16],
        version,
        digest[:16] if digest else "unreadable",
    )
    return False


def install_prediction_speedups(environ: Optional[Mapping[str, str]] = None) -> bool:
    """Install every speed-up (idempotent); returns False if ``$KOSMO_RASA_SPEEDUPS`` is ``off``."""
    if not RasaServerSettings.from_env(environ).speedups:
        return False
    from bot.graph_runner import install_sequential_graph_runner
    from bot.nlu.count_vectors import count_vectors_directly
    from bot.nlu.numpy_predict import predict_messages_with_numpy, predict_with_numpy
    from bot.nlu.sparse_features import join_sparse_features_directly
    from bot.nlu.tf_predict import predict_through_concrete_function
    from bot.past_states import remember_past_states
    from bot.rule_matching import bound_rule_matching

    install_sequential_graph_runner()
    bound_rule_matching()
    remember_past_states()
    count_vectors_directly()
    join_sparse_features_directly()
    predict_through_concrete_function()
    predict_with_numpy()  # over the concrete function, which takes what NumPy does not cover
    predict_messages_with_numpy()
    return True
