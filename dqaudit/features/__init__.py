"""Derived data and pure rules shared by checks, the splitter and the engines (never importing a checker)."""
