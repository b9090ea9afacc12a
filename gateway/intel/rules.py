"""Tagging rules: each pattern (syntax in :mod:`gateway.intel.lexicon`) is evidence for a tag.

Weights are the confidence a rule gives on its own; the tagger combines the rules that fire for a
tag as a noisy-OR and keeps tags that reach its threshold, so weak cues (< 0.5) count only
together with other evidence. Rules skip matches with a negator shortly before them unless
``block_negation`` is off; ``question`` restricts a rule to questions (True) or statements
(False); ``unless`` lists phrases that veto the rule within the clause of its match (clauses
end at . ; : ? ! and before "but", "so", "because", "and", "although", "though", "while").
"""

from __future__ import annotations

from typing import NamedTuple


class R(NamedTuple):
    """One rule: ``pattern`` is evidence for ``tag`` with ``weight``."""

    tag: str
    weight: float
    pattern: str
    block_negation: bool = True
    question: bool | None = None
    unless: tuple[str, ...] = ()


_OPTING_OUT = ("stop", "turn off", "switch off", "shut off", "not want", "rather not",
               "rather you not", "rather you did not", "not comfortable", "uncomfortable",
               "delete", "erase", "no recording", "not okay", "not consent")  # fmt: skip
_REASSURING = ("do not worry", "no worries", "no problem", "not to worry")
_SAVINGS = ("bill", "electric", "utility", "electricity", "save", "saving", "itself")
_PRICE_BIG = "too_much|so_much|a_fortune|an_arm_and_a_leg|a_lot"

RULES: tuple[R, ...] = (
    # consent.disclosure: the rep says the conversation is recorded.
    R("consent.disclosure", 0.85, "RECORD ~4 CONVO_OBJ", unless=_OPTING_OUT),
    R("consent.disclosure", 0.85, "CONVO ~4 RECORD", unless=_OPTING_OUT),
    R("consent.disclosure", 0.8, "DEVICE ~5 RECORD", unless=_OPTING_OUT),
    R("consent.disclosure", 0.8, "PERMIT ~5 RECORD", unless=_OPTING_OUT),
    R("consent.disclosure", 0.8, "RECORD ~6 PERMIT", question=True, unless=_OPTING_OUT),
    R("consent.disclosure", 0.4, "i|we ~3 RECORD", unless=_OPTING_OUT),
    R("consent.disclosure", 0.35, "DISCLOSE_CUE", unless=_OPTING_OUT),
    R("consent.disclosure", 0.35, "RECORD", unless=_OPTING_OUT),
    # consent.opt_out: the customer refuses or withdraws consent.
    R("consent.opt_out", 0.9, "NO_WANT ~4 RECORD", block_negation=False, unless=_REASSURING),
    R("consent.opt_out", 0.9, "STOP ~3 RECORD", block_negation=False, unless=_REASSURING),
    R("consent.opt_out", 0.9, "TURN ~4 RECORD|DEVICE ~2 off", block_negation=False),
    R("consent.opt_out", 0.9, "turn_off|switch_off|shut_off|stop|disable|mute ~3 RECORD|DEVICE",
      block_negation=False),
    R("consent.opt_out", 0.85, "opt_out", block_negation=False),
    R("consent.opt_out", 0.4, "TURN ~2 it|that|this ~1 off", block_negation=False),
    # objection.price
    R("objection.price", 0.9, "EXCESS ~2 PRICEY"),
    R("objection.price", 0.7, "that|it|this ~2 PRICEY", question=False),
    R("objection.price", 0.45, "PRICEY"),
    R("objection.price", 0.9, "PRICE ~5 too|so|way|really|very ~2 HIGH"),
    R("objection.price", 0.9, "not|never|hardly ~3 afford|justify|swing", block_negation=False),
    R("objection.price", 0.9, "BEYOND ~4 AFFORD|MONEY"),
    R("objection.price", 0.9, "too_much ~2 money|for_what|for_us|for_me"),
    R("objection.price", 0.9, f"cost|charge ~3 {_PRICE_BIG}"),
    R("objection.price", 0.85, "PRICE ~3 higher_than|more_than ~3 expect|budget|afford|thought"),
    R("objection.price", 0.6, "a_lot_of_money|kind_of_money|sticker_shock|that_much_money"),
    R("objection.price", 0.8, "tight ~2 budget|money|finances"),
    R("objection.price", 0.8, "budget|money|finances ~2 tight|limited"),
    R("objection.price", 0.75, "EXPECT ~6 CHEAP"),
    R("objection.price", 0.85, "PRICEY|higher ~2 than ~3 EXPECT|i_thought|we_thought|budgeted"),
    R("objection.price", 0.85, "not ~1 have ~4 MONEY|that_kind_of|that_much", block_negation=False),
    R("objection.price", 0.85, "more_than ~4 spend|pay|afford|expect|budget|hope",
      unless=("happy", "glad", "willing")),
    R("objection.price", 0.85, "not|never ~2 worth ~3 money|price|cost|it", block_negation=False),
    R("objection.price", 0.85, "no_way ~4 pay|spend"),
    R("objection.price", 0.85, "not ~3 pay|spend ~3 that_much|so_much|this_much|that_kind_of",
      block_negation=False),
    # objection.timing
    R("objection.timing", 0.85, "THINK ~2 it|this|that|things|over|everything|our_options",
      unless=("what do you think", "how do you think", "what would you think")),
    R("objection.timing", 0.8, "need|want|have_to|got_to|like|let_us|let_me ~3 CONSIDER ~3 "
      "it|this|that|things|everything|over|options"),
    R("objection.timing", 0.8, "need|take|give_us|give_me ~3 some_time|more_time|a_little_time|"
      "time_to_think|a_while|a_few_days|a_couple_of_days|a_few_weeks"),
    R("objection.timing", 0.75, "need ~1 time"),
    R("objection.timing", 0.85, "not ~2 GOOD ~2 TIME", block_negation=False, question=False),
    R("objection.timing", 0.85, "BAD ~2 TIME"),
    R("objection.timing", 0.85, "not|no ~3 RUSH", block_negation=False),
    R("objection.timing", 0.85, "not ~1 ready", block_negation=False),
    R("objection.timing", 0.85, "not NOW", block_negation=False),
    R("objection.timing", 0.85, "DELAY ~4 LATER|until|till|after|a_bit|and_see"),
    R("objection.timing", 0.75, "DELAY_STRONG"),
    R("objection.timing", 0.8, "put ~2 on_hold|on_ice|on_the_back_burner"),
    R("objection.timing", 0.7, "maybe|perhaps|probably ~3 LATER"),
    R("objection.timing", 0.45, "LATER"),
    R("objection.timing", 0.55, "will_get_back_to_you|get_back_to_you|we_will_let_you_know",
      unless=("with the", "with a", "with your", "with some", "with those")),
    R("objection.timing", 0.85, "too_soon|too_early|not_yet|not_this_year"),
    R("objection.timing", 0.7, "too_busy|so_busy|really_busy|crazy_busy"),
    # objection.authority
    R("objection.authority", 0.85, "CONSULT ~4 MY ~1 PERSON"),
    R("objection.authority", 0.85, "MY ~1 PERSON ~4 DECIDE"),
    R("objection.authority", 0.85, "without ~4 MY ~1 PERSON", block_negation=False),
    R("objection.authority", 0.7, "before|until ~4 MY ~1 PERSON", block_negation=False),
    R("objection.authority", 0.85, "not ~2 up_to_me|my_call|my_decision|the_decision_maker|"
      "my_choice|the_one_who_decides|in_charge|the_boss", block_negation=False),
    R("objection.authority", 0.8, "decide|commit|sign ~3 alone|by_myself|on_my_own"),
    R("objection.authority", 0.45, "not ~2 decide|commit|make_that_decision",
      block_negation=False),
    R("objection.authority", 0.75, "need|have|got ~4 approval|permission|sign_off|blessing",
      unless=("utility", "city", "permit", "county", "interconnection", "inspector")),
    R("objection.authority", 0.45, "we_both|both_of_us"),
    R("objection.authority", 0.75, "we_both|both_of_us ~3 need|have_to|agree|decide|sign|be_here"),
    R("objection.authority", 0.6, "i_am_renting|we_are_renting|we_rent|i_rent|not_the_owner"),
    # objection.trust
    R("objection.trust", 0.85, "SCAM", block_negation=False),
    R("objection.trust", 0.75, "DOUBT"),
    R("objection.trust", 0.85, "not|hard_to|how|why|can_i|should_i ~3 BELIEVE",
      block_negation=False, unless=("can not believe how", "can not believe what",
                                    "can not believe it", "could not believe")),
    R("objection.trust", 0.75, "HOW_KNOW"),
    R("objection.trust", 0.4, "HOW_SURE"),
    R("objection.trust", 0.85, "BAD_ADJ ~3 REVIEW"),
    R("objection.trust", 0.85, "heard|read|seen|hearing ~5 BAD_ADJ ~2 HEARSAY"),
    R("objection.trust", 0.6, "complaint|lawsuit"),
    R("objection.trust", 0.75, "burned|burnt ~3 before|once|by|last_time"),
    R("objection.trust", 0.65, "licensed|insured|bonded|accredited", question=True),
    R("objection.trust", 0.6, "out_of_business|go_bankrupt|went_under|go_under"),
    R("objection.trust", 0.6, "be_around|still_be_here|still_exist ~4 year|decade|long|future"),
    R("objection.trust", 0.6, "pushy|high_pressure|salesman|salesmen|salespeople ~3 BELIEVE|lie"),
    # competitor.mention (the per-site brand names are added by the tagger)
    R("competitor.mention", 0.85, "OTHER ~2 VENDOR",
      unless=("other option", "another option", "different option", "second visit")),
    R("competitor.mention", 0.85, "SEVERAL ~2 VENDORS",
      unless=("option", "i will send", "we will send", "our proposal")),
    R("competitor.mention", 0.9, "COMPETITOR"),
    R("competitor.mention", 0.5, "SOMEONE_ELSE"),
    R("competitor.mention", 0.55, "SOMEONE_ELSE ~6 QUOTE"),
    R("competitor.mention", 0.6, "quoted_us|quoted_me|offered_us|offered_me"),
    R("competitor.mention", 0.45, "they|he|she ~2 quoted|offered|bid|beat"),
    # buying_signal
    R("buying_signal", 0.85, "WHEN ~6 START|SIGN", question=True),
    R("buying_signal", 0.9, "DEAL"),
    R("buying_signal", 0.85, "READY ~1 START|SIGN|buy|purchase|order"),
    R("buying_signal", 0.85, "how|what ~6 get_started|get_this_started|start|begin|proceed|"
      "move_forward|go_ahead|get_going|sign_up", question=True),
    R("buying_signal", 0.85, "FOLLOW", question=True),
    R("buying_signal", 0.75, "SIGN", question=True),
    R("buying_signal", 0.7, "can|could|would ~3 you|we ~3 START", question=True),
    R("buying_signal", 0.45, "sounds_good|sounds_great|that_works|i_like_it|we_like_it|love_it"),
    # financing
    R("financing", 0.9, "FINANCE", block_negation=False),
    R("financing", 0.45, "FIN_WEAK", unless=("tax credit",)),
    R("financing", 0.85, "PAY ~4 MONTH", unless=_SAVINGS),
    R("financing", 0.85, "how_much ~6 MONTH", unless=_SAVINGS),
    R("financing", 0.8, "credit ~2 score|check|approval|history|rating|pull|run"),
    R("financing", 0.8, "pull|run|check ~2 credit"),
    R("financing", 0.8, "pay ~4 over_time|overtime|monthly|in_installments", unless=_SAVINGS),
    # next_step
    R("next_step", 0.85, "I_WILL ~3 COMMS ~8 DAY"),
    R("next_step", 0.75, "I_WILL ~3 COMMS", unless=("if", "so i can", "so we can", "so that")),
    R("next_step", 0.85, "SCHEDULE ~4 APPOINTMENT"),
    R("next_step", 0.75, "FOLLOW", question=False),
    R("next_step", 0.75, "follow_up ~3 DAY"),
    R("next_step", 0.8, "see_you|talk_to_you|talk_soon|speak_to_you ~2 DAY"),
    R("next_step", 0.75, "will|should|expect ~4 email|call|text|proposal|contract|quote ~6 DAY"),
    R("next_step", 0.75, "will ~4 stop_by|come_by|come_out|swing_by|be_out|drop_by ~6 DAY"),
)
