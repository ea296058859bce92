#!/usr/bin/env python3
"""Generate the bundled example tasks of promptsearch.

Writes, next to this script:

    data/review_sentiment/{train,dev,test}.jsonl    fields: review, label
    data/city_extraction/{train,dev,test}.jsonl     fields: sentence, city

Every example is built from hand-written vocabularies and templates below, so
the label (or the city) is correct by construction.  The script uses only the
standard library and a single ``random.Random(0)``; running it again rewrites
byte-identical files.

    python examples/make_examples.py
"""
from __future__ import annotations

import json
import random
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 0
SIZES = {"train": 200, "dev": 120, "test": 150}


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

def conj(text: str, plural: bool) -> str:
    """Fill the agreement slots of a predicate for a singular or plural subject."""
    return text.format(
        was="were" if plural else "was",
        is_="are" if plural else "is",
        has="have" if plural else "has",
        does="do" if plural else "does",
        s="" if plural else "s",
        es="" if plural else "es",
    )


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------------------
# Review sentiment: vocabulary
# ---------------------------------------------------------------------------
# Predicates carry their own verb.  Agreement slots: {was} {is_} {has} {does}
# {s} {es}.  Subjects are (text, plural).  Restaurant and service reviews are
# told in the past tense, product reviews mostly in the present.

S, P = False, True  # singular / plural subject

# Aspects shared by every restaurant kind.
RESTAURANT_ASPECTS = {
    "service": {
        "subjects": [("our server", S), ("the waiter", S), ("the staff", P), ("the bartender", S),
                     ("the waitress", S), ("the host", S), ("the whole team", S)],
        "pos": ["{was} attentive without hovering", "{was} warm and welcoming from the moment we walked in",
                "checked on us at just the right times", "made some great recommendations",
                "{was} friendly and quick", "remembered our names from last time",
                "handled a big group with real patience", "{was} genuinely kind to our kids"],
        "neg": ["{was} rude from the moment we sat down", "ignored us for twenty minutes",
                "forgot half of our order", "{was} dismissive when we asked for water",
                "got our order wrong twice", "rolled their eyes when we asked about allergies",
                "disappeared for most of the evening", "rushed us out before we had finished"],
    },
    "atmosphere": {
        "subjects": [("the atmosphere", S), ("the vibe", S)],
        "pos": ["{was} cozy and relaxed", "made the evening feel special", "{was} charming without trying too hard",
                "{was} calm enough to actually hold a conversation"],
        "neg": ["{was} so loud we couldn't hear each other", "felt like a school cafeteria",
                "{was} cold and lifeless"],
    },
    "room": {
        "subjects": [("the dining room", S), ("the patio", S), ("our table", S)],
        "pos": ["{was} lovely on a warm evening", "{was} spotless and nicely laid out"],
        "neg": ["{was} cramped and stuffy", "{was} sticky and clearly hadn't been cleaned",
                "smelled like old frying oil"],
    },
    "music": {
        "subjects": [("the music", S), ("the playlist", S)],
        "pos": ["{was} just loud enough to set the mood", "{was} a lovely touch"],
        "neg": ["{was} so loud we had to shout", "{was} grating and far too loud"],
    },
    "speed": {
        "subjects": [("our food", S), ("our main course", S), ("the starters", P)],
        "pos": ["came out quickly even though the place was packed", "arrived within fifteen minutes of ordering"],
        "neg": ["came out long after everyone else at the table had eaten",
                "took so long that we nearly walked out", "took over an hour to reach our table"],
    },
    "delivery": {
        "subjects": [("the delivery", S), ("our takeout order", S)],
        "pos": ["showed up earlier than the app promised", "arrived hot and right on time"],
        "neg": ["took over an hour to arrive", "showed up forty minutes late and cold"],
    },
    "value": {
        "subjects": [("the prices", P), ("the bill", S)],
        "pos": ["{was} very fair for the quality", "{was} more reasonable than I expected",
                "{was} honest for a place this good"],
        "neg": ["{was} outrageous for what we got", "{was} far too steep for food this average",
                "{was} a joke for the quality"],
    },
    "portions": {
        "subjects": [("the portions", P), ("the servings", P)],
        "pos": ["{was} generous", "{was} big enough to share", "{was} more than enough for two"],
        "neg": ["{was} tiny for the price", "{was} laughably small", "{was} stingy for what they charge"],
    },
}

FOOD_POS = ["{was} delicious", "{was} perfectly seasoned", "{was} packed with flavor",
            "tasted homemade in the best way", "{was} easily the best I've had in years",
            "{was} generous and full of flavor", "{was} fresh and beautifully presented",
            "{was} so good that we ordered a second round", "{was} full of flavor and not at all greasy"]
FOOD_NEG = ["{was} bland and flavorless", "came out lukewarm", "tasted like it had been microwaved",
            "{was} swimming in grease", "{was} far too salty to finish", "arrived stone cold",
            "{was} clearly not fresh", "gave my partner an upset stomach", "{was} overcooked and bland",
            "tasted like it had been sitting out for hours"]
DESSERT_POS = ["{was} worth saving room for", "{was} rich but not too sweet", "{was} the highlight of the meal"]
DESSERT_NEG = ["{was} stale", "tasted like it came straight from a supermarket freezer", "{was} sickly sweet and dry"]

RESTAURANT_KINDS = {
    "Thai place": {"dishes": [("the pad thai", S), ("the green curry", S), ("the spring rolls", P),
                              ("the drunken noodles", P), ("the massaman curry", S)],
                   "desserts": [("the mango sticky rice", S)]},
    "pizzeria": {"dishes": [("the margherita", S), ("the pizza", S), ("the crust", S), ("the garlic knots", P),
                            ("the calzone", S)],
                 "desserts": [("the tiramisu", S), ("the cannoli", P)]},
    "Korean barbecue place": {"dishes": [("the bulgogi", S), ("the short ribs", P), ("the kimchi pancake", S),
                                         ("the bibimbap", S), ("the fried chicken", S)],
                              "desserts": [("the bingsu", S)]},
    "taco spot": {"dishes": [("the fish tacos", P), ("the carnitas", P), ("the burrito", S),
                             ("the quesadilla", S), ("the enchiladas", P)],
                  "desserts": [("the churros", P)]},
    "diner": {"dishes": [("the pancakes", P), ("the burger", S), ("the fries", P), ("the omelette", S),
                         ("the club sandwich", S)],
              "desserts": [("the apple pie", S), ("the milkshake", S)]},
    "steakhouse": {"dishes": [("the steak", S), ("the ribeye", S), ("the lamb chops", P),
                              ("the mashed potatoes", P), ("the pork chop", S)],
                   "desserts": [("the cheesecake", S), ("the chocolate cake", S)]},
    "noodle shop": {"dishes": [("the ramen", S), ("the dumplings", P), ("the dan dan noodles", P),
                               ("the fried rice", S), ("the pork buns", P)],
                    "desserts": [("the sesame balls", P)]},
    "Indian restaurant": {"dishes": [("the butter chicken", S), ("the lamb biryani", S), ("the naan", S),
                                     ("the samosas", P), ("the chana masala", S)],
                          "desserts": [("the gulab jamun", S), ("the mango lassi", S)]},
    "bakery cafe": {"dishes": [("the croissants", P), ("the quiche", S), ("the avocado toast", S),
                               ("the breakfast sandwich", S), ("the cheese scones", P)],
                    "desserts": [("the lemon tart", S), ("the cinnamon rolls", P)]},
    "seafood restaurant": {"dishes": [("the grilled octopus", S), ("the fish and chips", P), ("the lobster roll", S),
                                      ("the fried calamari", S), ("the seafood paella", S)],
                           "desserts": [("the key lime pie", S)]},
}

RESTAURANT = {
    "tense_be": ("was", "were"),
    "entities": ["this place", "this restaurant", "the {kind}"],
    "contexts": [
        "Tried this {kind} for the first time last Friday.",
        "We came to this {kind} for my sister's birthday dinner.",
        "Ordered takeout from this {kind} on a rainy night.",
        "Finally visited the {kind} everyone at work keeps talking about.",
        "Stopped by this {kind} for a quick lunch between meetings.",
        "Took my parents to this {kind} on Sunday.",
        "Booked a table at this {kind} for our anniversary.",
        "Walked into this {kind} after a long day of sightseeing.",
    ],
    "verdict_pos": ["We'll definitely be back.", "Already planning our next visit.", "Highly recommend this place.",
                    "Easily one of my favorite spots now.", "Can't wait to go back.", "Five stars from our table.",
                    "Worth every penny."],
    "verdict_neg": ["Never again.", "We won't be back.", "Save your money and eat somewhere else.",
                    "Not going back.", "One star, and that's generous.", "Very disappointing evening overall."],
    "tail_pos": ["so we'll definitely be back", "and I'd happily go back tomorrow", "so it's still a firm yes from me"],
    "tail_neg": ["never again", "so we won't be back", "and I won't be going back",
                 "so I can't recommend it"],
    "minor_neg": ["parking nearby was a pain", "the wait for a table was a bit long",
                  "it got pretty noisy around eight", "the menu is a little small",
                  "it's not the cheapest place in town", "the chairs are a bit hard",
                  "they were out of the special by the time we ordered"],
    "minor_pos": ["the decor was cute", "the bread basket was nice", "the location is convenient",
                  "the cocktails looked pretty", "the menu sounded promising", "the host was polite enough"],
}

# Product categories: names and specific aspects; generic aspects are shared.
PRODUCT_GENERIC = {
    "build": {
        "subjects": [("the build quality", S), ("the finish", S)],
        "pos": ["{is_} excellent for the price", "feel{s} premium and sturdy"],
        "neg": ["feel{s} cheap and flimsy", "{is_} far worse than the photos suggest"],
    },
    "price": {
        "subjects": [("the price", S)],
        "pos": ["{is_} hard to beat", "{is_} more than fair for what you get", "{is_} a steal"],
        "neg": ["{is_} a joke for something this cheaply made", "{is_} way too high for what you get"],
    },
    "shipping": {
        "subjects": [("the package", S), ("my order", S)],
        "pos": ["arrived two days early", "arrived quickly and well packed"],
        "neg": ["took three weeks to arrive", "arrived with a crushed box and missing parts",
                "showed up a week late"],
    },
    "support": {
        "subjects": [("customer support", S), ("the seller", S), ("the manufacturer", S)],
        "pos": ["replaced a faulty part without any fuss", "answered my question within an hour",
                "{was} friendly and genuinely helpful"],
        "neg": ["never answered my emails", "{was} useless and kept sending scripted replies",
                "refused to honor the warranty"],
    },
    "setup": {
        "subjects": [("setup", S), ("assembly", S)],
        "pos": ["took about five minutes", "{was} painless"],
        "neg": ["took an entire afternoon", "{was} a nightmare from start to finish"],
    },
    "manual": {
        "subjects": [("the instructions", P), ("the manual", S)],
        "pos": ["{is_} clear and simple", "{is_} easy to follow"],
        "neg": ["{is_} confusing and missing steps", "{is_} badly translated and useless"],
    },
}

PRODUCTS = {
    "headphones": {
        "names": [("these headphones", P), ("these earbuds", P), ("this headset", S)],
        "aspects": {
            "sound": {"subjects": [("the sound", S), ("the bass", S), ("the audio", S)],
                      "pos": ["{is_} crisp and clear", "{is_} far better than I expected at this price",
                              "{is_} rich without being muddy"],
                      "neg": ["{is_} tinny and flat", "crackle{s} at anything above half volume",
                              "{is_} muffled no matter which settings I try"]},
            "anc": {"subjects": [("the noise cancelling", S)],
                    "pos": ["block{s} out an entire train carriage", "work{s} remarkably well on flights"],
                    "neg": ["barely make{s} a difference", "let{s} every bit of traffic noise through"]},
            "battery": {"subjects": [("the battery", S), ("the battery life", S)],
                        "pos": ["easily last{s} a full week of commuting", "{is_} excellent"],
                        "neg": ["die{s} after barely two hours", "drain{s} even when switched off"]},
            "comfort": {"subjects": [("the ear cushions", P), ("the headband", S)],
                        "pos": ["{is_} comfortable even after a long day", "{is_} soft and light"],
                        "neg": ["{is_} stiff and start{s} to hurt after twenty minutes",
                                "{is_} so tight it gives me a headache"]},
        },
    },
    "blender": {
        "names": [("this blender", S), ("the blender", S)],
        "aspects": {
            "motor": {"subjects": [("the motor", S)],
                      "pos": ["{is_} powerful enough to crush ice in seconds", "handle{s} frozen fruit easily"],
                      "neg": ["{is_} loud and struggles with frozen fruit", "started smoking the third time I used it"]},
            "jar": {"subjects": [("the jar", S), ("the lid", S)],
                    "pos": ["{is_} easy to clean", "seal{s} tightly"],
                    "neg": ["started leaking after a week", "crack{s} if you so much as look at it"]},
            "smoothies": {"subjects": [("my smoothies", P)],
                          "pos": ["come out silky smooth", "{is_} perfectly smooth every morning"],
                          "neg": ["still have chunks of ice in them", "come out gritty no matter how long I blend"]},
        },
    },
    "laptop": {
        "names": [("this laptop", S), ("the laptop", S)],
        "aspects": {
            "screen": {"subjects": [("the screen", S), ("the display", S)],
                       "pos": ["{is_} bright and sharp", "{is_} gorgeous for photo editing"],
                       "neg": ["{is_} dim and washed out", "developed a dead line of pixels in a week"]},
            "keyboard": {"subjects": [("the keyboard", S), ("the trackpad", S)],
                         "pos": ["{is_} comfortable to use for hours", "feel{s} precise and responsive"],
                         "neg": ["{is_} flimsy and unreliable", "stopped responding after the first update"]},
            "battery": {"subjects": [("the battery", S)],
                        "pos": ["get{s} me through a full workday", "last{s} longer than advertised"],
                        "neg": ["barely last{s} three hours", "drop{s} from full to empty during one meeting"]},
            "performance": {"subjects": [("performance", S)],
                            "pos": ["{is_} snappy even with dozens of tabs open"],
                            "neg": ["{is_} sluggish even when opening a browser"]},
            "fan": {"subjects": [("the fan", S)],
                    "pos": ["{is_} whisper quiet", "rarely even switch{es} on"],
                    "neg": ["{is_} loud enough to annoy everyone nearby", "whine{s} constantly"]},
        },
    },
    "running shoes": {
        "names": [("these running shoes", P), ("these trail shoes", P), ("these sneakers", P)],
        "aspects": {
            "fit": {"subjects": [("the fit", S), ("the sizing", S)],
                    "pos": ["{is_} perfect right out of the box", "{is_} spot on"],
                    "neg": ["{is_} way too narrow", "{is_} at least a size off"]},
            "soles": {"subjects": [("the soles", P), ("the tread", S)],
                      "pos": ["{has} great grip on wet pavement", "{has} held up for hundreds of miles"],
                      "neg": ["started peeling off after a month", "{is_} slippery on anything damp"]},
            "cushioning": {"subjects": [("the cushioning", S), ("the arch support", S)],
                           "pos": ["{is_} springy and supportive on long runs"],
                           "neg": ["{is_} flat and gives my knees no support"]},
            "upper": {"subjects": [("the upper", S), ("the mesh", S)],
                      "pos": ["{is_} tough and breathable", "{has} survived three hundred miles without a tear"],
                      "neg": ["tore after two weeks", "{is_} already coming apart at the toe"]},
        },
    },
    "robot vacuum": {
        "names": [("this robot vacuum", S), ("this vacuum", S)],
        "aspects": {
            "suction": {"subjects": [("the suction", S)],
                        "pos": ["{is_} impressive, even on thick carpet", "pick{s} up every bit of dog hair"],
                        "neg": ["{is_} weak and barely picks up crumbs", "can't handle even a thin rug"]},
            "app": {"subjects": [("the app", S)],
                    "pos": ["{is_} simple and reliable"], "neg": ["{is_} buggy and keeps disconnecting"]},
            "robot": {"subjects": [("the robot", S)],
                      "pos": ["map{s} the whole flat without getting stuck"],
                      "neg": ["get{s} stuck under the sofa every single day"]},
            "noise": {"subjects": [("the noise level", S)],
                      "pos": ["{is_} low enough to run during calls"],
                      "neg": ["{is_} unbearable, like a jet taking off"]},
        },
    },
    "coffee maker": {
        "names": [("this coffee maker", S), ("this espresso machine", S)],
        "aspects": {
            "taste": {"subjects": [("the coffee", S), ("the espresso", S)],
                      "pos": ["taste{s} rich and smooth", "{is_} as good as my favorite cafe's"],
                      "neg": ["taste{s} burnt and bitter", "come{s} out lukewarm and watery"]},
            "parts": {"subjects": [("the water tank", S), ("the milk frother", S)],
                      "pos": ["{is_} easy to remove and clean", "work{s} perfectly every time"],
                      "neg": ["leak{s} all over the counter", "stopped working after a month"]},
        },
    },
    "office chair": {
        "names": [("this office chair", S), ("this desk chair", S)],
        "aspects": {
            "seat": {"subjects": [("the seat", S), ("the cushion", S)],
                     "pos": ["{is_} comfortable through long workdays"], "neg": ["{is_} rock hard after an hour"]},
            "lumbar": {"subjects": [("the lumbar support", S)],
                       "pos": ["{has} fixed my back pain"], "neg": ["{does} nothing for my lower back"]},
            "armrests": {"subjects": [("the armrests", P)],
                         "pos": ["{is_} easy to adjust"], "neg": ["{is_} wobbly and impossible to adjust"]},
            "wheels": {"subjects": [("the wheels", P), ("the casters", P)],
                       "pos": ["glide{s} quietly on hardwood"], "neg": ["squeak{s} with every move"]},
            "lever": {"subjects": [("the height lever", S), ("the gas lift", S)],
                      "pos": ["work{s} smoothly"], "neg": ["stopped holding its height within a week"]},
        },
    },
    "air fryer": {
        "names": [("this air fryer", S), ("the air fryer", S)],
        "aspects": {
            "cooking": {"subjects": [("the fries", P), ("the chicken wings", P), ("everything I cook", S)],
                        "pos": ["come{s} out crispy every time", "{is_} perfectly golden in fifteen minutes"],
                        "neg": ["come{s} out soggy and unevenly cooked", "burn{s} on the outside and stay{s} raw inside"]},
            "basket": {"subjects": [("the basket", S), ("the nonstick coating", S)],
                       "pos": ["{is_} a breeze to clean", "{has} held up beautifully"],
                       "neg": ["started flaking after a few weeks", "{is_} impossible to scrub clean"]},
        },
    },
    "smartwatch": {
        "names": [("this smartwatch", S), ("this fitness tracker", S)],
        "aspects": {
            "sensors": {"subjects": [("the step counter", S), ("the heart rate sensor", S), ("the sleep tracking", S)],
                        "pos": ["{is_} accurate and consistent"], "neg": ["{is_} wildly inaccurate"]},
            "gps": {"subjects": [("the GPS", S)],
                    "pos": ["lock{s} on within seconds"], "neg": ["lose{s} signal constantly"]},
            "battery": {"subjects": [("the battery", S)],
                        "pos": ["last{s} nearly ten days", "charge{s} in under an hour"],
                        "neg": ["barely make{s} it through a day", "die{s} overnight even with tracking off"]},
            "strap": {"subjects": [("the strap", S), ("the band", S)],
                      "pos": ["{is_} comfortable enough to sleep in"], "neg": ["gave me a rash within a week"]},
            "screen": {"subjects": [("the screen", S), ("the display", S)],
                       "pos": ["{is_} easy to read in bright sun"], "neg": ["scratched on the first day"]},
        },
    },
    "backpack": {
        "names": [("this backpack", S), ("this travel backpack", S)],
        "aspects": {
            "space": {"subjects": [("the main compartment", S), ("the pockets", P)],
                      "pos": ["{is_} roomy and smartly laid out"],
                      "neg": ["{is_} much smaller than the photos suggest"]},
            "straps": {"subjects": [("the straps", P), ("the shoulder straps", P)],
                       "pos": ["{is_} padded and comfortable on long walks"], "neg": ["dig into my shoulders"]},
            "zippers": {"subjects": [("the zippers", P), ("the main zipper", S)],
                        "pos": ["{is_} sturdy and glide{s} smoothly"], "neg": ["broke on the first trip"]},
            "weather": {"subjects": [("the fabric", S)],
                        "pos": ["kept everything dry in a downpour"], "neg": ["soaked through in light rain"]},
        },
    },
    "desk lamp": {
        "names": [("this desk lamp", S), ("this lamp", S)],
        "aspects": {
            "light": {"subjects": [("the light", S)],
                      "pos": ["{is_} warm and easy on the eyes", "{is_} bright enough for the whole desk"],
                      "neg": ["flicker{s} constantly", "{is_} harsh and gives me a headache"]},
            "dimmer": {"subjects": [("the dimmer", S), ("the touch control", S)],
                       "pos": ["work{s} smoothly across every level"], "neg": ["stopped working after a week"]},
            "arm": {"subjects": [("the arm", S), ("the hinge", S)],
                    "pos": ["stay{s} exactly where I put it"], "neg": ["droop{s} within minutes"]},
            "base": {"subjects": [("the base", S)],
                     "pos": ["{is_} heavy and stable"], "neg": ["{is_} so light the lamp tips over"]},
        },
    },
}

PRODUCT = {
    "tense_be": ("is", "are"),
    "contexts": [
        "Bought {name} for my daughter's birthday.",
        "I've been using {name} every day for about two months now.",
        "Got {name} on sale last week.",
        "Replaced my old {cat} with {one} in the spring.",
        "Ordered {name} after reading a lot of reviews.",
        "My partner picked out {name} for our new flat.",
        "Picked up {name} as a gift for myself.",
        "Switched to {name} from a cheaper brand.",
    ],
    "verdict_pos": ["Would buy again.", "Worth every penny.", "Highly recommend.", "Best purchase I've made this year.",
                    "I've already ordered a second one as a gift.", "Five stars.", "Very happy with it."],
    "verdict_neg": ["Returning it.", "Total waste of money.", "Would not recommend.", "Save your money.",
                    "I want a refund.", "One star.", "Going straight back in the box."],
    "tail_pos": ["so I'd buy it again", "and I'm very happy with it", "so it's five stars from me"],
    "tail_neg": ["so it's going back", "what a waste of money", "and I regret buying it",
                 "so I can't recommend it"],
    "minor_neg": ["the box was a little dented", "the cable is a bit short",
                  "it's slightly heavier than I expected", "the color is a shade darker than in the photos",
                  "the manual is printed in tiny type", "it took a day longer to arrive than promised"],
    "minor_pos": ["it looks nice on the shelf", "the packaging was lovely", "the color is nice",
                  "it arrived on time", "the design is sleek"],
}

SERVICE_GENERIC = {
    "staff": {
        "subjects": [("the staff", P), ("the receptionist", S), ("the manager", S), ("everyone we dealt with", S)],
        "pos": ["{was} friendly and professional", "went out of their way to help",
                "{was} patient with all of my questions", "treated us like regulars"],
        "neg": ["{was} rude and impatient", "couldn't be bothered to look up from their phones",
                "brushed off every question we asked", "argued with us instead of helping"],
    },
    "price": {
        "subjects": [("the price", S), ("the final bill", S)],
        "pos": ["{was} exactly what they quoted", "{was} fair and clearly explained", "{was} lower than I expected"],
        "neg": ["{was} nearly double the quote", "{was} padded with fees nobody mentioned",
                "{was} way over the top for such sloppy work"],
    },
    "booking": {
        "subjects": [("booking", S), ("scheduling", S)],
        "pos": ["{was} quick and easy", "took two minutes online", "{was} refreshingly simple"],
        "neg": ["{was} a nightmare", "took a week of phone calls", "{was} nearly impossible"],
    },
}

SERVICES = {
    "hotel": {
        "entity": "this hotel",
        "contexts": ["Stayed here for three nights on a work trip.", "We booked this hotel for our anniversary weekend.",
                     "Spent a week at this hotel with the kids.", "Checked in late after a long flight."],
        "aspects": {
            "room": {"subjects": [("the room", S), ("the bathroom", S), ("our suite", S)],
                     "pos": ["{was} spotless and quiet", "{was} bigger than the photos suggested",
                             "{was} bright, clean and beautifully kept"],
                     "neg": ["{was} dirty and smelled of smoke", "{was} tiny and hadn't been cleaned properly",
                             "had mold on the ceiling"]},
            "bed": {"subjects": [("the bed", S), ("the mattress", S)],
                    "pos": ["{was} incredibly comfortable", "{was} like sleeping on a cloud"],
                    "neg": ["{was} lumpy and creaked all night", "{was} so saggy my back still hurts"]},
            "breakfast": {"subjects": [("the breakfast", S), ("the breakfast buffet", S)],
                          "pos": ["{was} fresh with plenty of choice", "{was} a great start to every day"],
                          "neg": ["{was} stale and ran out by eight", "{was} sad and overpriced"]},
        },
        "minor_neg": ["the elevator was slow", "the wifi was patchy in the evenings", "parking cost extra"],
        "minor_pos": ["the lobby looked nice", "the location is central", "the view was pretty"],
    },
    "plumber": {
        "entity": "this plumbing company",
        "contexts": ["Called this plumber about a burst pipe on a Sunday.", "Had them replace our water heater last month.",
                     "We needed a leaking sink fixed before guests arrived."],
        "aspects": {
            "work": {"subjects": [("the plumber", S), ("the technician", S)],
                     "pos": ["fixed the leak in under an hour", "explained the problem clearly and cleaned up afterwards",
                             "arrived on time and did tidy work"],
                     "neg": ["left a mess and the leak came back the next day", "showed up three hours late",
                             "made the problem worse and then left"]},
        },
        "minor_neg": ["they arrived about ten minutes late", "it took a couple of days to get an appointment"],
        "minor_pos": ["the receptionist was polite", "their van was easy to spot"],
    },
    "auto repair shop": {
        "entity": "this garage",
        "contexts": ["Brought my car in for a strange rattling noise.", "Took the van here for its annual service.",
                     "My brakes were squealing so I tried this shop."],
        "aspects": {
            "work": {"subjects": [("the mechanic", S), ("the shop", S)],
                     "pos": ["explained every repair before doing it", "had my car back the same afternoon",
                             "found the real problem after two other garages failed"],
                     "neg": ["charged me for parts they never replaced", "kept my car for two weeks with no updates",
                             "returned the car with a new scratch on the door"]},
            "car": {"subjects": [("the car", S), ("my car", S)],
                    "pos": ["runs better than it has in years", "drives like new again"],
                    "neg": ["broke down again three days later", "still makes the same noise, only louder"]},
        },
        "minor_neg": ["the waiting room was a little cramped", "it cost a bit more than I'd hoped"],
        "minor_pos": ["the waiting room had decent coffee", "they were open on Saturday"],
    },
    "hair salon": {
        "entity": "this salon",
        "contexts": ["Went in for a cut and color before a wedding.", "Tried this salon after my usual stylist moved away.",
                     "Booked a trim here on a friend's advice."],
        "aspects": {
            "stylist": {"subjects": [("my stylist", S), ("the hairdresser", S)],
                        "pos": ["listened carefully and the cut looks great", "{was} talented and easy to talk to"],
                        "neg": ["ignored what I asked for and the cut is uneven", "{was} on the phone the whole time"]},
            "color": {"subjects": [("the color", S), ("the highlights", P)],
                      "pos": ["came out exactly as I hoped", "look{s} natural and bright"],
                      "neg": ["came out brassy and patchy", "faded after two washes"]},
        },
        "minor_neg": ["it ran about fifteen minutes behind schedule", "parking was tricky"],
        "minor_pos": ["the salon itself is pretty", "they offered me a coffee"],
    },
    "moving company": {
        "entity": "this moving company",
        "contexts": ["Hired them to move our two-bedroom flat across town.", "Used this company for an office move.",
                     "We moved in the middle of summer with these guys."],
        "aspects": {
            "movers": {"subjects": [("the movers", P), ("the crew", S)],
                       "pos": ["{was} careful with every box", "{was} fast, polite and organized",
                               "wrapped the furniture better than I would have"],
                       "neg": ["broke a mirror and a lamp and denied it", "showed up half a day late",
                               "dropped my grandmother's dresser down the stairs"]},
        },
        "minor_neg": ["the truck was a little late", "the paperwork was a bit confusing"],
        "minor_pos": ["the truck looked new", "the sales rep was friendly on the phone"],
    },
    "airline": {
        "entity": "this airline",
        "contexts": ["Flew with them to visit family over the holidays.", "Booked a last-minute return flight for work.",
                     "Took a long-haul flight with this airline in May."],
        "aspects": {
            "flight": {"subjects": [("the flight", S), ("our flight home", S)],
                       "pos": ["left on time and landed early", "{was} smooth from start to finish"],
                       "neg": ["{was} delayed four hours with no explanation", "{was} cancelled with two hours' notice"]},
            "boarding": {"subjects": [("boarding", S), ("check-in", S)],
                         "pos": ["{was} smooth and well organized"], "neg": ["{was} total chaos"]},
            "crew": {"subjects": [("the cabin crew", S), ("the flight attendants", P)],
                     "pos": ["{was} warm and attentive", "went above and beyond for a nervous flyer"],
                     "neg": ["{was} curt and unhelpful", "snapped at a crying child"]},
            "luggage": {"subjects": [("my luggage", S), ("our bags", P)],
                        "pos": ["came off the belt first", "arrived without a scratch"],
                        "neg": ["{was} lost for three days", "came back soaked and torn"]},
        },
        "minor_neg": ["the seats were a little narrow", "the meal was forgettable"],
        "minor_pos": ["the seats were fine", "the snacks were decent"],
    },
    "dental clinic": {
        "entity": "this clinic",
        "contexts": ["Went in for a cleaning and a filling.", "Brought my son here for his first checkup.",
                     "I'm terrified of dentists, so I was nervous about this visit."],
        "aspects": {
            "dentist": {"subjects": [("the dentist", S), ("the hygienist", S)],
                        "pos": ["{was} gentle and patient", "explained everything before starting"],
                        "neg": ["rushed through the cleaning and it hurt", "{was} cold and dismissive"]},
        },
        "minor_neg": ["the waiting room was a bit crowded", "I had to wait twenty minutes past my appointment"],
        "minor_pos": ["the waiting room was modern", "the reminder texts were handy"],
    },
    "internet provider": {
        "entity": "this provider",
        "contexts": ["Switched to this provider when we moved in March.", "We've had their fiber plan for about a year.",
                     "Signed up for their home internet last autumn."],
        "aspects": {
            "connection": {"subjects": [("the connection", S), ("the wifi", S)],
                           "pos": ["{has} been fast and stable since day one", "{is_} exactly as fast as advertised"],
                           "neg": ["drop{s} several times a day", "{is_} nowhere near the speed they advertised"]},
            "tech": {"subjects": [("the technician", S), ("the installer", S)],
                     "pos": ["had everything running in half an hour"],
                     "neg": ["never showed up for two scheduled appointments"]},
        },
        "minor_neg": ["the router is a bit ugly", "installation took a week to schedule"],
        "minor_pos": ["the router looks sleek", "the first month was free"],
    },
    "gym": {
        "entity": "this gym",
        "contexts": ["Joined this gym in January like everyone else.", "I've been a member here for six months.",
                     "Signed up after a free trial week."],
        "aspects": {
            "equipment": {"subjects": [("the equipment", S), ("the machines", P)],
                          "pos": ["{is_} modern and well maintained", "{is_} always available, even at peak hours"],
                          "neg": ["{is_} old and badly maintained", "{is_} never available after five"]},
            "lockers": {"subjects": [("the locker rooms", P), ("the showers", P)],
                        "pos": ["are always spotless"], "neg": ["are filthy and smell of mildew"]},
            "trainers": {"subjects": [("the trainers", P), ("the instructors", P)],
                         "pos": ["are encouraging and know their stuff"],
                         "neg": ["are more interested in selling supplements than helping"]},
        },
        "minor_neg": ["it gets crowded around six", "the music is a bit loud"],
        "minor_pos": ["the building looks nice", "it's close to my office"],
    },
    "cleaning service": {
        "entity": "this cleaning service",
        "contexts": ["Booked a deep clean before moving out of our flat.", "We've used them every other week since spring.",
                     "Hired them after a renovation left dust everywhere."],
        "aspects": {
            "cleaners": {"subjects": [("the cleaners", P), ("the team", S)],
                         "pos": ["{was} thorough, even behind the fridge", "left the place sparkling"],
                         "neg": ["skipped the bathrooms entirely", "left streaks on every window"]},
        },
        "minor_neg": ["they came an hour later than booked", "the online form was clunky"],
        "minor_pos": ["they were polite", "their website was easy to use"],
    },
}

SERVICE = {
    "tense_be": ("was", "were"),
    "verdict_pos": ["Highly recommend.", "Five stars.", "Great experience overall.", "I wouldn't hesitate to book them again.",
                    "Can't recommend them enough.", "Really impressed."],
    "verdict_neg": ["Never again.", "Avoid.", "One star, and that's generous.", "Terrible experience overall.",
                    "I'll be taking my business elsewhere.", "Stay away."],
    "tail_pos": ["so I'll gladly book them again", "and I'd recommend them to anyone", "so they've earned my loyalty"],
    "tail_neg": ["never again", "so I'm taking my business elsewhere", "and I'd warn anyone away"],
}

OPENERS_POS = ["What a great find!", "Pleasantly surprised.", "Really impressed.", "So glad we tried it.",
               "Exceeded my expectations."]
OPENERS_NEG = ["What a letdown.", "Deeply disappointing.", "Not impressed.", "I really regret this.",
               "Big mistake."]


# ---------------------------------------------------------------------------
# Review sentiment: generator
# ---------------------------------------------------------------------------

class Scene:
    """One concrete thing being reviewed: its aspects, contexts and verdicts."""

    def __init__(self, rng: random.Random):
        domain = rng.choice(["restaurant", "restaurant", "product", "product", "service", "service"])
        self.rng = rng
        if domain == "restaurant":
            kind = rng.choice(sorted(RESTAURANT_KINDS))
            spec = RESTAURANT_KINDS[kind]
            aspects = dict(RESTAURANT_ASPECTS)
            aspects["food"] = {"subjects": spec["dishes"], "pos": FOOD_POS, "neg": FOOD_NEG}
            aspects["food2"] = aspects["food"]  # food is mentioned most often
            aspects["dessert"] = {"subjects": spec["desserts"], "pos": DESSERT_POS, "neg": DESSERT_NEG}
            self.aspects = aspects
            self.things = {"food": spec["dishes"], "food2": spec["dishes"], "dessert": spec["desserts"]}
            self.contexts = [c.format(kind=kind) for c in RESTAURANT["contexts"]]
            self.entities = [e.format(kind=kind) for e in RESTAURANT["entities"]]
            base = RESTAURANT
            self.minor_neg, self.minor_pos = base["minor_neg"], base["minor_pos"]
        elif domain == "product":
            cat = rng.choice(sorted(PRODUCTS))
            spec = PRODUCTS[cat]
            name, plural = rng.choice(spec["names"])
            aspects = dict(PRODUCT_GENERIC)
            for key, val in spec["aspects"].items():
                aspects["p_" + key] = val
                aspects["p2_" + key] = val  # weight product-specific aspects up
            self.aspects = aspects
            self.things = {"product": [(name, plural)]}
            self.things.update({"p_" + k: v["subjects"] for k, v in spec["aspects"].items()})
            one = "these" if plural else "this one"
            self.contexts = [c.format(name=name, cat=cat, one=one) for c in PRODUCT["contexts"]]
            self.entities = [name]
            base = PRODUCT
            self.minor_neg, self.minor_pos = base["minor_neg"], base["minor_pos"]
        else:
            cat = rng.choice(sorted(SERVICES))
            spec = SERVICES[cat]
            aspects = dict(SERVICE_GENERIC)
            for key, val in spec["aspects"].items():
                aspects["s_" + key] = val
                aspects["s2_" + key] = val
            self.aspects = aspects
            self.things = {"s_" + k: v["subjects"] for k, v in spec["aspects"].items()}
            self.contexts = list(spec["contexts"])
            self.entities = [spec["entity"]]
            base = SERVICE
            self.minor_neg, self.minor_pos = spec["minor_neg"], spec["minor_pos"]
        self.base = base
        self.be = base["tense_be"]

    def clause(self, polarity: str, used: set[str]) -> str:
        """A full clause 'subject predicate' of the given polarity, on an aspect not yet used."""
        keys = [k for k in sorted(self.aspects) if canon(k) not in used]
        key = self.rng.choice(keys)
        used.add(canon(key))
        spec = self.aspects[key]
        subj, plural = self.rng.choice(spec["subjects"])
        return f"{subj} {conj(self.rng.choice(spec[polarity]), plural)}"

    def subject(self, used: set[str]) -> tuple[str, str]:
        """A concrete thing to talk about (a dish, the product, the room...) and its form of 'to be'."""
        keys = [k for k in sorted(self.things) if canon(k) not in used]
        key = self.rng.choice(keys)
        used.add(canon(key))
        subj, plural = self.rng.choice(self.things[key])
        return subj, (self.be[1] if plural else self.be[0])


def canon(key: str) -> str:
    return key.replace("2", "")


def review_plain(sc: Scene, pol: str) -> str:
    rng, used = sc.rng, set()
    verdicts = sc.base["verdict_" + pol]
    openers = OPENERS_POS if pol == "pos" else OPENERS_NEG
    c1 = sc.clause(pol, used)
    form = rng.randrange(7)
    if form == 0:
        return f"{rng.choice(sc.contexts)} {cap(c1)}. {rng.choice(verdicts)}"
    if form == 1:
        c2 = sc.clause(pol, used)
        return f"{cap(c1)}, and {c2}."
    if form == 2:
        c2, c3 = sc.clause(pol, used), sc.clause(pol, used)
        return f"{cap(c1)}, {c2}, and {c3}. {rng.choice(verdicts)}"
    if form == 3:
        return f"{rng.choice(openers)} {cap(c1)}."
    if form == 4:
        c2 = sc.clause(pol, used)
        return f"{rng.choice(sc.contexts)} {cap(c1)}, and {c2}."
    if form == 5:
        c2 = sc.clause(pol, used)
        return f"{cap(c1)}. {cap(c2)}. {rng.choice(verdicts)}"
    return f"{rng.choice(openers)} {cap(c1)}. {rng.choice(verdicts)}"


def review_negation(sc: Scene, pol: str) -> str:
    """Positive reviews phrased with negation, or negative ones that negate praise."""
    rng, used = sc.rng, set()
    ent = rng.choice(sc.entities)
    subj, be = sc.subject(used)
    neg_be = {"was": "wasn't", "were": "weren't", "is": "isn't", "are": "aren't"}[be]
    if pol == "pos":
        c2 = sc.clause("pos", used)
        forms = [
            f"{cap(subj)} {be} not bad at all, and {c2}.",
            f"Honestly, {subj} {be} not bad at all. {rng.choice(sc.base['verdict_pos'])}",
            f"I have zero complaints about {subj}, and {c2}.",
            f"I can't say a single bad word about {ent}. {cap(c2)}.",
            f"I didn't expect much from {ent}, but {c2}. {rng.choice(sc.base['verdict_pos'])}",
            f"Not a single problem with {subj}, and {c2}.",
            f"Nothing about {ent} disappointed me. {cap(c2)}.",
            f"I was nervous after reading some older reviews, but I wasn't disappointed at all: {c2}.",
            f"{cap(subj)} {neg_be} perfect, but it didn't matter, because {c2}. {rng.choice(sc.base['verdict_pos'])}",
            f"No regrets whatsoever. {cap(c2)}, and I wouldn't change a thing.",
            f"Can't complain about {subj} at all, and {c2}.",
        ]
    else:
        c2 = sc.clause("neg", used)
        forms = [
            f"{cap(subj)} {be} not good, and {c2}.",
            f"{cap(subj)} {neg_be} worth the money, and {c2}. {rng.choice(sc.base['verdict_neg'])}",
            f"I really wanted to like {ent}, but {c2}.",
            f"I wouldn't call {subj} good by any stretch, and {c2}.",
            f"Nothing about {ent} was worth recommending. {cap(c2)}.",
            f"{cap(subj)} {neg_be} even close to what was advertised, and {c2}.",
            f"I can't say I enjoyed any of it. {cap(c2)}. {rng.choice(sc.base['verdict_neg'])}",
            f"Not once did I feel {ent} was worth it. {cap(c2)}.",
            f"{cap(subj)} {be} not great, and to make matters worse {c2}.",
            f"I didn't enjoy a single thing about {ent}. {cap(c2)}.",
            f"{cap(subj)} {be} nowhere near as good as people say, and {c2}.",
        ]
    return rng.choice(forms)


def review_mixed(sc: Scene, pol: str) -> str:
    """Reviews with both praise and criticism whose overall verdict is still clear."""
    rng, used = sc.rng, set()
    base = sc.base
    if pol == "pos":
        minor = rng.choice(sc.minor_neg)
        c1 = sc.clause("pos", used)
        c2 = sc.clause("pos", used)
        forms = [
            f"{cap(minor)}, but {c1}. {rng.choice(base['verdict_pos'])}",
            f"{cap(c1)}, even if {minor}. {rng.choice(base['verdict_pos'])}",
            f"{cap(minor)}, but honestly that's my only complaint. {cap(c1)}, and {c2}.",
            f"{cap(minor)}, but {c1}, {rng.choice(base['tail_pos'])}.",
            f"Sure, {minor}. Still, {c1}, and {c2}.",
            f"{cap(c1)}. {cap(minor)}, but that's a small price to pay. {rng.choice(base['verdict_pos'])}",
        ]
    else:
        praise = sc.clause("pos", used)
        minor = rng.choice(sc.minor_pos)
        c1 = sc.clause("neg", used)
        c2 = sc.clause("neg", used)
        forms = [
            f"{cap(praise)}, but {c1}. {rng.choice(base['verdict_neg'])}",
            f"{cap(praise)} but {c1}, {rng.choice(base['tail_neg'])}.",
            f"{cap(minor)}, but that's where the good news ends: {c1} and {c2}.",
            f"{cap(c1)}. {cap(minor)}, but that hardly makes up for it. {rng.choice(base['verdict_neg'])}",
            f"{cap(praise)}, I'll give them that, but {c1} and {c2}.",
            f"Yes, {minor}, but {c1}, {rng.choice(base['tail_neg'])}.",
        ]
    return rng.choice(forms)


SENT_END = re.compile(r"[.!?](?=\s|$)")


def make_review(rng: random.Random, pol: str) -> str:
    while True:
        sc = Scene(rng)
        roll = rng.random()
        if roll < 0.5:
            text = review_plain(sc, pol)
        elif roll < 0.72:
            text = review_negation(sc, pol)
        else:
            text = review_mixed(sc, pol)
        text = re.sub(r"\s+", " ", text).strip()
        n_words = len(text.split())
        n_sents = len(SENT_END.findall(text))
        if 8 <= n_words <= 40 and 1 <= n_sents <= 3:
            return text


def build_reviews(rng: random.Random) -> dict[str, list[dict]]:
    seen: set[str] = set()
    splits: dict[str, list[dict]] = {}
    for split, size in SIZES.items():
        rows = []
        for pol, label in (("neg", "negative"), ("pos", "positive")):
            count = 0
            while count < size // 2:
                text = make_review(rng, pol)
                key = text.lower()
                if key in seen:
                    continue
                seen.add(key)
                rows.append({"review": text, "label": label})
                count += 1
        rng.shuffle(rows)
        splits[split] = rows
    return splits


# ---------------------------------------------------------------------------
# City extraction: vocabulary
# ---------------------------------------------------------------------------
# (city, country).  Country is None where naming one would be awkward.  Cities
# whose names are ordinary English words (Nice, Split, Bath, Reading, Mobile)
# or that coincide with a country or a common first name are left out.

CITIES = [
    # North America
    ("New York", "the United States"), ("Los Angeles", "the United States"), ("San Francisco", "the United States"),
    ("Chicago", "the United States"), ("Boston", "the United States"), ("Seattle", "the United States"),
    ("Portland", "the United States"), ("Denver", "the United States"), ("Philadelphia", "the United States"),
    ("Atlanta", "the United States"), ("Miami", "the United States"), ("Dallas", "the United States"),
    ("Phoenix", "the United States"), ("Detroit", "the United States"), ("Minneapolis", "the United States"),
    ("Nashville", "the United States"), ("Pittsburgh", "the United States"), ("Baltimore", "the United States"),
    ("Cleveland", "the United States"), ("Honolulu", "the United States"), ("Anchorage", "the United States"),
    ("Albuquerque", "the United States"), ("New Orleans", "the United States"), ("Las Vegas", "the United States"),
    ("San Diego", "the United States"), ("Salt Lake City", "the United States"), ("Kansas City", "the United States"),
    ("Oklahoma City", "the United States"), ("St. Louis", "the United States"), ("Sacramento", "the United States"),
    ("Milwaukee", "the United States"), ("Tampa", "the United States"), ("Toronto", "Canada"),
    ("Vancouver", "Canada"), ("Montreal", "Canada"), ("Calgary", "Canada"), ("Ottawa", "Canada"),
    ("Winnipeg", "Canada"), ("Halifax", "Canada"), ("Edmonton", "Canada"), ("Quebec City", "Canada"),
    ("Mexico City", "Mexico"), ("Guadalajara", "Mexico"), ("Monterrey", "Mexico"), ("Oaxaca", "Mexico"),
    ("Havana", "Cuba"), ("Kingston", "Jamaica"), ("San Juan", "Puerto Rico"), ("Santo Domingo", "the Dominican Republic"),
    ("Panama City", "Panama"), ("San José", "Costa Rica"),
    # South America
    ("Bogotá", "Colombia"), ("Medellín", "Colombia"), ("Cartagena", "Colombia"), ("Lima", "Peru"),
    ("Cusco", "Peru"), ("Quito", "Ecuador"), ("Santiago", "Chile"), ("Valparaíso", "Chile"),
    ("Buenos Aires", "Argentina"), ("Córdoba", "Argentina"), ("Mendoza", "Argentina"), ("Montevideo", "Uruguay"),
    ("Asunción", "Paraguay"), ("La Paz", "Bolivia"), ("Caracas", "Venezuela"), ("Rio de Janeiro", "Brazil"),
    ("São Paulo", "Brazil"), ("Brasília", "Brazil"), ("Porto Alegre", "Brazil"), ("Belo Horizonte", "Brazil"),
    ("Recife", "Brazil"), ("Manaus", "Brazil"), ("Fortaleza", "Brazil"),
    # Europe
    ("London", "the United Kingdom"), ("Manchester", "the United Kingdom"), ("Birmingham", "the United Kingdom"),
    ("Liverpool", "the United Kingdom"), ("Glasgow", "Scotland"), ("Edinburgh", "Scotland"),
    ("Bristol", "England"), ("Leeds", "England"), ("Cardiff", "Wales"), ("Belfast", "Northern Ireland"),
    ("Dublin", "Ireland"), ("Galway", "Ireland"), ("Paris", "France"), ("Lyon", "France"), ("Marseille", "France"),
    ("Toulouse", "France"), ("Bordeaux", "France"), ("Lille", "France"), ("Strasbourg", "France"),
    ("Nantes", "France"), ("Brussels", "Belgium"), ("Antwerp", "Belgium"), ("Ghent", "Belgium"),
    ("Amsterdam", "the Netherlands"), ("Rotterdam", "the Netherlands"), ("Utrecht", "the Netherlands"),
    ("The Hague", "the Netherlands"), ("Berlin", "Germany"), ("Hamburg", "Germany"), ("Munich", "Germany"),
    ("Cologne", "Germany"), ("Frankfurt", "Germany"), ("Stuttgart", "Germany"), ("Düsseldorf", "Germany"),
    ("Leipzig", "Germany"), ("Dresden", "Germany"), ("Vienna", "Austria"), ("Salzburg", "Austria"),
    ("Graz", "Austria"), ("Zurich", "Switzerland"), ("Geneva", "Switzerland"), ("Basel", "Switzerland"),
    ("Lausanne", "Switzerland"), ("Milan", "Italy"), ("Rome", "Italy"), ("Naples", "Italy"), ("Turin", "Italy"),
    ("Venice", "Italy"), ("Bologna", "Italy"), ("Palermo", "Italy"), ("Genoa", "Italy"), ("Madrid", "Spain"),
    ("Barcelona", "Spain"), ("Valencia", "Spain"), ("Seville", "Spain"), ("Bilbao", "Spain"), ("Málaga", "Spain"),
    ("Lisbon", "Portugal"), ("Porto", "Portugal"), ("Copenhagen", "Denmark"), ("Aarhus", "Denmark"),
    ("Oslo", "Norway"), ("Bergen", "Norway"), ("Stockholm", "Sweden"), ("Gothenburg", "Sweden"),
    ("Malmö", "Sweden"), ("Helsinki", "Finland"), ("Tampere", "Finland"), ("Reykjavik", "Iceland"),
    ("Tallinn", "Estonia"), ("Riga", "Latvia"), ("Vilnius", "Lithuania"), ("Warsaw", "Poland"),
    ("Kraków", "Poland"), ("Gdańsk", "Poland"), ("Wrocław", "Poland"), ("Prague", "the Czech Republic"),
    ("Brno", "the Czech Republic"), ("Bratislava", "Slovakia"), ("Budapest", "Hungary"), ("Ljubljana", "Slovenia"),
    ("Zagreb", "Croatia"), ("Dubrovnik", "Croatia"), ("Belgrade", "Serbia"), ("Sarajevo", "Bosnia and Herzegovina"),
    ("Bucharest", "Romania"), ("Cluj-Napoca", "Romania"), ("Sofia", "Bulgaria"), ("Athens", "Greece"),
    ("Thessaloniki", "Greece"), ("Istanbul", "Turkey"), ("Ankara", "Turkey"), ("Izmir", "Turkey"),
    ("Kyiv", "Ukraine"), ("Lviv", "Ukraine"), ("Tbilisi", "Georgia"), ("Yerevan", "Armenia"), ("Baku", "Azerbaijan"),
    # Africa
    ("Cairo", "Egypt"), ("Alexandria", "Egypt"), ("Casablanca", "Morocco"), ("Marrakesh", "Morocco"),
    ("Tunis", "Tunisia"), ("Algiers", "Algeria"), ("Lagos", "Nigeria"), ("Abuja", "Nigeria"), ("Accra", "Ghana"),
    ("Dakar", "Senegal"), ("Nairobi", "Kenya"), ("Mombasa", "Kenya"), ("Kampala", "Uganda"), ("Kigali", "Rwanda"),
    ("Addis Ababa", "Ethiopia"), ("Dar es Salaam", "Tanzania"), ("Johannesburg", "South Africa"),
    ("Cape Town", "South Africa"), ("Durban", "South Africa"), ("Luanda", "Angola"), ("Lusaka", "Zambia"),
    ("Harare", "Zimbabwe"), ("Maputo", "Mozambique"), ("Windhoek", "Namibia"), ("Gaborone", "Botswana"),
    ("Antananarivo", "Madagascar"),
    # Middle East, Asia
    ("Dubai", "the United Arab Emirates"), ("Abu Dhabi", "the United Arab Emirates"), ("Doha", "Qatar"),
    ("Riyadh", "Saudi Arabia"), ("Jeddah", "Saudi Arabia"), ("Muscat", "Oman"), ("Amman", "Jordan"),
    ("Beirut", "Lebanon"), ("Tel Aviv", "Israel"), ("Tehran", "Iran"), ("Karachi", "Pakistan"),
    ("Lahore", "Pakistan"), ("Islamabad", "Pakistan"), ("Mumbai", "India"), ("New Delhi", "India"),
    ("Bangalore", "India"), ("Chennai", "India"), ("Kolkata", "India"), ("Hyderabad", "India"), ("Pune", "India"),
    ("Jaipur", "India"), ("Ahmedabad", "India"), ("Dhaka", "Bangladesh"), ("Colombo", "Sri Lanka"),
    ("Kathmandu", "Nepal"), ("Almaty", "Kazakhstan"), ("Tashkent", "Uzbekistan"), ("Ulaanbaatar", "Mongolia"),
    ("Bangkok", "Thailand"), ("Chiang Mai", "Thailand"), ("Hanoi", "Vietnam"), ("Ho Chi Minh City", "Vietnam"),
    ("Da Nang", "Vietnam"), ("Phnom Penh", "Cambodia"), ("Vientiane", "Laos"), ("Yangon", "Myanmar"),
    ("Kuala Lumpur", "Malaysia"), ("Jakarta", "Indonesia"), ("Surabaya", "Indonesia"), ("Bandung", "Indonesia"),
    ("Manila", "the Philippines"), ("Cebu City", "the Philippines"), ("Taipei", "Taiwan"), ("Kaohsiung", "Taiwan"),
    ("Seoul", "South Korea"), ("Busan", "South Korea"), ("Incheon", "South Korea"), ("Tokyo", "Japan"),
    ("Osaka", "Japan"), ("Kyoto", "Japan"), ("Yokohama", "Japan"), ("Sapporo", "Japan"), ("Fukuoka", "Japan"),
    ("Nagoya", "Japan"), ("Beijing", "China"), ("Shanghai", "China"), ("Shenzhen", "China"),
    ("Guangzhou", "China"), ("Chengdu", "China"), ("Hangzhou", "China"), ("Wuhan", "China"), ("Xi'an", "China"),
    ("Hong Kong", None),
    # Oceania
    ("Sydney", "Australia"), ("Melbourne", "Australia"), ("Brisbane", "Australia"), ("Perth", "Australia"),
    ("Adelaide", "Australia"), ("Hobart", "Australia"), ("Auckland", "New Zealand"), ("Wellington", "New Zealand"),
    ("Christchurch", "New Zealand"), ("Suva", "Fiji"),
]

# Countries used as distractors that are not the city's own country.
OTHER_COUNTRIES = [
    "Brazil", "Canada", "Germany", "Japan", "Kenya", "India", "Norway", "Chile", "Vietnam", "Poland", "Morocco",
    "Australia", "Portugal", "South Korea", "Ghana", "Peru", "Finland", "Indonesia", "Turkey", "Ireland",
    "Argentina", "Egypt", "Sweden", "Thailand", "Nigeria", "Colombia", "Austria", "Greece", "Malaysia", "Spain",
    "Italy", "France", "Denmark", "the Netherlands", "Switzerland", "Uruguay", "Estonia", "New Zealand",
]

FIRST_NAMES = [
    "Amara", "Daniel", "Priya", "Kenji", "Lukas", "Fatima", "Mateo", "Ingrid", "Tomasz", "Chloe", "Omar",
    "Aisha", "Diego", "Hannah", "Rafael", "Mei", "Jonas", "Nadia", "Samuel", "Leila", "Marco", "Yuki",
    "Elena", "Kwame", "Grace", "Olivia", "Ravi", "Zara", "Felix", "Hugo", "Ana", "Ethan", "Noor", "Pablo",
    "Ines", "Viktor", "Chiara", "Tariq", "Emma", "Javier", "Keiko", "Sana", "Oskar", "Thandiwe", "Bilal",
    "Astrid", "Mohammed", "Camille", "Tobias", "Lina", "Arjun", "Freya", "Kofi", "Rosa", "Henrik", "Ayesha",
    "Gabriel", "Nia", "Sebastian", "Ji-woo", "Marta", "Ibrahim", "Clara", "Nikolai", "Wanjiru", "Peter",
]
LAST_NAMES = [
    "Okafor", "Nakamura", "Fernández", "Kowalski", "Lindqvist", "Haddad", "Patel", "Nguyen", "Moreau", "Schmidt",
    "Rossi", "Ivanova", "Mensah", "O'Brien", "Kim", "Chen", "Silva", "Novak", "Hansen", "Dubois", "Castillo",
    "Alvarez", "Tanaka", "Kaur", "Sato", "Bianchi", "Romero", "Yilmaz", "Demir", "Rahman", "Okonkwo", "Adeyemi",
    "Petrov", "Horvat", "Jensen", "Eriksson", "Larsen", "Walsh", "Murphy", "Brennan", "Fischer", "Weber",
    "Gallagher", "Iyer", "Reddy", "Mehta", "Ito", "Park", "Wong", "Tran", "Osei", "Banda", "Mwangi", "Suzuki",
    "García", "Moretti", "López", "Achebe", "Virtanen", "Kovács", "Papadopoulos", "Van Dijk", "Nowak",
]
COMPANIES = [
    "Northwind Logistics", "Bluefin Analytics", "Harbor & Pine Consulting", "Greenfield Robotics", "Solara Energy",
    "Quillstone Media", "Vantage Freight", "Larkspur Foods", "Ironbark Capital", "Cobalt Health",
    "Brightpath Software", "Tidewater Shipping", "Keystone Pharmaceuticals", "Summit Biotech", "Orchid Telecom",
    "Pinnacle Retail", "Silverline Air", "Redwood Textiles", "Lumen Payments", "Halcyon Games",
    "Corvid Security", "Fernhill Insurance", "Nimbus Cloud Systems", "Oakridge Motors", "Saltmarsh Breweries",
    "Kestrel Aerospace", "Granite Peak Partners", "Willow Lane Studios", "Arclight Semiconductors", "Marigold Hotels",
]
SECTORS = ["fintech", "renewable energy", "logistics", "biotech", "gaming", "cybersecurity", "agritech",
           "e-commerce", "robotics", "medical devices", "travel", "education technology"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
TIMES = ["6:40 a.m.", "7:15 a.m.", "9:05 a.m.", "11:30 a.m.", "1:20 p.m.", "4:45 p.m.", "10:10 p.m."]

# Slots: {city} {country} (the city's own) {ocountry} (another) {person} {first}
# {company} {sector} {weekday} {month} {day} {time} {country_app} (short form of {country})
# numbers: {h} two-nine (in words), {n} 3-90, {big} 40-300
CITY_TEMPLATES = [
    # travel
    "We spent four rainy days in {city} and still can't wait to go back.",
    "My flight to {city} was delayed by {h} hours, so I missed the opening night of the conference.",
    "{person} recommended a small family-run guesthouse near the old harbor in {city}.",
    "The cheapest train to {city} leaves at {time} on {weekday}.",
    "After two weeks backpacking across {country}, we finally reached {city}.",
    "I'm flying to {city} on {weekday} for my cousin's wedding.",
    "The best street food I've ever had was at a night market in {city}.",
    "Our tour guide in {city}, {person}, seemed to know every shortcut through the old town.",
    "Hotel prices in {city} usually double during {month}.",
    "If you visit {city}, book museum tickets at least a week in advance.",
    "She moved to {city} in {month} and says the rent already eats half her salary.",
    "{city} was the last stop on our three-week trip through {country}.",
    "The ferry was cancelled, so we spent an unplanned night in {city}. It turned out to be the highlight of the trip.",
    "My parents still talk about their honeymoon in {city}.",
    "Is it worth taking the overnight bus to {city}, or should I just fly?",
    "We landed in {city} just after midnight and the taxi queue was already enormous.",
    "{person} and I rented bikes for a day and rode along the river in {city}.",
    "Before flying home to {ocountry}, {first} spent a final weekend in {city}.",
    "The youth hostel in {city} was fully booked, so we ended up on a friend's sofa.",
    "Does anyone know a quiet café in {city} with decent wifi? I have a deadline on {weekday}.",
    # business
    "{company} will open a new regional office in {city} early next year, {person} told reporters.",
    "{company} has moved its headquarters to {city} to be closer to its biggest customers.",
    "{person}, the chief financial officer of {company}, will present the quarterly results in {city} on {weekday}.",
    "The {sector} startup founded by {person} raised {n} million dollars and plans to hire engineers in {city}.",
    "Our sales team will meet the client in {city} on {month} {day}.",
    "{company} is closing its warehouse in {city} and moving the work to a partner in {ocountry}.",
    "The annual {sector} summit returns to {city} this {month}, with {company} as the main sponsor.",
    "Please send the signed contract to our {city} office by the end of the week.",
    "{person} has been appointed head of the {city} branch, replacing a manager who retired in {month}.",
    "Shares of {company} rose after the firm announced a new factory outside {city}.",
    "The interview will take place at our {city} office. Ask for {person} at reception.",
    "Because of the dock strike, the shipment from {city} will arrive {h} days late.",
    "{company} signed a ten-year lease on three floors of offices in central {city}.",
    "{company} opened a research lab in {city}, {country_app}, last spring.",
    "Analysts at {company} expect office rents in {city} to fall again this year.",
    "{person} left {company} after eight years to start a {sector} company in {city}.",
    "Our quarterly offsite is in {city} this time, so please book your travel before {month} {day}.",
    # news
    "Heavy rain flooded several streets in {city} on {weekday}, officials said.",
    "The mayor of {city} announced a plan to plant {n} thousand trees by the end of the decade.",
    "Thousands of runners took part in the {city} marathon despite the heat.",
    "Police in {city} are asking witnesses to come forward after a break-in at a jewelry store.",
    "A new metro line connecting the airport to downtown {city} opened on {weekday}.",
    "{person}, a retired teacher, was honored by the {city} council for thirty years of volunteer work.",
    "Power was restored to most homes in {city} late on {weekday} night.",
    "Tourism in {city} reached a record high last year, according to the national statistics office of {country}.",
    "The film festival in {city} will screen more than {big} films, including several from {ocountry}.",
    "Firefighters in {city} brought a warehouse blaze under control early this morning.",
    "Residents of {city} voted to turn a disused rail line into a public park.",
    "{city}'s oldest bookstore will close in {month} after nearly a century in business.",
    "Air quality in {city} improved sharply after older diesel cars were banned from the center.",
    "A trade delegation from {ocountry} arrived in {city} on {weekday} for two days of talks.",
    "The concert in {city} sold out in under ten minutes, the organizers said.",
    "Scientists in {city} have recorded the warmest {month} since measurements began.",
    "A rare snowstorm closed schools across {city} on {weekday}. Buses are expected to run normally tomorrow.",
    # personal
    "My sister {first} just got a job offer in {city}, and she has to decide by {weekday}.",
    "We met {person} at a conference in {city} years ago and have worked together ever since.",
    "The package was shipped from {city} on {month} {day} but still hasn't arrived.",
    "Grandma grew up in {city} and still cooks everything the way her mother did.",
    "Can you recommend a good dentist in {city}? We just moved here from {ocountry}.",
    "I'll be in {city} for the {sector} conference. Want to grab dinner on {weekday}?",
    "The weather in {city} was perfect all week. {first} got sunburned on the first day anyway.",
    "{person} was born in {city}, {country_app}, and moved abroad at eighteen.",
    "My old university roommate, {person}, now runs a bakery in {city}.",
    "Our daughter is spending her exchange semester in {city}, and she calls home every {weekday}.",
]


CITY_PATTERNS = {c: re.compile(r"(?<!\w)" + re.escape(c) + r"(?!\w)") for c, _ in CITIES}


def mentions_only(text: str, city: str) -> bool:
    """True if `city` occurs exactly once in `text` and no other listed city occurs outside it."""
    spans = [m.span() for m in CITY_PATTERNS[city].finditer(text)]
    if len(spans) != 1:
        return False
    start, end = spans[0]
    for other, pattern in CITY_PATTERNS.items():
        if other == city:
            continue
        for m in pattern.finditer(text):
            if m.end() <= start or m.start() >= end:  # outside the target, e.g. not "Porto" in "Porto Alegre"
                return False
    return True


def check_distractors() -> None:
    """Names, companies and countries used as distractors must never look like a listed city."""
    words = FIRST_NAMES + LAST_NAMES + COMPANIES + OTHER_COUNTRIES + SECTORS
    words += [t.format(city="", country="", country_app="", ocountry="", person="", first="", company="",
                       sector="", weekday="", month="", day="", h="", n="", big="", time="") for t in CITY_TEMPLATES]
    for w in words:
        for city, pattern in CITY_PATTERNS.items():
            assert not pattern.search(w), f"{w!r} contains the city {city!r}"


def appositive(country: str | None) -> str | None:
    """'Boston, USA' rather than 'Boston, the United States'."""
    if country is None:
        return None
    short = {"the United States": "USA", "the United Kingdom": "UK", "the United Arab Emirates": "UAE"}
    return short.get(country, country.removeprefix("the "))


def make_city_sentence(rng: random.Random, city: str, country: str | None) -> str:
    templates = [t for t in CITY_TEMPLATES if country is not None or "{country" not in t]
    tpl = rng.choice(templates)
    first = rng.choice(FIRST_NAMES)
    other = rng.choice([c for c in OTHER_COUNTRIES if c != country])
    day = rng.randint(1, 28)
    text = tpl.format(
        city=city, country=country, ocountry=other, first=first,
        person=f"{first} {rng.choice(LAST_NAMES)}", company=rng.choice(COMPANIES), sector=rng.choice(SECTORS),
        weekday=rng.choice(WEEKDAYS), month=rng.choice(MONTHS), day=day, n=rng.randint(3, 90),
        h=rng.choice(["two", "three", "four", "five", "six", "seven", "eight", "nine"]), big=rng.randint(40, 300),
        country_app=appositive(country),
        time=rng.choice(TIMES),
    )
    return text[:1].upper() + text[1:]


def build_cities(rng: random.Random) -> dict[str, list[dict]]:
    names = [c for c, _ in CITIES]
    assert len(names) == len(set(names)), "duplicate city"
    check_distractors()
    country_of = dict(CITIES)
    pool = sorted(names)
    rng.shuffle(pool)
    test_only, dev_only, shared = pool[:45], pool[45:70], pool[70:]
    # (split, [(pool, how many examples)])
    plan = {
        "train": [(shared, 200)],
        "dev": [(dev_only, 40), (shared, 80)],
        "test": [(test_only, 60), (shared, 90)],
    }
    seen: set[str] = set()
    out: dict[str, list[dict]] = {}
    for split, parts in plan.items():
        rows = []
        for cities, count in parts:
            order: list[str] = []
            while len(order) < count:  # cycle through the pool so cities are spread evenly
                batch = list(cities)
                rng.shuffle(batch)
                order.extend(batch)
            for city in order[:count]:
                while True:
                    text = make_city_sentence(rng, city, country_of[city])
                    if text not in seen and mentions_only(text, city):
                        break
                seen.add(text)
                rows.append({"sentence": text, "city": city})
        rng.shuffle(rows)
        out[split] = rows
    return out


# ---------------------------------------------------------------------------

def main() -> None:
    rng = random.Random(SEED)
    reviews = build_reviews(rng)
    cities = build_cities(rng)
    for split, rows in reviews.items():
        write_jsonl(HERE / "data" / "review_sentiment" / f"{split}.jsonl", rows)
    for split, rows in cities.items():
        write_jsonl(HERE / "data" / "city_extraction" / f"{split}.jsonl", rows)
    for task, splits in (("review_sentiment", reviews), ("city_extraction", cities)):
        print(task, {s: len(r) for s, r in splits.items()})


if __name__ == "__main__":
    main()
