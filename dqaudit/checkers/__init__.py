"""Built-in checkers; each module registers one or more :class:`~dqaudit.checkers.base.Checker`."""
