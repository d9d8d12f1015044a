"""The claim analyser: what a clinic page claims, and how that changes between two versions.

Pure functions over text — no network, no database, deterministic — built on one Aho-Corasick
automaton over the vocabulary in ``data/*.yaml`` (indications, treatments, strength cues, markers,
heading roles, each entry with positive and negative examples that the tests run).

Stages, one module each:

- ``normalise``   NFKC and punctuation folding.
- ``vocabulary``  loads and validates the YAML vocabulary.
- ``lexicon``     the automata and the longest-match scan.
- ``strength``    ``sentence_strength``: the 0-4 ladder for one sentence (see that module);
                  ``sentence_certainty``: the level, then the hedges, for comparing two texts.
- ``segment``     lines into blocks, paragraphs into sentences.
- ``sections``    headings as context: indication lists, exclusion lists, reference lists.
- ``references``  references and their stable keys.
- ``language``    ``detect_language``.
- ``profile``     ``analyze`` → ``ClaimProfile`` (JSON round-trip with ``to_dict``/``from_dict``).
- ``regulation``  the guideline categories and required disclosures of a page (``data/regulation.yaml``).
- ``compare``     ``compare``/``compare_texts`` → ``Finding`` list.

A ``ClaimProfile`` holds: ``indications`` (canonical id → strength, linked treatments, the evidence
sentences that give the maximum strength, the cue that decided it, and ``claims``: the strongest claim of
each treatment for that indication); ``excluded`` (indications a page says it does not treat);
``mentioned`` (named without a claim, e.g. in a mechanism sentence or a question); the page's
``treatments``; ``references`` (stable key → reference); ``caveats`` (hedge/limitation/disclaimer
sentences by group); ``markers`` (safety claims, testimonials, superlatives, recruitment); ``categories``
(the medical-advertising guideline categories the page may fall under, each with its evidence sentence)
and ``disclosures`` (the required disclosure items present and missing: a state, never a finding by itself).

Finding kinds (``Finding.kind``), most severe first:

- ``new_indication``: an indication claimed at strength ≥ 1 that no sentence of the old text claimed
  (it may have been mentioned or excluded before). Reported once, never also as ``claim_strengthened``.
  High when the new strength is ≥ 2.
- ``claim_strengthened``: an indication's maximum strength rose, or the claim of one treatment for it
  rose while the maximum stayed (claims are aligned across versions by treatment × indication; before/
  after strengths, the sentences and the cues that give them). High when the new strength is ≥ 3.
- ``reference_removed``: a reference of the old text matches no reference of the new one (a reference
  that was only reformatted, reordered, cut to "et al." or given a URL/DOI still matches). High when no
  reference is left.
- ``safety_claim_added``: the page's strongest safety claim appeared or became absolute
  (「副作用が少ない」 → 「副作用はありません」, "well tolerated" → "no side effects"). High when absolute.
- ``caveat_removed``: a group of caveats present in the old text has no sentence left in the new one:
  limited_evidence, further_research, experimental, not_proven (a negated proof word), individual_variation
  (※効果には個人差があります), not_guaranteed, unapproved, self_pay, side_effects, no_medical_advice.
- ``testimonial_added``: a testimonial group appears (体験談/患者様の声/"patient stories", an attributed
  quote such as 「…」(40代女性), before/after photos).
- ``superlative_added``: a superlative or comparative group appears (日本一/No.1, 世界初/唯一, 最高/他院より,
  "the best", "world's first").
- ``trial_or_monitor_recruitment``: a recruitment group appears (モニター募集/モニター価格, 臨床研究の参加者募集,
  "now recruiting").
- ``disclosure_removed``: a required disclosure item (限定解除要件: treatment content, cost, period and
  sessions, risks; for unapproved products also their status, acquisition route, domestic alternative and
  safety abroad) stated by the old text is gone from the new one, which still requires it.
- ``claim_weakened``: an indication's maximum strength fell; to 0 when the new text still names it
  without claiming it (negated, excluded, only in a mechanism sentence or a question). Low.
- ``indication_removed``: an indication claimed before is not named at all in the new text. Low.
- ``reference_added``: a reference with no match in the old text. Low.

Every finding carries ``categories``: the guideline categories its new sentence may fall under.
Every strength finding names the cue that decided each strength (``cue_before``/``cue_after``: 「改善 +
有意」, "improve, capped by may", "FDA-cleared"). The floor of the ladder is research stage: a research-
stage qualifier on an efficacy statement (「有効な可能性あり(研究段階)」, "still experimental but promising")
is a claim at 1, so research stage → proven is ``claim_strengthened``; a research-stage statement with
no efficacy cue (「応用が研究されています」) is no claim. A sentence that claims without naming a disease
(「実際に82%の方で改善がみられました」, a statistics table) claims the one the sentence before it claimed, or
else the one its nearest heading names.

Equal-strength paraphrases, dates, prices, menus, reformatted references, a mistyped cue word fixed and
plain text re-wrapped produce no findings.
"""

from __future__ import annotations

from watcher.claims.compare import Finding, compare, compare_texts
from watcher.claims.language import detect_language
from watcher.claims.profile import ANALYSER_VERSION, Caveat, ClaimProfile, IndicationClaim, Marker, analyze
from watcher.claims.references import Reference
from watcher.claims.regulation import CategoryHit, Disclosures
from watcher.claims.strength import sentence_certainty, sentence_strength

__all__ = [
    "ANALYSER_VERSION",
    "CategoryHit",
    "Caveat",
    "ClaimProfile",
    "Disclosures",
    "Finding",
    "IndicationClaim",
    "Marker",
    "Reference",
    "analyze",
    "compare",
    "compare_texts",
    "detect_language",
    "sentence_certainty",
    "sentence_strength",
]
