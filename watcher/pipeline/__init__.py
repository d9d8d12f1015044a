"""The write path: a check's way from the crawl to alerts. The modules, in the order the data flows:

1. ``run``        run the checks: batches of sources through the crawl subprocess, each capture
                  recorded as it arrives, then the discovery hook and the new pages it found.
2. ``record``     record a capture: the check, the quality gate, the snapshot, the text version and
                  the change against the previous comparable version.
3. ``analyse``    analyse a new text version: its claim profile, compared with the previous one.
4. ``alerts``     record the findings as alerts, idempotently (the flip-flop rule).
5. ``new_pages``  the alerts of a newly discovered page (``new_page``, markers, clinic level).
6. ``passages``   the search index of a new text version: distinct passages and per-source intervals
                  (``record`` calls it; ``reindex`` builds it for stored versions).
7. ``claim_steps`` the claim timelines' index: each change of a page's strength per indication
                  (``passages`` keeps it with the passage index).

``discover`` is the discovery hook of step 1: it reads the stored capture of a site source with the
pure ``watcher.links`` and records the pages found as sources.

Imports point one way, in the order run, discover, record, analyse, new_pages, alerts, passages, claim_steps: a module
imports only modules after it in that order (tests/test_layers.py). ``record`` calls the analysis
through the ``on_new_version`` hook that ``run`` passes it, so it never imports a later step.
"""
