"""The one vocabulary of thread replies: every word and phrase the reply parser (:mod:`engine.replies`)
understands, as tables and patterns. Data, no logic: to teach the bot a word, add it here (and
tests/engine/test_vocabulary.py checks that it reaches the job as a parameter)."""

from __future__ import annotations

import re

from engine.brief import SIZES, TONES
from engine.edits import COLOURS


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5, "6th": 6, "7th": 7, "8th": 8, "last": -1,
}  # fmt: skip
_NUM = r"[0-9]{1,6}|one|two|three|four|five|six|seven|eight"
_ORD = r"first|second|third|fourth|fifth|sixth|seventh|eighth|last|[1-8](?:st|nd|rd|th)"

_TONE_WORDS: dict[str, str] = {
    **{t: t for t in TONES},
    "fun": "playful", "funnier": "playful", "funny": "playful", "cheeky": "playful", "witty": "playful",
    "quirky": "playful", "playfull": "playful", "sillier": "playful",
    "bolder": "bold", "punchier": "bold", "louder": "bold", "confident": "bold", "daring": "bold",
    "edgier": "bold", "edgy": "bold",
    "luxury": "premium", "luxurious": "premium", "classier": "premium", "classy": "premium",
    "elegant": "premium", "upscale": "premium", "fancier": "premium", "posher": "premium",
    "friendlier": "friendly", "casual": "friendly", "approachable": "friendly", "chattier": "friendly",
    "urgency": "urgent", "pushier": "urgent", "fomo": "urgent",
    "calmer": "calm", "relaxed": "calm", "gentler": "calm", "chill": "calm", "soothing": "calm",
    "softer": "calm", "quieter": "calm",
    "formal": "professional", "serious": "professional", "corporate": "professional",
    "businesslike": "professional", "pro": "professional",
}  # fmt: skip
# "less playful" / "too formal": the opposite tone.
_LESS_TONE: dict[str, str] = {
    "playful": "professional", "bold": "calm", "premium": "friendly", "friendly": "professional",
    "urgent": "calm", "calm": "bold", "professional": "friendly",
}  # fmt: skip
_LESS_WORDS: dict[str, str] = {
    "salesy": "calm",
    "pushy": "calm",
    "stiff": "friendly",
    "corporate": "friendly",
}

_COLOUR_WORDS: dict[str, str] = {
    **{c: c for c in COLOURS if c not in ("warm", "cool", "light", "bright")},
    "redder": "red", "greener": "green", "bluer": "blue", "pinker": "pink", "yellower": "yellow",
    "turquoise": "teal", "violet": "purple", "gray": "grey", "golden": "gold",
    "warmer": "warm", "cooler": "cool", "darker": "dark", "lighter": "light", "brighter": "bright",
    "pastels": "pastel", "subdued": "muted", "colourful": "vibrant", "colorful": "vibrant", "vivid": "vibrant",
    "saturated": "vibrant", "monochrome": "mono", "grayscale": "mono", "greyscale": "mono",
}  # fmt: skip
# Words that are colours only next to a colour noun ("cool colours"), so "cool!" is not an instruction.
_CONTEXT_COLOURS = {"warm": "warm", "cool": "cool", "light": "light", "bright": "bright", "mono": "mono"}
_TONE_AS_COLOUR = {"bold": "vibrant", "bolder": "vibrant", "louder": "vibrant", "punchier": "vibrant",
                   "softer": "muted", "calm": "muted", "calmer": "muted", "gentler": "muted",
                   "quieter": "muted"}  # fmt: skip
_COLOUR_NOUNS = _wordset(
    "colour colours color colors palette palettes background backgrounds hues hue shades shade tones visual "
    "visuals image images picture pictures art artwork look scheme"
)
_TONE_NOUNS = _wordset("tone voice copy words wording text writing language vibe")

_SIZE_WORDS: dict[str, str] = {
    **{s: s for s in SIZES},
    "wide": "landscape", "wider": "landscape", "widescreen": "landscape", "horizontal": "landscape",
    "banner": "landscape", "16:9": "landscape",
    "stories": "story", "vertical": "story", "portrait": "story", "tall": "story", "taller": "story",
    "reel": "story", "reels": "story", "tiktok": "story", "9:16": "story",
    "1:1": "square", "squared": "square",
}  # fmt: skip
_STRONG = _wordset("different wilder wild crazier crazy radical experimental stronger weirder")
_SUBTLE = _wordset("subtle subtler slight slightly minor tweak tweaks similar")
_STRONG_PHRASES = re.compile(
    r"\b(?:surprise me|shake it up|mix it up|change it up|something (?:new|else)|new direction|"
    r"bigger changes?|totally new|start fresh|fresh take)\b"
)
_SUBTLE_PHRASES = re.compile(
    r"\b(?:small changes?|a (?:little|bit|touch)|keep it close|close to (?:it|this))\b"
)
_SHORTER = _wordset("shorter shorten concise briefer tighter trim trimmer snappier leaner")
_LONGER = _wordset("longer lengthen expand detailed elaborate richer fuller")
_SHORTER_PHRASES = re.compile(r"\b(?:less (?:text|copy|words)|fewer words|cut it down|too long|tl;?dr)\b")
_LONGER_PHRASES = re.compile(r"\b(?:more (?:text|copy|words|detail|details)|too short)\b")
_AGAIN = _wordset("again regenerate redo reroll retry refresh another continue next more go iterate rerun")
# A clause made only of these words (and at least one _AGAIN word) asks for a fresh round: "another one please".
_FILLER = _wordset(
    "please pls one round batch set try let's lets ahead keep going some give me us a an the it do make new ok "
    "okay thanks cool nice great yes yep sure good now let run"
)
# "warmer tone", "lighter copy": tone words when followed by a tone noun.
_TONE_BY_NOUN = {"warm": "friendly", "warmer": "friendly", "light": "playful", "lighter": "playful",
                 "brighter": "playful", "bright": "playful", "softer": "calm", "cooler": "calm"}  # fmt: skip
_INTENSIFIERS = _wordset("much way lot lots far")
_LESS_PREFIX = ("less", "too", "not so", "not as", "not too", "way too", "a bit too", "bit too", "fewer")
_PLEASANTRIES = _wordset(
    "thanks thank you thx ty please pls plz cheers lol haha nice great cool ok okay awesome love it perfect "
    "worries problem this that them these those one no yes yeah wow hmm"
)

# --------------------------------------------------------------------------------------------------
# Phrase patterns (case-insensitive; quoted values are placeholders \x01N\x01 surrounded by spaces)

_I = re.IGNORECASE
_Q = r"\x01[0-9]+\x01"
_VALUE = rf"({_Q}|[^\s\x01].*$)"  # a quoted value, or the rest of the clause
_REF = r"(?:#\s*|no\.?\s*|number\s+|variant\s+|version\s+|v|option\s+|card\s+|idea\s+|design\s+)"
_PICK = (
    r"(?:go\s+with|pick|choose|take|prefer|use|based\s+on|build\s+on|riff\s+on|iterate\s+on|work\s+from|"
    r"(?:i|we)\s+(?:like|love|prefer))"
)

_CARD = re.compile(r"\bc[0-9]{1,19}-r([0-9]{1,9})-v([0-9]{1,9})\b", _I)
_UNDO = re.compile(r"(?:undo(?:\s+that)?|go\s+back|previous\s+round|revert(?:\s+that)?)", _I)
_BACK = [
    re.compile(rf"\b(?:go\s+)?back\s+to\s+(?:round|r)\s*#?\s*({_NUM})\b", _I),
    re.compile(
        rf"\b(?:revert|return|rewind|jump|restart|roll\s+back)\s+(?:back\s+)?to\s+(?:round|r)\s*#?\s*({_NUM})\b",
        _I,
    ),
    re.compile(rf"\b(?:from|use|reuse|start\s+from|redo)\s+round\s*#?\s*({_NUM})\b", _I),
    re.compile(rf"\bround\s*#?\s*({_NUM})\s+again\b", _I),
    re.compile(rf"\b(?:back|revert|return)\s+to\s+the\s+({_ORD})\s+(?:round|one|batch|set)\b", _I),
    re.compile(r"\bback\s+to\s+the\s+(start|beginning|original)\b", _I),
]
_LIKE = [
    re.compile(rf"\b(?:more\s+)?like\s+(?:the\s+)?({_ORD})(?:\s+(?:one|card|variant|version|option))?\b", _I),
    re.compile(rf"\b(?:more\s+)?like\s+{_REF}?({_NUM})\b", _I),
    re.compile(rf"\b{_PICK}\s+(?:the\s+)?{_REF}({_NUM})\b", _I),
    re.compile(rf"\b{_PICK}\s+(?:the\s+)?({_ORD}|[1-8])(?:\s+(?:one|card|variant|version|option))?\b", _I),
    re.compile(r"(?:^|\s)#\s*([0-9]{1,6})\b", _I),
    re.compile(rf"\b(?:variant|version|option|card|number)\s+({_NUM})\b", _I),
]
_VARIANTS = [
    re.compile(
        rf"\b({_NUM})\s+(?:more\s+|new\s+|different\s+|fresh\s+)?(?:variants?|versions?|options?|ideas?|cards?|"
        rf"variations?|alternatives?|takes?|designs?|creatives?|ads?|of\s+them)\b",
        _I,
    ),
    re.compile(rf"\b(?:variants?|versions?|count)\s*[:=]?\s*({_NUM})\b", _I),
    re.compile(
        rf"\b(?:give\s+me|show\s+me|make|generate|i\s+want|we\s+want|i\s+need|need)\s+({_NUM})\b"
        rf"(?!\s*(?:st|nd|rd|th)\b)",
        _I,
    ),
    re.compile(rf"\b(?:only|just)\s+({_NUM})\b", _I),
]
_MORE_VARIANTS = re.compile(r"\bmore\s+(?:variants|versions|options|ideas|cards|variations)\b", _I)
_FEWER_VARIANTS = re.compile(r"\b(?:fewer|less)\s+(?:variants|versions|options|ideas|cards|variations)\b", _I)
_AVOID = [
    re.compile(
        r"\b(?:avoid|avoiding|ban|never\s+(?:say|use|mention|write)|don'?t\s+(?:say|use|mention|write|include)|"
        r"do\s+not\s+(?:say|use|mention|write|include)|stop\s+(?:saying|using|mentioning)|no\s+more)\b\s*:?\s*"
        rf"(?:the\s+)?(?:words?\s+|phrases?\s+|term\s+)?{_VALUE}",
        _I,
    ),
    re.compile(rf"\b(?:remove|drop|lose|cut|without)\s+(?:the\s+)?(?:words?\s+|phrases?\s+)?({_Q})", _I),
    re.compile(r"\b(?:remove|drop|lose|cut)\s+the\s+(?:words?|phrases?)\s+([^\s\x01].*)$", _I),
    re.compile(rf"^no\s+({_Q}|[^\W\d][\w'&+.-]*(?:\s+[\w'&+.-]+)?)$", _I),
]
_MENTION = [
    re.compile(
        r"\b(?:mention(?:ing)?|keywords?|add\s+(?:the\s+)?(?:keywords?|words?|phrases?)|"
        r"(?:include|use)\s+(?:the\s+)?(?:words?|phrases?|keywords?)|talk\s+about)\s*:?\s*"
        rf"{_VALUE}",
        _I,
    ),
    re.compile(rf"\bsay\s+({_Q})", _I),
]
# "use/add/include X": a keyword unless X is itself an instruction ("use a darker palette", "add urgency").
_SOFT_MENTION = re.compile(
    rf"\b(?:use|add|include|feature|highlight|emphasi[sz]e|stress)\s+(?:the\s+)?{_VALUE}", _I
)
_CTA = [
    re.compile(
        r"\b(?:cta|call\s+to\s+action|button(?:\s+text)?)"
        r"(?:\s*[:=]\s*|\s+(?:to|should\s+(?:say|be|read)|says?|reads?|text|of|is)\s+|\s*(?=\x01))"
        r"(\x01[0-9]+\x01|[^,;\n.!?]+)",
        _I,
    ),
    re.compile(r"\b(?:cta|call\s+to\s+action)\s+(\x01[0-9]+\x01|[^,;\n.!?]+)", _I),
]
_CLAUSE_SPLIT = re.compile(r"\s*(?:[,;\n]|[.!?](?:\s|$)|\s(?:and|&|then|but|plus|also)\s)\s*", _I)
_AND = re.compile(r"\s(?:and|&|then|but|plus|also)\s", _I)
_HELP = re.compile(
    r"(?:\?+|help\b.*|commands|options|what\s+can\s+(?:i|we)\s+(?:say|do|type|ask|write)\b.*|"
    r"how\s+does\s+(?:this|it)\s+work\b.*|how\s+do\s+(?:i|we)\s+(?:use|steer|change)\b.*)",
    _I | re.DOTALL,
)
_EXPORT = re.compile(
    r"(?:(?:please|pls|can\s+you|could\s+you|can\s+i|ok|okay)\s+)*(?:export|download|zip)\b"
    r"(?:.*?(?:^|\s|#)([0-9]{1,6})\b)?",
    _I | re.DOTALL,
)
