"""Hostile inputs: a generated corpus of malformed, adversarial and huge inputs, each with its outcome.

``cases.py`` builds the inputs, ``runner.py`` runs ``dqaudit audit`` on one and inspects
everything it wrote, ``report.py`` regenerates docs/hostile.md from the same run.
"""
