"""The word lists behind :mod:`engine.inference.creative.copy_rules`: dangling end words, light
function words, call-to-action verbs and the words a button may end on or offer. Pure data (nothing
beyond building the sets).
"""

from __future__ import annotations

# Words a finished phrase does not end on (articles, conjunctions, prepositions, possessives).
_DANGLING = frozenset([
    "a", "an", "the", "and", "or", "but", "nor", "so", "to", "of", "for", "with", "from", "by", "in", "on",
    "at", "into", "onto", "as", "than", "that", "which", "who", "whose", "your", "our", "my", "their",
    "its", "his", "her", "this", "these", "those", "every", "each", "is", "are", "was", "were", "be",
    "will", "can", "very", "more", "most", "less", "about", "like", "via", "if", "when", "while", "because",
])  # fmt: skip

# Function words of four or more letters that do not count as content words (nor as a repeated word).
_LIGHT_WORDS = frozenset([
    "that", "this", "with", "your", "from", "have", "will", "more", "than", "them", "they", "their", "into",
    "just", "what", "when", "where", "which", "every", "each", "very", "much", "also", "only", "been",
    "being", "were", "make", "made",
])  # fmt: skip

# Verbs a call to action may start with: a button says what the reader does next.
CTA_VERBS = frozenset([
    "add", "adopt", "apply", "ask", "attend", "become", "begin", "book", "bring", "browse", "build", "buy",
    "call", "catch", "challenge", "chat", "check", "choose", "claim", "come", "compare", "configure",
    "connect", "contact", "create", "dance", "design", "discover", "dive", "donate", "download", "drink",
    "eat", "enjoy", "enroll", "experience", "explore", "feel", "find", "fix", "follow", "gear", "get",
    "give", "go", "grab", "hear", "help", "hire", "install", "invest", "join", "learn", "let", "listen",
    "live", "lock", "make", "meet", "move", "order", "pick", "plan", "play", "pre-order", "preorder",
    "protect", "reach", "read", "refresh", "register", "renew", "rent", "request", "reserve", "ride",
    "rsvp", "run", "save", "savor", "schedule", "secure", "see", "select", "send", "shop", "sign", "sip",
    "skip", "sleep", "spend", "start", "stay", "step", "stream", "subscribe", "support", "switch", "take",
    "talk", "taste", "test", "tour", "train", "travel", "treat", "try", "unlock", "upgrade", "visit",
    "walk", "watch", "wear", "win", "work", "write",
])  # fmt: skip

# A call to action cannot end on a determiner, nor on an adjective right after one, the noun left off
# ("Get Your Perfect", "Discover the Ultimate"); "Make Mornings Perfect" and "Try Something New" are fine.
_CTA_DETERMINERS = frozenset(["the", "a", "an", "your", "our", "my", "their", "this", "every"])
_CTA_OPEN_ADJECTIVES = frozenset([
    "top", "ultimate", "best", "art", "perfect", "new", "first", "own", "favorite", "favourite", "next",
    "great", "latest", "finest", "ideal", "special", "dream", "whole",
])  # fmt: skip

# What a button may offer besides the product itself: the corpus's most frequent call-to-action objects
# that are not a product ("Book a tasting", "Get a quote", "Claim your spot").
_CTA_GENERIC_WORDS = """
    about account appointment assessment attend audit available batch before best better book booked
    booking bundle call card case check class collection color colour consult consultation copy
    coverage crew custom date deal deals demo design detail dinner download drive drop early edition
    entry estimate every family favorite favourite first fitting flavor flavour free fresh from gift
    help here home inspection install lesson line list local look love lunch membership menu month more
    near new next night now offer online option order ours pack package pair party pass pickup pilot
    place plan planning price pricing project proposal quick quote race range rate report reserve
    review ride right room routine sale sample savings search season seat service session setup shoot
    shop shopping site size slot spot start started stay store story strategy style subscription table
    taste tasting team test their them this ticket tickets time today together tomorrow tonight tour
    trial trip visit walk walkthrough week weekend whole with work your yours
"""
CTA_GENERIC = frozenset(_CTA_GENERIC_WORDS.split())
