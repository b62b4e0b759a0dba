"""The shared sentence list every voice of the corpus reads (a parallel corpus).

60 short, varied English sentences (statements, questions, numbers, names, lists,
long and short), written for this project.  Sentence ``i`` has the id ``s{i:03d}``.
The last ``N_EVAL`` sentences are held out: no training stage sees them, the
evaluation reports use them.
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
    return int(sid[1:]) >= len(SENTENCES) - N_EVAL
