"""The patches of Rasa code that has no extension point, and the one registry that installs them.

Speed-ups that Rasa lets us plug in are components named in ``config.yml``,
so training, ``rasa test``, ``Agent.load`` and the server all run the same
code (their shortcuts apply once a trained model is loaded):

| component | what it replaces when predicting |
|---|---|
| ``bot.nlu.direct_count_vectors.DirectCountVectorsFeaturizer`` | sklearn's general CSR path for counting a few tokens, and a ``re.sub`` per token |
| ``bot.nlu.fast_diet.NumpyDIETClassifier`` | DIET's batch building and TensorFlow: NumPy, from the same weights |
| ``bot.nlu.faq_selector.FaqResponseSelector`` | the same for the ResponseSelector (it is one) |
| ``bot.indexed_rule_policy.IndexedRulePolicy`` | RulePolicy testing every rule at every state, and replaying the conversation for each question |

What has no extension point is a patch, in this package, and installed only
by the server's entry point (``bot.serve``) through :func:`install_all`:

| module | what it replaces |
|---|---|
| ``bot.speedups.graph_runner`` | dask's scheduler for the (small) predict graph, 3 runs per message |
| ``bot.speedups.event_types`` | ``Event.resolve_by_type``'s walk of every ``Event`` subclass, per event loaded |
| ``bot.speedups.action_timeout`` | Rasa's 300 s wait for a custom action (``$KOSMO_ACTION_TIMEOUT``, default 5 s) |

Each patch (:class:`Patch`) names the Rasa code it mirrors and the SHA-256 of
that code's source; :func:`install_all` installs it only when Rasa is the
version it was written for (the pinned one, ``rasa==`` in pyproject.toml) and the
source is unchanged, and otherwise logs a warning and leaves Rasa's code
(the components check the same way when their model is loaded). Each patch
keeps what it replaced: :func:`uninstall_all` puts it back (tests do).
``KOSMO_RASA_SPEEDUPS=off`` turns every patch and every component shortcut
off. The server logs what it installed.

Each shortcut is exact (the same result as Rasa's code, compared by a test)
except DIET's and the ResponseSelector's NumPy prediction, whose scores equal
TensorFlow's within 1e-5 (float32 sums in another order) and which gives the
same decisions: ``tests/test_speedups_equivalence.py`` runs every test story
and NLU example with everything on and everything off.
"""

from __future__ import annotations

from bot.speedups.guard import SWITCH_ENV, enabled, rasa_version_written_for, written_for
from bot.speedups.registry import Patch, install_all, installed, patches, uninstall_all

__all__ = [
    "SWITCH_ENV",
    "Patch",
    "enabled",
    "install_all",
    "installed",
    "patches",
    "rasa_version_written_for",
    "uninstall_all",
    "written_for",
]
