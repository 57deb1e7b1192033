"""Reference pages generated from the code, so they cannot drift from it.

An mkdocs hook (``hooks:`` in mkdocs.yml): a page holding the marker ``<!-- generated: cli -->``
gets the CLI reference, walked from dqaudit's click group (usage, arguments, every option with
its help); ``<!-- generated: config -->`` gets every dqaudit.yaml key with its default and
description, walked from the pydantic models (each checker's ``Params`` included);
``<!-- generated: points -->`` gets every checker's points table (``Checker.points``).
``python docs/gen_reference.py cli|config|points`` prints one of them.
"""

from __future__ import annotations

import inspect
import re
import sys
from typing import Any, Literal, Union, get_args, get_origin

import click
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

MARKERS = {"cli": "<!-- generated: cli -->", "config": "<!-- generated: config -->",
           "points": "<!-- generated: points -->"}
_SPECIAL = re.compile(r"([\\`*_\[\]|])")


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (no emphasis, links, HTML or column breaks)."""
    return _SPECIAL.sub(r"\\\1", text.replace("\n", " ")).replace("<", "&lt;")


def _prose(text: str) -> str:
    """A docstring paragraph as Markdown: reST double backquotes become code spans; ``<`` cannot open HTML."""
    return " ".join(text.split()).replace("``", "`").replace("<", "&lt;")


def _help_text(command: click.Command) -> str:
    """The command's help as Markdown paragraphs (click's ``\\b`` no-rewrap markers dropped)."""
    text = inspect.cleandoc(command.help or "")
    return "\n".join(line for line in text.splitlines() if line.strip() != "\b").replace("<", "&lt;")


def _command_section(name: str, command: click.Command, parent: click.Context, level: int) -> list[str]:
    ctx = click.Context(command, info_name=name, parent=parent)
    path = ctx.command_path
    lines = [f"{'#' * level} `{path}`", "", _help_text(command), ""]
    lines += ["```text", command.get_usage(ctx), "```", ""]
    arguments = [p for p in command.get_params(ctx) if isinstance(p, click.Argument)]
    if arguments:
        lines += ["Arguments: " + ", ".join(f"`{p.make_metavar(ctx)}`" for p in arguments), ""]
    records = [p.get_help_record(ctx) for p in command.get_params(ctx) if isinstance(p, click.Option)]
    rows = [r for r in records if r]
    if rows:
        lines += ["| option | what it does |", "|---|---|"]
        lines += [f"| `{opts}` | {_cell(text)} |" for opts, text in rows]
        lines.append("")
    if isinstance(command, click.Group):
        for sub_name, sub in command.commands.items():
            lines += _command_section(sub_name, sub, ctx, level + 1)
    return lines


def cli_reference() -> str:
    """Every command of ``dqaudit``, in the order ``dqaudit --help`` lists them."""
    from dqaudit.cli import cli

    return "\n".join(_command_section("dqaudit", cli, None, 2)).rstrip() + "\n"  # type: ignore[arg-type]


def _type_name(annotation: Any) -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return " | ".join(repr(a) for a in args)
    if origin is Union or type(annotation).__name__ == "UnionType":
        return " | ".join(_type_name(a) for a in args)
    if origin in (list, tuple, dict):
        inner = ", ".join("…" if a is Ellipsis else _type_name(a) for a in args)
        return f"{origin.__name__}[{inner}]"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "(required)"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "(section)"
    if isinstance(value, tuple):
        value = list(value)
    return "null" if value is None else repr(value)


def _row(key: str, field: FieldInfo) -> str:
    kind, meaning = _cell(_type_name(field.annotation)), _cell(field.description or "")
    return f"| `{key}` | {kind} | `{_default(field)}` | {meaning} |"


def _model_rows(prefix: str, model: type[BaseModel]) -> list[str]:
    return [_row(prefix + key, field) for key, field in model.model_fields.items()]


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def config_reference() -> str:
    """Every key of dqaudit.yaml: the top-level sections, then one table per checker."""
    from dqaudit.config import AuditConfig
    from dqaudit.registry import available_checkers

    header = ["| key | type | default | meaning |", "|---|---|---|---|"]
    top = [
        _row(key, field) for key, field in AuditConfig.model_fields.items()
        if key != "checks" and not _is_model(field.annotation)
    ]
    lines = ["### Top level", "", *header, *top, ""]
    for key, field in AuditConfig.model_fields.items():
        if _is_model(field.annotation):
            doc = inspect.cleandoc(field.annotation.__doc__ or "")
            lines += [f"### `{key}`", ""]
            if field.description or doc:
                paragraphs = [field.description] if field.description else doc.split("\n\n")
                lines += [*(_prose(p) + "\n" for p in paragraphs)]
            lines += [*header, *_model_rows(f"{key}.", field.annotation), ""]
    lines += ["### `checks`", "", "One block per check; unknown checks and keys are errors.", ""]
    for name, checker in available_checkers().items():
        lines += [
            f"#### `checks.{name}`",
            "",
            f"{_cell(checker.description)} Default weight {checker.default_weight:g}"
            f"{'' if checker.default_enabled else ', off unless enabled'}. "
            f"[The {name} check](checks/{name}.md).",
            "",
            *header,
            *_model_rows(f"checks.{name}.", checker.Params),
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def points_reference() -> str:
    """What each kind of finding costs, one row per entry of every checker's ``points`` table."""
    import math

    from dqaudit.registry import available_checkers

    lines = ["| check | charge | points | per | at most |", "|---|---|---|---|---|"]
    for name, checker in available_checkers().items():
        for charge, points in checker.points.items():
            cap = "" if math.isinf(points.cap) else f"{points.cap:g}"
            link = f"[`{name}`](checks/{name}.md)"
            lines.append(f"| {link} | `{charge}` | {points.scale:g} | {_cell(points.per)} | {cap} |")
    return "\n".join(lines) + "\n"


GENERATORS = {"cli": cli_reference, "config": config_reference, "points": points_reference}


def on_page_markdown(markdown: str, **_: Any) -> str:
    """mkdocs hook: replace each marker on a page with its generated reference."""
    for name, marker in MARKERS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, GENERATORS[name]())
    return markdown


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in GENERATORS:
        sys.exit(f"usage: python docs/gen_reference.py {'|'.join(GENERATORS)}")
    sys.stdout.write(GENERATORS[sys.argv[1]]())
