"""Concept lexicons and phrase patterns for the sales taxonomy.

A pattern is a sequence of items separated by spaces. An item is a concept name in capitals
(see ``CONCEPTS``) or literal alternatives joined by ``|`` with ``_`` between the words of a
phrase. ``~N`` between two items allows up to N other words in between (default 0). Phrases are
written in plain English; the tagger normalises and stems them the same way as transcript text.
"""

from __future__ import annotations

#: Sellers the recognizer is also primed with (its initial prompt's "Other companies"; each
#: name there costs whisper.cpp memory, see the README's Memory notes).
PRIMED_COMPETITORS: tuple[str, ...] = (
    "Tesla", "SunPower", "Sunrun", "Vivint", "Sunnova", "Trinity Solar", "Momentum Solar",
    "Freedom Forever", "Palmetto", "Blue Raven", "Titan Solar", "ADT Solar", "Sunlight Financial",
    "Home Depot", "Lowe's", "Renewal by Andersen", "Window Nation", "Power Home Remodeling",
    "LeafFilter", "Bath Fitter",
)  # fmt: skip

#: National brands of the other home-improvement trades (security, windows, roofing and siding,
#: HVAC, water treatment, baths, gutters, solar and backup power): found in the text, not primed.
#: Names that are everyday words or common names ("Ring", "Carrier", "Champion", "Goodman",
#: "Marvin", "Jacuzzi") are left out: a site that sells against them adds them itself.
TRADE_BRANDS: tuple[str, ...] = (
    "ADT", "SimpliSafe", "Brinks", "Brinks Home", "Frontpoint",
    "Pella", "Andersen Windows", "Milgard", "Simonton", "Window World", "Champion Windows",
    "Owens Corning", "CertainTeed", "James Hardie", "Erie Home",
    "Trane", "Lennox", "Rheem", "Daikin", "American Standard", "Service Experts",
    "One Hour Heating",
    "Culligan", "Kinetico", "RainSoft", "EcoWater",
    "Re-Bath", "West Shore Home", "Bath Planet",
    "LeafGuard", "Gutter Helmet",
    "SolarCity", "SunPro", "Generac", "Sears Home Services",
)  # fmt: skip

#: Every competitor name the tagger knows without a site's own.
DEFAULT_COMPETITORS: tuple[str, ...] = PRIMED_COMPETITORS + TRADE_BRANDS

NEGATORS = ("not", "no", "never", "without", "hardly", "neither", "nor", "nobody")

_C = dict[str, tuple[str, ...]]

_CONSENT: _C = {
    "RECORD": ("record", "recording", "recorder", "tape", "taping", "audio", "microphone", "mic"),
    "DEVICE": ("device", "badge", "recorder", "microphone", "mic", "body cam", "pin", "lapel",
               "wearable", "gadget"),
    "CONVO": ("conversation", "call", "visit", "meeting", "chat", "discussion", "appointment",
              "session", "consultation"),
    "CONVO_OBJ": ("conversation", "call", "visit", "meeting", "chat", "discussion", "this",
                  "appointment", "session", "consultation", "everything", "us",
                  "you", "today"),
    "DISCLOSE_CUE": ("just so you know", "heads up", "before we start", "before we begin",
                     "quality", "training", "coaching", "full disclosure", "i should mention",
                     "i want you to know", "fyi", "for my records"),
    "PERMIT": ("mind", "okay", "alright", "all right", "fine", "consent", "permission", "agree"),
    "NO_WANT": ("not want", "rather not", "rather you not", "rather you did not", "prefer not",
                "prefer you not", "prefer you did not", "not comfortable", "uncomfortable",
                "not okay", "not consent", "not agree", "object to", "would not like",
                "not like", "not allow", "not give permission", "against", "do not",
                "please not", "no", "not be"),
    "STOP": ("stop", "turn off", "switch off", "shut off", "pause", "quit", "disable", "kill",
             "mute", "delete", "erase", "remove", "get rid of", "put away", "without"),
    "TURN": ("turn", "switch", "shut", "click", "power"),
}

_PRICE: _C = {
    "EXCESS": ("too", "so", "way", "really", "very", "pretty", "crazy", "insanely",
               "ridiculously", "awfully", "super", "kind of", "a bit", "a little", "quite",
               "far", "much"),
    "PRICEY": ("expensive", "pricey", "pricier", "costly", "costlier", "steep", "overpriced"),
    "PRICE": ("price", "cost", "quote", "number", "figure", "investment", "total", "amount",
              "payment", "that", "it", "this"),
    "HIGH": ("high", "steep", "a lot", "higher", "much"),
    "MONEY": ("money", "cash", "dollars", "budget", "funds", "price range", "range", "means"),
    "BEYOND": ("more than", "beyond", "over", "above", "outside", "out of", "exceed",
               "higher than", "bigger than"),
    "AFFORD": ("afford", "budget", "budgeted", "price range", "means"),
    "CHEAP": ("cheaper", "cheap", "lower", "less", "better price", "discount",
              "lower price", "less expensive"),
    "EXPECT": ("expect", "thought", "hope", "figured", "looking for", "wanted", "had in mind",
               "anticipated"),
}

_TIMING: _C = {
    "THINK": ("think about", "think it over", "think this over", "think things over", "think on",
              "sleep on", "chew on", "digest", "ponder"),
    "CONSIDER": ("think", "consider", "reflect", "ponder", "process", "weigh", "look it over",
                 "look this over", "research", "sleep on"),
    "LATER": ("later", "next year", "next month", "next spring", "next summer", "next fall",
              "next season", "the spring", "the summer", "the fall", "the winter", "the new year",
              "a few months", "a couple of months", "a couple months", "six months",
              "a few weeks", "a while", "down the road", "the holidays", "tax season",
              "the future", "some point", "another time", "some other time", "a year",
              "a year or two", "a few years", "a couple of years", "a couple years"),
    "DELAY": ("hold off", "postpone", "put off", "push back", "push it back", "delay", "wait",
              "put on hold", "on hold", "revisit", "circle back", "come back to", "hold"),
    "DELAY_STRONG": ("hold off", "postpone", "put it off", "put this off", "push it back",
                     "push this back", "put on hold", "put it on hold", "revisit",
                     "wait and see", "delay it", "delay this"),
    "TIME": ("time", "timing", "moment"),
    "GOOD": ("good", "right", "great", "best", "ideal"),
    "BAD": ("bad", "tough", "terrible", "wrong", "busy", "crazy", "hectic", "rough"),
    "RUSH": ("hurry", "rush", "rushing", "hurrying", "rushed"),
    "NOW": ("now", "right now", "at the moment", "today", "this year", "yet", "at this point",
            "this time", "this season"),
}

_AUTHORITY: _C = {
    "MY": ("my", "our", "the"),
    "PERSON": ("wife", "husband", "spouse", "partner", "business partner", "boss", "family",
               "parents", "mom", "dad", "mother", "father", "son", "daughter", "landlord",
               "owner", "board", "hoa", "homeowners association", "association", "accountant",
               "attorney", "lawyer", "advisor", "financial advisor", "brother", "sister",
               "co owner", "roommate", "significant other", "other half", "better half",
               "fiance", "fiancee", "in laws", "property manager", "co signer"),
    "CONSULT": ("talk", "talk to", "talk with", "talk it over", "talk this over", "speak",
                "discuss", "check", "ask", "run by", "run this by", "run that by",
                "consult", "go over", "loop in", "confer", "clear it", "clear this", "see what",
                "get approval", "sign off", "decide with", "get the okay", "get the go ahead",
                "bring it up with", "mention it to", "show it to", "show this to",
                "share it with", "share this with", "look at it with"),
    "SAY_SO": ("opinion", "input", "approval", "okay", "blessing", "permission", "sign off",
               "thoughts", "take on", "go ahead", "buy in", "agreement"),
    "DECIDE": ("decide", "decision", "decisions", "decision maker", "call the shots",
               "in charge", "final say", "final word", "handles", "handle", "the boss", "signs",
               "approve", "the money", "the finances", "the bills", "runs the", "makes the call",
               "has to agree", "say so", "has the last word", "would kill me", "has to see",
               "needs to see", "has to be here", "needs to be here", "pays the bills"),
}

_TRUST: _C = {
    "SCAM": ("scam", "scammer", "rip off", "ripped off", "ripoff", "fraud", "con artist",
             "fishy", "shady", "sketchy", "dodgy", "too good to be true", "swindle", "gimmick",
             "bait and switch", "fly by night", "predatory", "snake oil", "hidden fees",
             "hidden costs", "fine print", "a catch", "the catch", "cheated",
             "taken advantage of"),
    "DOUBT": ("skeptical", "sceptical", "suspicious", "wary", "doubt", "doubtful", "leery",
              "cautious", "distrust", "mistrust", "hesitant"),
    "BELIEVE": ("trust", "believe", "buy that", "take your word", "rely on"),
    "HOW_KNOW": ("why should i", "why should we", "what guarantee", "can i trust",
                 "how can i trust", "is this real", "are you real", "legit", "legitimate",
                 "prove it", "prove that", "real company", "on the level", "honest with"),
    "HOW_SURE": ("how do i know", "how can i know", "how would i know", "how do we know",
                 "how can we be sure", "how can i be sure", "proof", "guarantee", "promise",
                 "claims"),
    "BAD_ADJ": ("bad", "negative", "terrible", "poor", "awful", "horrible", "mixed", "horror",
                "lousy", "one star", "low", "scary", "worst", "nasty", "shoddy"),
    "REVIEW": ("review", "rating", "complaint", "feedback", "reputation", "press", "article",
               "yelp", "bbb", "better business bureau", "lawsuit", "word of mouth"),
    "HEARSAY": ("thing", "stuff", "story", "news", "experience", "rumor", "report"),
}

_COMPETITOR: _C = {
    "OTHER": ("another", "other", "different", "previous", "competing", "outside"),
    "SEVERAL": ("a couple of", "several", "multiple", "a few", "few", "some", "two", "three",
                "four", "couple", "a bunch of", "a lot of", "many", "more"),
    "VENDOR": ("company", "installer", "contractor", "vendor", "provider", "outfit", "firm",
               "guy", "salesman", "salesmen", "salesperson", "sales rep", "rep", "quote", "bid",
               "proposal", "estimate", "offer", "brand", "solar company", "dealer", "crew"),
    "VENDORS": ("company", "companies", "installer", "contractor", "vendor", "provider",
                "quote", "bid", "estimate", "proposal", "offer"),
    "COMPETITOR": ("competitor", "competition", "competing offer", "shop around",
                   "shopping around", "elsewhere", "a second opinion", "comparing quotes",
                   "compare quotes", "comparing prices", "compare prices", "comparing companies",
                   "compare companies", "the other guys", "your rival"),
    "SOMEONE_ELSE": ("someone else", "somebody else", "another one", "the other one",
                     "the last guy", "the last company", "other people"),
    "QUOTE": ("quote", "quoted", "offer", "offered", "bid", "estimate", "proposal", "price",
              "cheaper", "less", "lower", "beat", "deal", "charge", "charged"),
}

_BUYING: _C = {
    "WHEN": ("when", "how soon", "how long", "how quickly", "how fast", "what date",
             "earliest", "first available", "timeline", "time frame", "timeframe",
             "availability", "what day", "what time"),
    "START": ("start", "get started", "begin", "kick off", "move forward", "go ahead", "proceed",
              "get going", "get the ball rolling", "install", "installation", "put in",
              "put them in", "put it in", "crew", "come out", "get on the schedule",
              "get scheduled", "panels on", "the work", "be done", "be installed",
              "up and running", "turn it on", "get this going"),
    "SIGN": ("sign", "signing", "sign up", "paperwork", "contract", "agreement", "deposit",
             "lock in", "lock it in", "the order"),
    "READY": ("ready", "prepared", "decided", "excited to", "want to", "would like to", "let us",
              "can we", "plan to", "going to", "eager to"),
    "DEAL": ("let us do it", "let us do this", "let us go for it", "let us go ahead",
             "you have a deal", "it is a deal", "we have a deal", "count us in", "count me in",
             "we are sold", "i am sold", "where do i sign", "where do we sign", "sign me up",
             "sign us up", "sounds like a plan", "let us move forward", "let us get started",
             "we will take it", "i will take it", "how do we get started",
             "how do i get started", "let us get going", "let us make it happen"),
    "FOLLOW": ("next step", "next steps", "what happens next", "what will happen next",
               "where do we go from here", "the plan is"),
}

_FINANCING: _C = {
    "FINANCE": ("financing", "finance", "financed", "loan", "lease", "leasing", "ppa",
                "power purchase agreement", "apr", "lender", "installments", "installment",
                "payment plan",
                "payment options", "payment option", "monthly payment", "monthly installment",
                "down payment", "zero down", "nothing down", "no money down", "0 down",
                "0 dollars down", "pay over time", "pay it over time", "pay for it over time",
                "pay for this over time", "home equity", "heloc",
                "interest rate", "interest free", "percent interest",
                "zero interest", "finance charge", "pre approved", "pre qualify", "credit check",
                "credit score", "credit history", "run my credit", "pull my credit",
                "good credit", "bad credit", "spread out the payments", "spread the payments",
                "rent to own", "buy now pay later", "no upfront cost", "nothing upfront",
                "no money upfront", "loan term", "a bank loan"),
    "FIN_WEAK": ("qualify", "bank", "approved", "credit", "borrow", "rate"),
    "PAY": ("pay", "payment", "cost", "price", "come out", "come to", "how much", "owe",
            "charge", "run us", "run me"),
    "MONTH": ("a month", "per month", "each month", "every month", "monthly", "month to month"),
}

_NEXT: _C = {
    "I_WILL": ("i will", "we will", "i am going to", "we are going to", "let me", "let us",
               "i can", "we can", "i would like to", "we would like to", "i want to",
               "i plan to", "i could", "i shall", "i would be happy to"),
    "COMMS": ("send", "email", "e mail", "call", "text", "mail", "forward", "follow up",
              "reach out", "touch base", "check in", "circle back", "message", "ring",
              "shoot you", "give you a call", "give you a ring", "drop off", "stop by",
              "swing by", "come by", "come back", "be back", "be in touch", "get in touch",
              "see you", "put together", "prepare", "draft", "write up", "run the numbers"),
    "APPOINTMENT": ("follow up", "visit", "meeting", "appointment", "call", "time",
                    "survey", "inspection", "consultation", "demo", "walkthrough",
                    "walk through", "install date", "date", "slot", "zoom", "video call",
                    "install", "installation"),
    "SCHEDULE": ("schedule", "set up", "book", "pencil in", "arrange", "put on the calendar",
                 "lock in", "confirm", "find"),
    "DAY": ("tomorrow", "tonight", "today", "this afternoon", "this evening", "this morning",
            "later today", "end of day", "end of the day", "monday", "tuesday", "wednesday",
            "thursday", "friday", "saturday", "sunday", "next week", "this week", "weekend",
            "o clock", "p m", "a m", "in the morning", "first thing", "shortly", "in an hour",
            "in a few days", "in a couple of days", "within a week", "next month"),
}

CONCEPTS: dict[str, tuple[str, ...]] = {
    **_CONSENT, **_PRICE, **_TIMING, **_AUTHORITY, **_TRUST, **_COMPETITOR, **_BUYING,
    **_FINANCING, **_NEXT,
}  # fmt: skip
