"""What a creative is made of, in pure Python (no torch): the typed results (:mod:`.types`), the visual
concepts and brief -> concept matching (:mod:`.concepts`, data in :mod:`.concept_tables`) and the rules
ad copy is filtered and ranked by (:mod:`.copy_rules`, word lists in :mod:`.copy_words`)."""
