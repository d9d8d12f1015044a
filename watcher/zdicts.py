"""Preset dictionaries of the store's compressed columns (``ZlibJSON(dictionary=...)``, watcher.models).

A dictionary is part of the stored format: the rows compressed with it name it by its number (their
first byte), so a dictionary here is never changed nor renumbered once released; a better one is added
under a new number. Plain text on purpose: deflate only needs strings that recur in the documents.
"""

from __future__ import annotations

# Claim profiles (watcher.claims.profile.ClaimProfile.to_dict, compact JSON): the analyser's ids —
# indications, treatments, rules, marker and caveat groups, categories, disclosure items — then the
# profile's keys in their order, nearest the end where deflate reaches them most cheaply. Frozen at
# analyser 1.3.0; ids added later are compressed as any other text.
PROFILE_V1 = (
    b'depression","schizophrenia","anxiety","social_anxiety_disorder","psychosis","bipolar_disorder","'
    b'panic_disorder","ocd","ptsd","adhd","autism","developmental_disorder","learning_disability","tic'
    b'_disorder","adjustment_disorder","mood_disorder","psychiatric_disorder","insomnia","dementia","c'
    b'ognitive_impairment","alzheimers_disease","parkinsons_disease","huntingtons_disease","stroke","a'
    b'ls","multiple_sclerosis","epilepsy","migraine","headache","chronic_pain","fibromyalgia","low_bac'
    b'k_pain","lyme_disease","chronic_fatigue_syndrome","long_covid","eating_disorder","addiction","au'
    b'tonomic_dysfunction","orthostatic_dysregulation","spinal_cord_injury","traumatic_brain_injury","'
    b'cerebral_palsy","neurodegenerative_disease","neuropathy","osteoarthritis","rheumatoid_arthritis"'
    b',"osteoporosis","sports_injury","atopic_dermatitis","psoriasis","acne","skin_aging","skin_pigmen'
    b'tation","hair_loss","diabetes","obesity","hypertension","dyslipidemia","heart_failure","myocardi'
    b'al_infarction","kidney_disease","liver_disease","copd","pulmonary_fibrosis","asthma","allergic_r'
    b'hinitis","inflammatory_bowel_disease","irritable_bowel_syndrome","lupus","cancer","infertility",'
    b'"erectile_dysfunction","menopausal_symptoms","premenstrual_syndrome","tinnitus","hearing_loss","'
    b'macular_degeneration","chronic_fatigue","exosome","culture_supernatant","stem_cells","nmn","nad"'
    b',"tms","vitamin_c_infusion","prp","ozone_therapy","placenta","glutathione","ketamine","hyperbari'
    b'c_oxygen","nk_cell_therapy","hydrogen_therapy","neurofeedback","shockwave_therapy","chelation_th'
    b'erapy","five_ala","guaranteed_outcome_ja","guaranteed_outcome_en","absolute_safety","proof_for_u'
    b'napproved","superlative_marker","better_than_others_ja","better_than_others_en","testimonial_mar'
    b'ker","testimonial_effect_ja","testimonial_effect_en","before_after_unexplained","effect_of_unapp'
    b'roved","treatment_content_ja","typical_cost_ja","period_and_sessions_ja","risks_side_effects_ja"'
    b',"unapproved_status_ja","acquisition_route_ja","domestic_alternative_ja","foreign_safety_info_ja'
    b'","no_side_effects","safe","few_side_effects","testimonials","attributed_quote","before_after","'
    b'number_one","first_or_only","best","monitor","trial","safety","testimonial","superlative","recru'
    b'itment","limited_evidence","further_research","experimental","not_proven","individual_variation"'
    b',"not_guaranteed","unapproved","self_pay","side_effects","no_medical_advice'
    b'{"analyser_version":"","language":"mixed","indications":{"":{"strength":3,"treatments":[""],"evi'
    b'dence":[""],"cue":"(heading)","claims":[{"treatments":[""],"strength":3,"evidence":"","cue":"(he'
    b'ading)"}]}},"excluded":{},"mentioned":[],"treatments":[],"references":{"doi:10.":{"text":"","ide'
    b'ntities":["doi:10.","pmid:","author:"]}},"caveats":[{"group":"individual_variation","text":""}],'
    b'"markers":[{"kind":"","group":"","level":1,"text":""}],"categories":[{"category":"unapproved_pro'
    b'duct_claim","evidence":"","rule":"effect_of_unapproved"}],"disclosures":{"scopes":["free_treatme'
    b'nt","unapproved"],"present":{},"missing":["treatment_content","typical_cost","period_and_session'
    b's","risks_side_effects","unapproved_status","acquisition_route","domestic_alternative","foreign_'
    b'safety_info"]}}'
)

PROFILE = 1  # the claim profiles' dictionary now
DICTIONARIES = {1: PROFILE_V1}  # format byte -> preset dictionary (raw deflate after the byte)
