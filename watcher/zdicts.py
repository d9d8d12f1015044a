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

# HTTP response headers (Snapshot.headers, Requisite.headers: compact JSON, {name: [values]}): header
# names and values common on the web, written out for this dictionary (servers, CDNs, caches, security
# headers, media types), the date's day and month names; those every response has nearest the end.
HEADERS_V1 = (
    b'"Access-Control-Allow-Origin":["*"],"Alt-Svc":["h3=\\":443\\"; ma=86400"],"Cf-Cache-Status":["DYNAMIC"],'
    b'"Cf-Ray":["-NRT"],"Content-Security-Policy":["upgrade-insecure-requests"],'
    b'"Permissions-Policy":["interest-cohort=()"],"Referrer-Policy":["strict-origin-when-cross-origin"],'
    b'"Report-To":["{\\"endpoints\\":[{\\"url\\":\\"https:'
    b'"],"Nel":["{\\"success_fraction\\":0,\\"report_to\\":\\"cf-nel\\",\\"max_age\\":604800}"],'
    b'"Set-Cookie":["; path=/; expires=; Max-Age=; HttpOnly; Secure; SameSite=Lax"],'
    b'"Strict-Transport-Security":["max-age=31536000; includeSubDomains; preload"],'
    b'"Via":["1.1 varnish","1.1 .cloudfront.net (CloudFront)"],"X-Amz-Cf-Id":["=="],"X-Amz-Cf-Pop":["NRT57-P"],'
    b'"X-Cache":["Hit from cloudfront","Miss from cloudfront","HIT","MISS"],"X-Content-Type-Options":["nosniff"],'
    b'"X-Frame-Options":["SAMEORIGIN"],"X-Xss-Protection":["1; mode=block"],'
    b'"X-Powered-By":["PHP/8.1.","PHP/7.4.","Next.js","Express"],'
    b'"Link":["<https://>; rel=\\"https://api.w.org/\\"","; rel=shortlink"],'
    b'"Pragma":["no-cache"],"Expires":["Thu, 19 Nov 1981 08:52:00 GMT"],"Age":["0"],'
    b'"Cache-Control":["no-store, no-cache, must-revalidate","max-age=0","private","public, max-age=31536000"],'
    b'"Vary":["Accept-Encoding","Accept-Encoding,Cookie","User-Agent"],"Content-Encoding":["gzip","br"],'
    b'"Transfer-Encoding":["chunked"],"Connection":["keep-alive","close"],"Accept-Ranges":["bytes"],'
    b'"Location":["https://www."],"Content-Type":["text/css","application/javascript","image/png","image/jpeg",'
    b'"image/webp","image/svg+xml","font/woff2","application/json","text/html","text/html; charset=UTF-8"],'
    b'"Server":["Apache","nginx","cloudflare","LiteSpeed","Microsoft-IIS/10.0","AmazonS3","openresty"],'
    b'"Etag":["W/\\"'
    b'"],"Date":["Mon, Tue, Wed, Thu, Fri, Sat, Sun, Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec 20'
    b' GMT"],"Last-Modified":["'
    b' GMT"],"Content-Length":["'
    b'"],"Content-Type":["text/html; charset=utf-8"]}'
)

# Extracted texts (TextVersion.text, UTF-8): the analyser's own vocabulary at analyser 1.3.0 — the
# surface forms of its indications, treatments, cues, headings and markers (watcher/claims/data/*.yaml;
# each form once, a form inside a longer one left out, a pattern's "{a,b}" as its first choice), Japanese
# then English — then words common on clinic pages written for this dictionary, English then Japanese,
# nearest the end where deflate reaches them most cheaply. Made from no benchmark's text. Frozen here:
# the YAML files may change, this may not.
TEXT_V1 = (
    "ニコチンアミドモノヌクレオチド\n保証するものではありません\n約束するものではありません\n"
    "新型コロナウイルス後遺症\nメタボリックシンドローム\nについて解説していきます\n副作用の心配はありません\n"
    "副作用の心配がありません\n心的外傷後ストレス障害\n自閉症スペクトラム障害\nアルツハイマー型認知症\n"
    "全身性エリテマトーデス\nニューロフィードバック\n可能性も否定できません\n可能性は否定できません\n"
    "ないとは言い切れません\n明らかになっていません\n受けることができません\nダウンタイムがほとんど\n"
    "注意欠如・多動性障害\n注意欠陥・多動性障害\n高コレステロール血症\n高濃度ビタミンC点滴\n5-アミノレブリン酸\n"
    "ガイドラインでも推奨\n受けることができます\nことがわかっています\nことが分かっています\n"
    "明らかではありません\n保証するものではない\nについてご紹介します\nからだへの負担が少な\n"
    "他院では受けられない\nモニターキャンペーン\n注意欠陥多動性障害\n自閉スペクトラム症\nアスペルガー症候群\n"
    "パーキンソン症候群\n筋萎縮性側索硬化症\n月経前不快気分障害\n経頭蓋磁気刺激療法\nるようになりました\n"
    "がん細胞だけを攻撃\n保険診療で受けられ\nガイドラインで推奨\nガイドラインに掲載\n過言ではありません\n"
    "ないとは言えません\nないとはいえません\n臨床試験が進められ\n保証いたしかねます\n承認されていません\n"
    "承認を受けていない\n医薬品医療機器等法\n対象ではありません\n対応しておりません\n適応ではありません\n"
    "について解説します\nについて説明します\nに注意してください\n副作用がありません\n副作用はありません\n"
    "副作用の心配がない\n副作用の心配もなく\n副作用もありません\nリスクはありません\n身体への負担が少な\n"
    "ダウンタイムがない\n治療を受けた方の声\nビフォー・アフター\n治療抵抗性うつ病\n注意欠如・多動症\n"
    "トゥレット症候群\nアルツハイマー病\n新型コロナ後遺症\nCOVID後遺症\nアルコール依存症\nギャンブル依存症\n"
    "アトピー性皮膚炎\n慢性閉塞性肺疾患\nアレルギー性鼻炎\nエクソソーム点滴\nエクソソーム治療\nエクソソーム療法\n"
    "幹細胞培養上清液\n血液クレンジング\n樹状細胞ワクチン\nキレーション療法\n有効性が認められ\n米国食品医薬品局\n"
    "実施しております\n提供しております\nすすめしています\n対応しております\n臨床試験において\nとわかっています\n"
    "と分かっています\n期待できる可能性\nわかっていません\n分かっていません\n今後の臨床研究が\n保証はできません\n"
    "承認されていない\n保険診療の対象外\n対象となりません\n行っておりません\n扱っておりません\n対応していません\n"
    "適応となりません\n適応がありません\n改善が期待できる\n効果が期待できる\n副作用の心配なく\n副作用がほぼない\n"
    "副作用はほぼない\n副作用がほとんど\n副作用はほとんど\n副作用もほとんど\nダウンタイムなし\nビフォーアフター\n"
    "モニターになって\nモニター様を募集\n臨床研究への参加\n臨床試験への参加\n研究協力者を募集\n大うつ病性障害\n"
    "気分の落ち込み\n落ち込みやすい\n全般性不安障害\n双極性感情障害\n複雑性PTSD\n注意欠如多動症\n広汎性発達障害\n"
    "発達のでこぼこ\nディスレクシア\nメンタルの不調\n認知機能の低下\nパーキンソン病\nハンチントン病\n"
    "神経障害性疼痛\n椎間板ヘルニア\n慢性疲労症候群\n筋痛性脳脊髄炎\nロングコビッド\nニコチン依存症\n"
    "自律神経失調症\n自律神経の乱れ\n起立性調節障害\n高次脳機能障害\n変形性膝関節症\n特発性肺線維症\n"
    "過敏性腸症候群\nプラセンタ注射\n高気圧酸素療法\n治療しています\nるようになった\nがん細胞を攻撃\n"
    "ガン細胞を攻撃\nがん細胞を破壊\nがん細胞を狙い\n適応が認められ\n保険で受けられ\n治療効果を認め\n"
    "行っております\n実施しています\n提供しています\n受けていただけ\n対応しています\n診療しています\n"
    "導入しています\nスクリーニング\n科学的根拠があ\nエビデンスがあ\nとわかっており\nと考えられます\n"
    "と考えています\n考えております\nかもしれません\nわかっていない\nさらなる研究が\nさらなる検証が\n"
    "臨床研究が必要\n研究が求められ\n研究が進められ\n研究が始まった\n研究が行われて\n保証できません\n"
    "保険適応はなく\n保険適用はなく\n副作用の可能性\n副作用のリスク\nリスク・副作用\n受けられません\n"
    "治療できません\n行っていません\n施術できません\nについて詳しく\nご注意ください\n対象となる疾患\n"
    "対象となる症状\n対象となる病気\n期待できる症状\n期待できる疾患\n安全な治療です\n安全に受けられ\n"
    "感想をいただき\n実際に受けた方\nモニター様募集\nモニターを募集\nモニター大募集\n臨床研究参加者\n"
    "気分が落ち込\n社交不安障害\n社会不安障害\n精神病性障害\nパニック障害\nパニック発作\n限局性学習症\n"
    "精神的な不調\nメンタル不調\n寝つきが悪い\n寝付きが悪い\n熟睡できない\n睡眠トラブル\n軽度認知障害\n"
    "認知機能障害\n認知機能低下\n記憶力の低下\n脳梗塞後遺症\n脳卒中後遺症\n多発性硬化症\n慢性的な痛み\n"
    "慢性ライム病\n神経性やせ症\n神経性過食症\n自律神経障害\n自律神経症状\n外傷性脳損傷\n神経変性疾患\n"
    "末梢神経障害\n変形性関節症\n関節リウマチ\n骨粗しょう症\nスポーツ外傷\nスポーツ障害\n男性型脱毛症\n"
    "女性型脱毛症\n潰瘍性大腸炎\n炎症性腸疾患\n卵巣機能低下\n早発卵巣不全\n更年期の不調\n月経前症候群\n"
    "加齢黄斑変性\nエキソソーム\n幹細胞上清液\n幹細胞培養液\n間葉系幹細胞\nNAD+点滴\n磁気刺激治療\n多血小板血漿\n"
    "グルタチオン\nエスケタミン\n酸素カプセル\nNK細胞療法\n免疫細胞療法\n症状がなくな\n低下しました\n"
    "低下が見られ\nリスクが下が\nリスクを下げ\nリスクを低下\n癌細胞を攻撃\n癌細胞を破壊\n確立している\n"
    "有効性を認め\n認めています\n行っています\n受けられます\n確認しました\n過言ではない\n自信を持って\n"
    "自信をもって\nと考えられて\nと思われます\nかもしれない\nのではないか\nわかってきて\n限られた研究\n"
    "有効性は不明\n評価が分かれ\n評価は分かれ\n意見が分かれ\n見解が分かれ\n今後の研究が\n更なる研究が\n"
    "研究が待たれ\n感じ方には差\n効果の感じ方\n副作用として\n副作用が起こ\nを解説します\nを説明します\n"
    "以下に詳しく\n以下に詳細に\nご説明します\n取り扱い疾患\nこのような方\n副作用がない\n副作用はない\n"
    "副作用のない\n副作用は一切\n副作用もなく\n副作用がなく\n副作用はなく\n副作用もない\n100%安全\nリスクがない\n"
    "リスクのない\n安全性が確認\n副作用が少な\n副作用は少な\n副作用の少な\n患者さまの声\n患者さんの声\n"
    "お客さまの声\nナンバーワン\nトップクラス\n他院にはない\nモニター募集\nモニター価格\nモニター料金\n"
    "モニター患者\n症例モニター\nモニター特典\nモニター制度\n治験のご案内\n参加者を募集\n抑うつ症状\n産後うつ病\n"
    "統合失調症\n精神分裂病\n精神分裂症\n不安神経症\n社交不安症\n対人恐怖症\n精神病症状\n双極性障害\nパニック症\n"
    "強迫性障害\n強迫神経症\n神経発達症\n発達障がい\n発達の遅れ\n発達の凸凹\nチック障害\n眠りが浅い\n寝付けない\n"
    "寝つけない\n睡眠の悩み\n老人性痴呆\n脳血管障害\n緊張型頭痛\n線維筋痛症\n過食性障害\n薬物依存症\nネット依存\n"
    "ゲーム依存\n神経の難病\n関節の痛み\nほうれい線\n円形脱毛症\n2型糖尿病\n1型糖尿病\n脂質異常症\n慢性腎臓病\n"
    "腎機能障害\n肝機能障害\n間質性肺炎\n気管支喘息\nクローン病\n更年期障害\n更年期症状\n突発性難聴\n疲れやすい\n"
    "細胞外小胞\n幹細胞治療\n幹細胞療法\n脂肪幹細胞\n臍帯幹細胞\nNMN点滴\nNAD点滴\nTMS治療\nPRP療法\nPRP注射\n"
    "オゾン療法\nオゾン治療\n衝撃波治療\n衝撃波療法\n治療が可能\n治療します\n穏やかにな\n良好な結果\n良好な成績\n"
    "成果を上げ\n成果をあげ\n危険が下が\n進行を止め\n進行が止ま\nがんを攻撃\n腫瘍を攻撃\n腫瘍を破壊\nを引き起こ\n"
    "引き起こす\n確立された\n適応を取得\n適応を受け\n承認を取得\n承認された\n認可を受け\n保険が適用\n保険が適応\n"
    "保険が使え\n学会が推奨\n厚生労働省\n認めており\n治療を提供\n活用されて\n用いられて\n臨床試験で\n臨床研究で\n"
    "間違いなく\nという報告\nという研究\nという論文\nと思われて\n指摘されて\n可能性が高\nとする論文\nとする研究\n"
    "とする報告\n発表されて\nケースもあ\nケースがあ\n動物モデル\n考えられる\nと考えます\nと思います\n可能性があ\n"
    "確かめられ\nまだ限られ\nは限られて\nが限られて\n効果は不明\n検証が必要\n検討の段階\n臨床試験中\n適応外使用\n"
    "保険適用外\n保険適応外\n副作用には\n副作用が出\n主な副作用\n主なリスク\nかについて\n注意が必要\n治療できる\n"
    "お悩みの方\n対応可能な\n治療の対象\n次のような\n副作用なし\n完全に安全\n絶対に安全\n安心・安全\n安全性が高\n"
    "負担の少な\n患者様の声\nお客様の声\n利用者の声\n受診者の声\nナンバー1\n業界トップ\n県内トップ\n地域トップ\n"
    "他にはない\n他院と比べ\nどこよりも\n治験参加者\n参加者募集\n被験者募集\n協力者募集\nうつ状態\nうつっぽ\n"
    "躁うつ病\n学習障害\n読字障害\nチック症\n適応障害\n精神疾患\n精神障害\n精神症状\n心の病気\n睡眠障害\n"
    "眠れない\n中途覚醒\nもの忘れ\nてんかん\n慢性疼痛\n摂食障害\n脊髄損傷\n頭部外傷\n脳性麻痺\n脳性まひ\n"
    "神経難病\n膝の痛み\n骨粗鬆症\n腱板損傷\n靭帯損傷\nテニス肘\nニキビ跡\nニキビ痕\n肌の老化\n肌のハリ\n"
    "色素沈着\n高血圧症\n高脂血症\n心筋梗塞\nぜんそく\nループス\n悪性腫瘍\nリンパ腫\n勃起不全\n勃起障害\n"
    "再生医療\n白玉点滴\n水素吸入\n水素療法\n治療可能\n元気にな\n安定させ\n緩やかに\n働きかけ\nよい影響\n"
    "良い影響\n質を高め\n応用でき\n低下させ\nやわらげ\nやわらぎ\nやわらぐ\n小さくな\n良い結果\nよい結果\n"
    "成果が出\n治療実績\n治療成績\n悪化させ\n増加させ\n治ります\n完全に治\n確実に治\n改善割合\n有効割合\n"
    "適応取得\n認可され\n薬事承認\n診療指針\n行います\nおすすめ\nオススメ\n治療を行\n使われて\n取り入れ\n"
    "臨床的に\n科学的に\n医学的に\n確認され\n確認でき\nすべての\n統計的に\nを目的と\nと言われ\nといわれ\n"
    "報告され\n報告があ\n報告もあ\nとの報告\nとの研究\nとされて\n見込まれ\n注目され\nとのこと\n指摘して\n"
    "という声\nによれば\nによると\nという。\n動物実験\nようです\n場合があ\n場合もあ\nこともあ\nでしょう\n"
    "知られて\n示されて\nなかった\nではなく\n不足して\n不明です\nまだ少な\n研究段階\n初期段階\n実験段階\n"
    "試験段階\n検討段階\n研究途上\n自由診療\n自費診療\n自費治療\nかどうか\nとしたら\nとすれば\nかを理解\n"
    "かを解説\nかを説明\nかを見て\nには注意\nとうたう\nをうたう\n誇大広告\n鵜呑みに\nますが、\nですが、\n"
    "せんが、\nけれども\n適応疾患\n主な適応\n対象疾患\n治療対象\n対象症状\n対応疾患\n診療対象\nこんな方\n"
    "適応可能\n参考文献\n引用文献\n参考資料\n参考論文\n主な論文\n次の様な\n安心安全\n喜びの声\nクチコミ\n"
    "症例写真\n当院だけ\n当院のみ\n当院独自\n最も効果\n最も優れ\n他院より\n不安感\n双極症\n強迫症\n不眠症\n"
    "眠れず\n痴呆症\n物忘れ\n脳出血\n片頭痛\n偏頭痛\n慢性痛\n拒食症\n脳外傷\nしびれ\n関節痛\n肉離れ\nにきび\n"
    "たるみ\n小じわ\nくすみ\n抜け毛\n肥満症\n心不全\n腎不全\n肝疾患\n肝硬変\n脂肪肝\n花粉症\n白血病\n不妊症\n"
    "耳鳴り\n疲労感\n倦怠感\nだるさ\n和らげ\n和らぎ\n良くな\nよくな\n楽にな\n効果的\n取り戻\n和らぐ\n遅らせ\n"
    "落ち着\n好影響\n正常化\n遅くな\n好結果\n好成績\n効き目\n裏付け\n必ず治\n反応率\n寛解率\n奏効率\n奏功率\n"
    "有効率\n改善率\n治癒率\n著効率\n成功率\n完治率\n承認済\n認可済\n厚労省\nご提供\nお勧め\n誰でも\n全ての\n"
    "治験で\n見込め\nを図る\nを図り\nを目指\nと報告\nらしい\nと指摘\nとの声\nと発表\n例もあ\n例があ\nマウス\n"
    "ラット\nようだ\nし得る\nり得る\nしうる\nし得ま\nり得ま\nあり得\nおらず\nられず\nできず\nでなく\n乏しい\n"
    "不十分\n研究中\n治験中\n未確立\n個人差\n未承認\n薬機法\n副反応\n合併症\nお断り\nご遠慮\nならば\nのかを\n"
    "のかは\nるかを\nるかは\n的かを\n的かは\nいかを\nいかは\nたかを\nたが、\nるが、\nいが、\nしかし\nただし\n"
    "一方で\nものの\n適応症\n以下の\n下記の\n体験談\n口コミ\nご感想\nAさん\nBさん\nCさん\nMさん\nKさん\nSさん\n"
    "Tさん\nYさん\n日本一\n世界一\n第1位\n世界初\n日本初\n国内初\n業界初\n県内初\n最高峰\n最先端\n圧倒的\n鬱病\n"
    "抑鬱\nボケ\n癲癇\n腰痛\n禁煙\n断酒\n乾癬\n痤瘡\nシワ\nしわ\nシミ\n肝斑\n薄毛\n効く\n効能\n軽減\n緩和\n回復\n"
    "治る\n治せ\n治す\n抑え\n抑制\n解消\n予防\n防ぐ\n防ぎ\n役立\n消失\n修復\n向上\n軽く\n減る\n減ら\n減り\n減少\n"
    "整う\n整え\n整い\n治ま\n消え\n助け\n促進\n促し\n促す\n延び\n延ば\n発毛\n有用\n若返\n支え\n鎮め\n鎮ま\n殺す\n"
    "殺し\n殺傷\n死滅\n叩く\n叩き\n消す\n消し\n縮小\n証明\n実証\n立証\n根治\n検査\n診断\n健診\n測定\n有意\n劇的\n"
    "全員\n断言\n確信\n望め\n有望\n示唆\n判明\nの量\n数値\n血中\n値が\n値は\nせず\n無い\n無く\n禁忌\n出典\n唯一\n"
    "最良\n最強\npostural orthostatic tachycardia syndrome\nattention deficit hyperactivity disorder\n"
    "attention-deficit/hyperactivity disorder\nattention-deficit hyperactivity disorder\nchronic obstructive "
    "pulmonary disease\nnicotinamide adenine dinucleotide\ntranscranial magnetic stimulation\nage-related "
    "macular degeneration\nin a randomized controlled trial\npremature ovarian insufficiency\npremenstrual "
    "dysphoric disorder\nin randomized controlled trials\ntreatment-resistant depression\npost-traumatic stress "
    "disorder\npost traumatic stress disorder\nobsessive-compulsive disorder\nobsessive compulsive disorder\n"
    "posttraumatic stress disorder\namyotrophic lateral sclerosis\nidiopathic pulmonary fibrosis\ngeneralized "
    "anxiety disorder\ngeneralised anxiety disorder\nneurodevelopmental disorders\nsystemic lupus erythematosus\n"
    "stem cell conditioned medium\nfood and drug administration\nvaries from person to person\nneurodegenerative "
    "disorders\nnicotinamide mononucleotide\nclinical trial participants\nneurodegenerative diseases\n"
    "inflammatory bowel disease\nmolecular hydrogen therapy\nvary from person to person\ndiffer between "
    "individuals\nvaries between individuals\nmajor depressive disorder\nmild cognitive impairment\nmyalgic "
    "encephalomyelitis\ninterstitial lung disease\nmesenchymal stromal cells\nhyperbaric oxygen therapy\n"
    "statistically significant\nhas not been evaluated by\nautism spectrum disorder\nmental health conditions\n"
    "chronic fatigue syndrome\nirritable bowel syndrome\nanti-inflammatory effect\nscientifically validated\n"
    "used in the treatment of\nstatistical significance\nside effects may include\nwithout any side effects\n"
    "social anxiety disorder\nmental health disorders\northostatic intolerance\nstem cell culture fluid\n"
    "association recommended\npsychiatric association\nclinically demonstrated\nmore research is needed\nmore "
    "studies are needed\nconditions that respond\nrecruiting participants\njoin our clinical trial\n"
    "schizophrenic disorder\ntrouble falling asleep\nsubstance use disorder\ntraumatic brain injury\nchronic "
    "kidney disease\nextracellular vesicles\nmesenchymal stem cells\ndendritic cell vaccine\nmeaningful "
    "improvement\ncan say with certainty\ninformational purposes\nside effects can occur\nmild side effects "
    "only\nhear from our patients\npostpartum depression\nlearning disabilities\npsychiatric disorders\n"
    "post-covid conditions\nbinge eating disorder\nautonomic dysfunction\nperipheral neuropathy\nandrogenetic "
    "alopecia\nmyocardial infarction\npremenstrual syndrome\nregenerative medicine\nintravenous vitamin c\nmajor "
    "autohemotherapy\n5-aminolevulinic acid\nclinically meaningful\nscientifically proven\ninsufficient "
    "evidence\nfurther investigation\npossible side effects\nthis article explains\nselected publications\nno "
    "known side effects\nwhat our patients say\nmodel patients wanted\ndevelopmental delays\npsychiatric "
    "symptoms\nalzheimer's dementia\nhuntington's disease\nlou gehrig's disease\nchronic lyme disease\nalcohol "
    "use disorder\nspinal cord injuries\nrheumatoid arthritis\npoor ovarian reserve\nerectile dysfunction\n"
    "platelet-rich plasma\nplatelet rich plasma\nstop the progression\nclinically validated\nguidelines "
    "recommend\nguideline recommends\ncovered by insurance\nin controlled trials\nassociations between\nnot a "
    "substitute for\nside effects include\nside effects such as\nrisk of side effects\nis not available for\n"
    "treatable conditions\nwithout side effects\nfree of side effects\nminimal side effects\npatient "
    "testimonials\nseeking participants\ndepressive symptoms\nclinical depression\npsychotic disorders\n"
    "asperger's syndrome\nlearning disability\ntourette's syndrome\nadjustment disorder\ndifficulty sleeping\n"
    "alzheimer's disease\nparkinson's disease\nhuntington's chorea\ncerebral infarction\npost-covid syndrome\n"
    "autonomic imbalance\ndiabetic neuropathy\nknee osteoarthritis\nhigh blood pressure\nmenopausal symptoms\n"
    "sudden hearing loss\nculture supernatant\nhigh-dose vitamin c\nhigh dose vitamin c\nplacenta injections\n"
    "immune cell therapy\nhydrogen inhalation\ntarget cancer cells\nrate of improvement\napproved by the fda\n"
    "regulatory approval\nmedical association\nregularly prescribe\nin a clinical trial\ncannot be ruled out\n"
    "association between\ncorrelation between\nnot enough evidence\nnot well understood\nneeded to establish\n"
    "needed to determine\nstill being studied\nunder investigation\ntrials are underway\nnot yet established\n"
    "not recommended for\ntargeted conditions\nconditions we treat\nparticipants wanted\nenroll in our study\n"
    "psychotic symptoms\nbipolar depression\nsleep disturbances\nhuntington disease\nmultiple sclerosis\n"
    "nicotine addiction\nspinal cord injury\nmetabolic syndrome\nulcerative colitis\nmenopause symptoms\nvitamin "
    "c infusion\nshock wave therapy\ntherapeutic effect\nguaranteed results\ncleared by the fda\nministry of "
    "health\nin clinical trials\nexperiment in mice\nbeing investigated\ntrials are ongoing\nindividual results\n"
    "does not guarantee\nnot medical advice\nexclusion criteria\nshould not receive\nshould not undergo\nthis "
    "post explains\nthis page explains\nconditions treated\nareas of treatment\nno adverse effects\nfewer side "
    "effects\nin their own words\nfirst in the world\nthe only treatment\ndiscounted monitor\nenrol in our "
    "study\nseeking volunteers\nanxiety disorders\nautistic disorder\nasperger syndrome\nlearning disorder\n"
    "tourette syndrome\ncognitive decline\nalzheimer disease\nparkinson disease\ngambling disorder\nsmoking "
    "cessation\nneurodegeneration\natopic dermatitis\nhyperpigmentation\ndiabetes mellitus\nallergic rhinitis\n"
    "conditioned media\nstem cell therapy\nplacental extract\nshockwave therapy\nchelation therapy\nprotective "
    "effect\nremarkable result\nimpressive result\nexcellent outcome\ndestroying cancer\nclinically proven\nrate "
    "of remission\napproved to treat\nreceived approval\nwithout exception\nemerging evidence\nthere is a "
    "chance\nhas the potential\nneeded to confirm\ntrials are needed\nstill under study\nwe make no claims\nnot "
    "indicated for\ntarget conditions\nwhat can it treat\nzero side effects\nfive-star reviews\nmonitor "
    "programme\nvolunteers wanted\nwe are recruiting\nmajor depression\nbipolar disorder\nmanic depression\n"
    "mental illnesses\ntrouble sleeping\nsleepless nights\nischaemic stroke\nseizure disorder\nchronic migraine\n"
    "tension headache\nneuropathic pain\nlyme borreliosis\npost-acute covid\neating disorders\nanorexia nervosa\n"
    "quitting smoking\nstopping smoking\nhigh cholesterol\nexosome infusion\nno longer suffer\nprolong survival\n"
    "excellent result\npositive outcome\nfrom progressing\nattacking cancer\nattacking tumour\ntherapeutic role\n"
    "improvement rate\nrate of response\nrate of recovery\ncleared to treat\ninsurance covers\nis now available\n"
    "well-established\nassociation with\nlimited evidence\nlack of evidence\nfurther research\nongoing research\n"
    "results may vary\ncannot guarantee\ndo not guarantee\nnot fda-approved\nnot fda approved\nnot suitable for\n"
    "contraindication\nwhat it can help\nliterature cited\nthese conditions\nside-effect free\nside effect free\n"
    "few side effects\nbefore and after\nbefore-and-after\nstate-of-the-art\nmonitor patients\nmonitor campaign\n"
    "sleep disorders\nsenile dementia\nmemory problems\nischemic stroke\nstroke recovery\npersistent pain\nlower "
    "back pain\nbulimia nervosa\nsports injuries\nligament injury\ntype 2 diabetes\ntype 1 diabetes\ncardiac "
    "failure\nliver cirrhosis\ncrohn's disease\nexosome therapy\nozone treatment\nnk cell therapy\npositive "
    "effect\nextend survival\npositive result\nfighting cancer\nresponsible for\nabstinence rate\nin all "
    "patients\nstrong evidence\nrobust evidence\nwith confidence\ncan confidently\nwithout a doubt\nin ten "
    "patients\ncan potentially\ncannot rule out\nassociated with\ncorrelated with\nhigher rates of\nlittle "
    "evidence\nremains unclear\nremains lacking\nfurther studies\ninvestigational\nongoing studies\nnot been "
    "proven\nunsubstantiated\ncan't guarantee\nnot intended to\nwe do not treat\ncontraindicated\nnot a "
    "candidate\nwe do not offer\nin this article\nwe will explain\nwe will discuss\nbe sceptical of\nbe "
    "skeptical of\nwho can benefit\nwho may benefit\nwho is this for\ntreatment areas\nfurther reading\nno side "
    "effects\ncompletely safe\nabsolutely safe\nlittle downtime\npatient stories\nsuccess stories\npatient "
    "reviews\nbetter than any\nthe only clinic\nfirst clinic to\ndepressed mood\npanic disorder\nmood disorders\n"
    "sleep problems\nherniated disc\ndrug addiction\ncerebral palsy\nhyperlipidemia\nkidney failure\nno longer "
    "need\nfeeling better\nlift your mood\nfrom advancing\ndestroy cancer\ndestroy tumour\nremission rate\n"
    "responder rate\nrecommended by\nassociation of\npaving the way\nearly evidence\nit is possible\ncan't rule "
    "out\nhas been shown\nevidence shows\nresearch shows\ncorrelate with\nincreased risk\nlower rates of\nremain "
    "unclear\nfurther trials\nwill be needed\nin its infancy\nresearch stage\nongoing trials\nnot guaranteed\nwe "
    "don't treat\ndoes not treat\ncannot receive\nnot candidates\ni will explain\nlet us look at\ni will "
    "discuss\nbe cautious of\nwhat it treats\nperfectly safe\nwell tolerated\nwell-tolerated\npatient voices\n"
    "5-star reviews\nbefore & after\nbest treatment\nmost effective\nleading clinic\nfirst in japan\nnow "
    "recruiting\njoin our study\nschizophrenia\nsocial phobia\npanic attacks\nsleeplessness\nforgetfulness\nlow "
    "back pain\nsports injury\ntendon injury\nacne scarring\nthinning hair\nheart failure\nheart attacks\nrenal "
    "failure\nliver disease\nozone therapy\nneurofeedback\neffectiveness\nnotice better\nshown success\ngreat "
    "success\nattack cancer\nattack tumour\ncontribute to\ndetermined by\nresponse rate\nrecovery rate\nfda "
    "clearance\nhealth canada\nused to treat\ndemonstrating\nevery patient\nshows promise\nholds promise\nholds "
    "the key\nit is thought\nstudy of mice\nstudy in mice\nstudy in rats\nin some cases\nconcentration\nelevated "
    "risk\nweak evidence\nfurther study\nlarger trials\nadverse event\nrisks include\ncomplications\nlet's look "
    "at\nbe careful of\nprovided that\nwhat we treat\nwho is it for\neffective for\ncan help with\nthe "
    "following\nentirely safe\npatient story\nsuccess story\nmost advanced\nrevolutionary\nhighest rated\n"
    "highest-rated\nworld's first\ncannot sleep\nchronic pain\nfibromyalgia\nquit smoking\nstop smoking\n"
    "dysautonomia\nosteoporosis\ntennis elbow\ntendinopathy\nsagging skin\nhypertension\ndyslipidemia\niv "
    "vitamin c\nregeneration\nsaving lives\nprolong life\nfor treating\ngreat result\ngood outcome\nrespond "
    "well\nsolution for\nfight cancer\nmiracle cure\nsuccess rate\nfda approval\napproved for\nhave cleared\n"
    "recommending\navailable to\nwe prescribe\ndefinitively\ndramatically\nwithout fail\nbeyond doubt\nout of "
    "every\nshow promise\nare expected\nhold the key\npave the way\nare believed\naccording to\nanimal model\n"
    "animal study\nstudies show\nlink between\nreduced risk\ngreater risk\nexperimental\nearly stages\nresults "
    "vary\nno guarantee\nnot approved\nnot eligible\nnevertheless\nbibliography\ntotally safe\nminimal risk\n"
    "before/after\ncutting-edge\ncan't sleep\nmemory loss\npost-stroke\nskin ageing\nfatty liver\ninfertility\n"
    "hot flashes\nhot flushes\nglutathione\neffectively\nefficacious\nalleviating\nfeel better\nfelt better\n"
    "declined by\nin treating\ngood result\nbest result\nhad success\nsolution to\na place for\nresulted in\n"
    "fda-cleared\nfda cleared\ncleared for\nhas cleared\noffered for\nis used for\npermanently\nexpected to\nis "
    "expected\nanticipated\nis believed\nbelieved to\npreliminary\nmouse model\npossibility\nit is known\nblood "
    "level\nlinked with\nmore likely\nless likely\nhigher risk\nrisk factor\nno evidence\nare lacking\nnot "
    "offered\ndo patients\ndo children\nindications\nworks cited\nno downtime\nbest clinic\nworld-class\nworld "
    "class\nsuperior to\npoor sleep\nalzheimers\nparkinsons\nlong covid\nlong-covid\naddictions\nalcoholism\n"
    "dependence\ndependency\nconcussion\njoint pain\nacne scars\nfine lines\nskin aging\nphotoaging\ndark spots\n"
    "overweight\nmalignancy\nexhaustion\nesketamine\npreventing\nprevention\nprotecting\nregenerate\nbeneficial\n"
    "ameliorate\nsave lives\nget rid of\nusefulness\nstrengthen\nsupporting\nsuccessful\ndeactivate\ninactivate\n"
    "success in\na role for\nincreasing\nleading to\nresults in\nsociety of\nacademy of\ncollege of\nwe provide\n"
    "is offered\noffered to\ndiagnostic\nassessment\nevaluation\ndefinitely\nconclusive\ncertain to\nout of ten\n"
    "suggesting\nsuggestive\nreportedly\nthought to\nhypothesis\napparently\nwell known\nlower risk\nrelated to\n"
    "failing to\nis unclear\nis lacking\nnot proven\nunapproved\nunsuitable\nineligible\nwe explain\nbe wary of\n"
    "as long as\nhelps with\nreferences\nsafer than\nunrivalled\nnumber one\npsychosis\nmigraines\nheadaches\n"
    "knee pain\npsoriasis\nage spots\nhair loss\nhay fever\nleukaemia\nimpotence\ntiredness\nimproving\n"
    "relieving\nalleviate\nreduction\nrestoring\nreversing\neliminate\nworks for\nrebalance\nnormalise\n"
    "normalize\nlift mood\nmood lift\nresponded\nresult in\ninfluence\nattenuate\neffect on\nbacked by\ncure "
    "rate\nquit rate\nscreening\ndiagnosis\ncertainly\npromising\nreporting\nappear to\nin animal\nwe report\n"
    "are known\nlinked to\nshouldn't\nunable to\noff-label\nbeware of\ndo people\ncitations\n100% safe\n"
    "risk-free\nrisk free\nvery safe\nunrivaled\nunmatched\ntop-rated\ntop rated\nlow mood\ndyslexia\ninsomnia\n"
    "epilepsy\nnumbness\nwrinkles\nleukemia\nlymphoma\ntinnitus\nexosomes\ndeep tms\nefficacy\nreducing\nwork "
    "for\nregrowth\ndecrease\nmitigate\nleads to\ninducing\nsuppress\nregulate\nmodulate\nwe offer\nrobustly\n"
    "reliably\nno doubt\nannounce\npoint to\npossibly\nwe found\nlevel of\nwouldn't\ncouldn't\nunlikely\n"
    "unproven\nexcluded\nalthough\ngood for\nno risks\nare safe\nlow risk\nthe best\nmelasma\nbalding\nobesity\n"
    "cancers\ntumours\nrelieve\nhelping\nhelpful\nhealing\nrestore\nenhance\nresolve\nreverse\nslowing\nfell by\n"
    "fall by\ndrop by\nkilling\nhalting\ngain in\ncausing\nlead to\ntrigger\ninhibit\npromote\ndisrupt\nendorse\n"
    "testing\nhopeful\nsaid to\nseem to\nperhaps\ndoesn't\nweren't\nhaven't\nneither\nfail to\nnothing\nunknown\n"
    "whether\nin case\nonly if\neven if\ndo they\nhowever\nwhereas\nsources\nis safe\nC-PTSD\nME/CFS\neczema\n"
    "asthma\ntumors\nrelief\nlessen\nrepair\ncombat\nsoothe\nkilled\nshrink\nshrank\nled to\ninduce\nimpede\n"
    "affect\ncuring\nalways\naim to\naim at\nreveal\nlevels\ndidn't\naren't\nwasn't\nhasn't\nhadn't\nunless\ndo "
    "you\nNAFLD\n5-ala\nboost\nhalve\ncause\ndrive\nraise\nshape\nargue\nmight\nmaybe\nisn't\nwon't\ndo we\n"
    "while\nno. 1\nADHD\nPOTS\nFAGA\nNASH\nCOPD\nPMDD\nMSCs\nnad+\nrTMS\ndTMS\nESWT\ncurb\nnone\ndo i\nNo.1\n"
    "TRD\nGAD\nOCD\nASD\nMCI\nALS\nSCI\nTBI\nCKD\nIBD\nIBS\nSLE\nPMS\nAMD\np <\np =\nd =\np<\np=\nd=\n#1\nHome "
    "About Us About Contact Contact Us Book an Appointment Book Now Make an Appointment Request an Appointment "
    "Services Treatments Our Team Our Doctors Meet the Doctor Pricing Fees Insurance FAQ Frequently Asked "
    "Questions Blog News Read More Learn More Privacy Policy Terms of Use Terms and Conditions Sitemap Copyright "
    "All rights reserved. Follow us Call us Phone Email Address Hours Monday Tuesday Wednesday Thursday Friday "
    "Saturday Sunday Closed patients patient treatment therapy clinic doctor physician medical Results may vary. "
    "individual results may vary side effects risks benefits This treatment is not approved by the FDA. These "
    "statements have not been evaluated by the Food and Drug Administration. This product is not intended to "
    "diagnose, treat, cure, or prevent any disease. consultation infusion injection session sessions per session "
    "may help can help has been shown to studies have shown research suggests clinical trials evidence of the "
    "and the in the to the for the with the on the that the is a are is that of our we our you your\nホーム "
    "診療案内 医師紹介 院長紹介 院長挨拶 クリニック紹介 当院について 料金表 料金 費用 アクセス ご予約 予約 "
    "WEB予約 ネット予約 お問い合わせ よくある質問 Q&A 診療時間 受付時間 休診日 日曜・祝日 土曜午後 月曜日 火曜日 "
    "水曜日 木曜日 金曜日 土曜日 日曜日 祝日 午前 午後 電話番号 TEL 住所 〒 東京都 大阪府 駐車場 最寄り駅 "
    "駅から徒歩 分 初診 再診 完全予約制 保険診療 自由診療 保険適用外 税込 税抜 円 副作用 リスク 治療の流れ "
    "カウンセリング 診察 検査 血液検査 点滴 注射 施術 治療 症状 患者様 患者さま 皆様 お気軽にご相談ください "
    "ご来院 来院 当院では 当クリニックでは 医師 看護師 スタッフ 専門医 院長 医療法人 クリニック 病院 内科 "
    "心療内科 精神科 皮膚科 美容皮膚科 整形外科 再生医療 新着情報 お知らせ ブログ コラム 一覧 詳しくはこちら "
    "詳細はこちら 続きを読む プライバシーポリシー 個人情報保護方針 サイトマップ 利用規約 未承認医薬品 "
    "国内で承認されている医薬品はありません 入手経路 安全性 有効性 効果には個人差があります 個人差があります "
    "可能性があります 期待されています されています しています できます ください ございます います "
    "です。ます。ません。でした。 について における に対して による ことが ことで ため など および または 1回 "
    "2回 3回 1クール 約 以上 以下 万円 千円 年 月 日 時 分 〜 ・ 「 」 『 』 （ ） 、 。"
).encode()

PROFILE = 1  # the claim profiles' dictionary now
HEADERS = 2  # the HTTP headers' dictionary now
TEXT = 3  # the extracted texts' dictionary now
# Format byte -> preset dictionary (raw deflate after the byte). A zlib stream starts with 0x78 (the
# rows written before a column had a dictionary), so no number here may be 0x78.
DICTIONARIES = {1: PROFILE_V1, 2: HEADERS_V1, 3: TEXT_V1}
