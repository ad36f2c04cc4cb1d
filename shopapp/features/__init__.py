"""Features: what an app built on shopapp does with Shopify's webhooks and its merchants' jobs.

Each feature is one package here (`shopapp/features/<name>/`): its webhook handlers and job kinds
(`@webhook_handler`, `@job_kind`), its models, its part in the privacy requests (`@redaction`) and its
sample payloads (`samples/<topic with / as _>.json`). The engine never imports one by name: the FEATURES
setting lists them (default: every package in this folder), and each process loads them once at start-up.
`python -m shopapp new webhook TOPIC` and `python -m shopapp new job KIND` scaffold a new one.
"""
