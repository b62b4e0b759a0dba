"""The shared sentence list every voice of the corpus reads (a parallel corpus).

60 short, varied English sentences (statements, questions, numbers, names, lists,
long and short; s000-s008 are from the IEEE "Harvard" sentence lists of 1969 and s016 is
the traditional pangram, the others were written for this project).  Sentence ``i`` has the id ``s{i:03d}``.
The last ``N_EVAL`` sentences are held out: no training stage sees them, the
evaluation reports use them.  :func:`extra_sentences` adds generated training-only
sentences (``data.extra_sentences`` in configs/train_student.yaml) and :func:`lexicon_sentences`
wide-vocabulary ones (``data.lexicon_sentences``).
"""

from __future__ import annotations

SENTENCES: tuple[str, ...] = (
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It is easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
    "Could you please close the window before you leave?",
    "The train to Manchester leaves at half past seven.",
    "My phone number is five five five, two one nine eight.",
    "Why would anyone paint a fence purple?",
    "She sells fresh bread at the market every Sunday morning.",
    "We measured the temperature twice, and it was still rising.",
    "Turn left at the bakery, then walk straight for two blocks.",
    "The quick brown fox jumps over the lazy dog.",
    "Happy birthday, I hope you get everything you wished for.",
    "Thirty seven people signed up for the chess tournament.",
    "Please remember to water the plants on Thursday.",
    "Nobody expected the old bridge to survive the flood.",
    "How much does a ticket to the museum cost?",
    "The orchestra played until well after midnight.",
    "Bring a warm jacket, the mountain gets cold at night.",
    "Electric cars are becoming cheaper every year.",
    "I think the meeting was moved to room four hundred.",
    "A gentle breeze moved the curtains in the kitchen.",
    "The children laughed at the clumsy puppy.",
    "Do you prefer tea or coffee in the afternoon?",
    "Our flight was delayed by almost three hours.",
    "He wrote the letter by hand and sealed it with wax.",
    "Sound travels faster in water than in air.",
    "The library closes early on public holidays.",
    "Yes, that is exactly what I was trying to say.",
    "Grandmother keeps her recipes in a wooden box.",
    "Seven silver spoons lay on the polished table.",
    "The weather forecast promised sunshine, but it rained all day.",
    "Where did you put the keys to the garage?",
    "A thin layer of ice covered the quiet pond.",
    "The engineer checked every cable twice.",
    "Honestly, I have never seen such a beautiful sunset.",
    "The price of apples went up by ten percent.",
    "Please speak a little louder, the room is noisy.",
    "Birds build their nests in early spring.",
    "The committee will announce its decision on Friday.",
    "What time does the last bus leave the station?",
    "Fresh paint smells strong for several days.",
    "The detective followed the footprints to the river.",
    "Oh no, I left my umbrella on the train again.",
    "Mathematics is the language of patterns and numbers.",
    "The red kite rose high above the green hills.",
    "Would you mind holding the door for a moment?",
    "A cup of hot soup is welcome on a winter evening.",
    "The pilot calmly announced that we would land soon.",
    "Six thin threads were woven into a strong rope.",
    "Is this the right way to the central post office?",
    "The garden was full of roses, tulips and daisies.",
    "Every morning he runs five kilometres along the beach.",
    "The little boat drifted slowly towards the shore.",
    "Thank you for listening, and have a wonderful day.",
)

N_EVAL = 10


def sentence_id(index: int) -> str:
    return f"s{index:03d}"


def all_sentences() -> list[tuple[str, str]]:
    """[(sentence id, text)] in order."""
    return [(sentence_id(i), t) for i, t in enumerate(SENTENCES)]


def is_eval_sentence(sid: str) -> bool:
    """True for the held-out sentences (the last ``N_EVAL`` of ``SENTENCES``); the generated
    extra sentences (ids from ``s100``) are training sentences."""
    return len(SENTENCES) - N_EVAL <= int(sid[1:]) < len(SENTENCES)


# ----------------------------------------------------------------------------- generated training text
# Extra training-only sentences (ids s100, s101, ...), made by a small seeded grammar from the
# word lists below (written for this project).  They add phonetic and lexical variety: the
# 50 training sentences above are too few for the models to generalise to new text (the
# held-out-sentence losses stay well above the training ones).  Never held out.
EXTRA_BASE = 100

_NAMES = ("Anna", "Peter", "Maria", "George", "Helen", "Victor", "Laura", "Oscar", "Judith", "Samuel",
          "Nora", "Felix", "Ruth", "Thomas", "Carmen", "Walter")
_ADJ = ("old", "bright", "quiet", "heavy", "narrow", "yellow", "broken", "silver", "warm", "tiny",
        "famous", "crooked", "shiny", "gentle", "rough", "empty", "purple", "frozen", "noisy", "clever")
_NOUNS = ("lamp", "bridge", "basket", "guitar", "window", "ladder", "pencil", "blanket", "engine", "wallet",
          "mirror", "feather", "bucket", "jacket", "tractor", "kettle", "puzzle", "violin", "carpet", "shovel",
          "envelope", "umbrella", "bicycle", "sandwich", "magazine", "telescope", "chimney", "lantern")
_PLURALS = ("apples", "boxes", "horses", "letters", "pebbles", "shoes", "cookies", "ducks", "coins", "oranges",
            "bottles", "candles", "tickets", "flowers", "stones", "children", "sheep", "wolves")
_VERBS_PAST = ("found", "painted", "carried", "dropped", "fixed", "washed", "borrowed", "hid", "sold", "measured",
               "wrapped", "pushed", "cleaned", "opened", "dragged", "described", "photographed", "threw")
_VERBS = ("find", "paint", "carry", "fix", "wash", "borrow", "sell", "measure", "wrap", "clean", "open", "check")
_PLACES = ("kitchen", "harbour", "station", "garage", "library", "forest", "village", "museum", "hospital",
           "playground", "cellar", "factory", "valley", "theatre", "orchard", "airport")
_TIMES = ("yesterday", "this morning", "last winter", "on Friday", "after lunch", "at midnight", "every evening",
          "before sunrise", "in August", "two weeks ago")
_NUMBERS = ("two", "three", "four", "six", "eight", "eleven", "twelve", "fifteen", "twenty", "forty",
            "ninety", "a hundred")
_FEELINGS = ("surprised", "tired", "delighted", "worried", "curious", "nervous", "proud", "confused")

_TEMPLATES = (
    "{name} {vpast} the {adj} {noun} in the {place} {time}.",
    "Did you {verb} the {adj} {noun} {time}?",
    "{num} {plural} were lying next to the {noun}.",
    "The {noun} in the {place} looks {adj} and {adj2}.",
    "Why did {name} leave the {noun} near the {place}?",
    "{name} was {feeling} when the {noun} finally arrived.",
    "Please {verb} the {noun} before {name} comes home.",
    "We counted {num} {plural} behind the {place} {time}.",
    "My {adj} {noun} is older than the {place} itself.",
    "{time_cap}, {name} and {name2} walked to the {place}.",
    "Nobody knows who {vpast} the {noun} at the {place}.",
    "How many {plural} can you fit inside a {adj} {noun}?",
)


def is_extra_sentence(sid: str) -> bool:
    """True for a generated training sentence (:func:`extra_sentences`, ids from ``s100``, and
    :func:`lexicon_sentences`, ids from ``s1000``)."""
    return int(sid[1:]) >= EXTRA_BASE


def _generated(n: int, base: int, seed: int, draw) -> list[tuple[str, str]]:
    """``n`` distinct sentences ``draw(rng)`` makes from one seeded ``random.Random``, first letter
    capitalised, none of them one of :data:`SENTENCES`, with ids from ``base``."""
    import random

    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    seen = set(SENTENCES)
    while len(out) < n:
        text = draw(rng)
        text = text[0].upper() + text[1:]
        if text not in seen:
            seen.add(text)
            out.append((sentence_id(base + len(out)), text))
    return out


def extra_sentences(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """The first ``n`` generated training sentences as [(id, text)], ids from ``s100``; the
    same ``seed`` gives the same list, and a longer list starts with the shorter one."""
    if n > LEXICON_BASE - EXTRA_BASE:
        raise ValueError(f"at most {LEXICON_BASE - EXTRA_BASE} extra sentences (ids s{EXTRA_BASE}.."
                         f"s{LEXICON_BASE - 1}; lexicon_sentences start at s{LEXICON_BASE}), not {n}")

    def draw(rng) -> str:
        t = rng.choice(_TEMPLATES)
        name, name2 = rng.sample(_NAMES, 2)
        adj, adj2 = rng.sample(_ADJ, 2)
        time_ = rng.choice(_TIMES)
        return t.format(name=name, name2=name2, adj=adj, adj2=adj2, noun=rng.choice(_NOUNS), place=rng.choice(_PLACES),
                        plural=rng.choice(_PLURALS), vpast=rng.choice(_VERBS_PAST), verb=rng.choice(_VERBS),
                        time=time_, time_cap=time_[0].upper() + time_[1:], num=rng.choice(_NUMBERS),
                        feeling=rng.choice(_FEELINGS))

    return _generated(n, EXTRA_BASE, seed, draw)


# --- wide-vocabulary generated sentences (``data.lexicon_sentences``) ---------------------------

LEXICON_BASE = 1000
"""Id of the first :func:`lexicon_sentences` sentence (``s1000``)."""

FESTIVAL_POS_LEXICON = "/usr/share/festival/dicts/wsj.wp39.poslexR"
"""Festival's part-of-speech lexicon (Debian ``festival``): each word with the log-probabilities of
its Penn tags, estimated on the Wall Street Journal corpus."""

# how many of the most probable words of each tag the lexicon grammar draws from
_LEXICON_SLOTS = {"nn": 600, "nns": 400, "jj": 400, "vb": 300, "vbd": 300, "rb": 100}
# left out of the generated sentences: words that are offensive out of context or that voices spell out
_LEXICON_SKIP = frozenset({"incest", "rape", "abortion", "abortions", "murder", "murders", "killed", "kill",
                           "cocaine", "drug", "drugs", "suicide", "sex", "sexual", "gay", "racial", "nazi",
                           "dead", "death", "deaths", "die", "died", "gun", "guns", "crime", "crimes",
                           "weapons", "victims", "prison", "cancer", "blood", "guilty", "criminal", "illegal",
                           "pregnant", "sick", "female", "guy", "jewish", "black", "african", "asian", "indian",
                           "mexican", "korean", "irish", "italian", "spanish", "polish", "panamanian", "british",
                           "french", "german", "soviet", "canadian", "european", "australian", "swiss", "brazilian",
                           "japanese", "chinese", "american", "communist", "republican", "democratic"})

_LEXICON_TEMPLATES = (
    "The {adj} {noun} {vbd} the {noun2} near the {noun3}.",
    "{name} {vbd} {num} {nouns} {time}.",
    "Why did the {nouns} {vb} the {adj} {noun}?",
    "We will {vb} the {noun} and {vb2} the {nouns} {rb}.",
    "{name} said the {noun} was {adj} and {adj2}.",
    "Can you {vb} the {adj} {nouns} before the {noun}?",
    "After the {noun} {vbd}, the {nouns} {vbd2} {rb}.",
    "There were {num} {adj} {nouns} in the {noun}.",
    "Nobody expected the {noun} to {vb} so {rb}.",
    "Their {noun} is more {adj} than our {noun2}.",
    "{time_cap}, the {adj} {nouns} {vbd} the {noun}.",
    "Do the {nouns} really {vb} {rb}, {name}?",
)


def _lexicon_words(path: str) -> dict[str, list[str]]:
    """The grammar's word lists: per tag of :data:`_LEXICON_SLOTS`, the lowercase words whose
    most probable tag it is, most probable first (``rb``: the ``-ly`` adverbs only)."""
    import re

    ranked: dict[str, list[tuple[float, str]]] = {t: [] for t in _LEXICON_SLOTS}
    entry = re.compile(r'\("([a-z]{3,12})" \((.*)\) \(\) \)$')
    tag_prob = re.compile(r"\((\w+) (-?[\d.]+)\)")
    try:
        text = open(path, encoding="latin-1").read()
    except OSError as exc:
        raise RuntimeError(f"{path}: cannot read the part-of-speech lexicon for data.lexicon_sentences "
                           f"(install Debian festival: tools/setup_train.sh): {exc}") from exc
    for line in text.splitlines():
        m = entry.match(line.strip())
        if not m or m.group(1) in _LEXICON_SKIP:
            continue
        tags = [(t, float(p)) for t, p in tag_prob.findall(m.group(2))]
        if not tags:
            continue
        tag, logp = max(tags, key=lambda tp: tp[1])
        if tag in ranked and (tag != "rb" or m.group(1).endswith("ly")):
            ranked[tag].append((logp, m.group(1)))
    words = {t: [w for _, w in sorted(ranked[t], key=lambda pw: (-pw[0], pw[1]))[:k]]
             for t, k in _LEXICON_SLOTS.items()}
    short = [t for t, ws in words.items() if len(ws) < 20]
    if short:
        raise RuntimeError(f"{path}: too few words for the tags {', '.join(short)}: not a festival POS lexicon?")
    return words


def lexicon_sentences(n: int, seed: int = 0, lexicon: str = FESTIVAL_POS_LEXICON) -> list[tuple[str, str]]:
    """The first ``n`` wide-vocabulary training sentences as [(id, text)], ids from ``s1000``.

    A seeded 12-template grammar whose nouns, adjectives, verbs and adverbs are the ~2,100 most
    probable words of their part of speech in festival's POS lexicon (:data:`FESTIVAL_POS_LEXICON`),
    so the text covers far more words, and so more phone contexts, than :func:`extra_sentences`'
    ~200.  Training-only, like those.  The same ``seed`` gives the same list, and a longer list
    starts with the shorter one."""
    if n <= 0:
        return []
    w = _lexicon_words(lexicon)

    def draw(rng) -> str:
        t = rng.choice(_LEXICON_TEMPLATES)
        noun, noun2, noun3 = rng.sample(w["nn"], 3)
        adj, adj2 = rng.sample(w["jj"], 2)
        vb, vb2 = rng.sample(w["vb"], 2)
        vbd, vbd2 = rng.sample(w["vbd"], 2)
        time_ = rng.choice(_TIMES)
        return t.format(name=rng.choice(_NAMES), noun=noun, noun2=noun2, noun3=noun3, nouns=rng.choice(w["nns"]),
                        adj=adj, adj2=adj2, vb=vb, vb2=vb2, vbd=vbd, vbd2=vbd2, rb=rng.choice(w["rb"]),
                        num=rng.choice(_NUMBERS), time=time_, time_cap=time_[0].upper() + time_[1:])

    return _generated(n, LEXICON_BASE, seed, draw)
