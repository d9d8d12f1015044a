"""The fetching half of watcher: a thin, polite Scrapy project run as ``python -m spiders``.

It reads ``FetchTarget`` JSON lines on stdin and writes one ``Capture`` JSON line per target on
stdout; ``watcher.crawl`` runs it in a subprocess. Spiders never touch the database or diff.
"""
