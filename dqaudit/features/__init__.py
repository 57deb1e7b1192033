"""Derived data shared by the checks, the splitter and the engines.

Each module computes one kind of per-record fact (exact groups, near-duplicate clusters,
annotators' consensus, languages, text lengths, embeddings) from an
:class:`~dqaudit.context.AuditContext`, once per run (memoised on the context, keyed by the
feature function) and, where it pays, cached on disk per record. A feature reads its own
settings (``Params.of(config, check)``) and never imports a checker.
"""
