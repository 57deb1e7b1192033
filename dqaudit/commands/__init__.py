"""CLI commands that live in their own modules; ``dqaudit.cli`` registers each with ``cli.add_command``."""
