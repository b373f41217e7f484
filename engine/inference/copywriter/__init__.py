"""The copywriter: any causal LM (the house GPT-2 by default) writes headline, body and call to action.

:mod:`.writer` holds :class:`Copywriter` (loading, the public API, candidate pools); :mod:`.prompts` the
text formats; :mod:`.placeholders` delexicalising and filling copy; :mod:`.decoding` the sampling loop;
:mod:`.candidates` the checks; :mod:`.ranking` scoring and picking; :mod:`.tuning` the settings.
"""

from engine.inference.copywriter.writer import Copywriter

__all__ = ["Copywriter"]
