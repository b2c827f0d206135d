"""The strategy templates for people: what each is, and a new spec to start from.

``alphaloop strategy templates`` lists :func:`template_catalog`;
``alphaloop strategy new TEMPLATE --data NAME --set key=value ... --out
spec.yaml`` writes :func:`new_template_spec`. A ``--set`` key names a
template parameter (``entry=2.5``) or, dotted, a spec field
(``limits.max_leverage=1.5``, ``rebalance.frequency=weekly``); values are
read as YAML scalars (``true``, ``0.5``, ``[AAPL, MSFT]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from alphaloop.backtest import StrategySpec
from alphaloop.errors import SpecError
from alphaloop.strategies import TEMPLATES, TemplateParams

if TYPE_CHECKING:
    from alphaloop.app.workspace import Workspace

__all__ = ["new_template_spec", "parse_settings", "template_catalog", "write_spec"]

#: spec fields a bare (undotted) --set key may name, when no template parameter has it
_SPEC_KEYS = frozenset(StrategySpec.model_fields) - {"template"}


def _param_rows(cls: type[TemplateParams]) -> list[dict[str, Any]]:
    rows = []
    for name, f in cls.model_fields.items():
        if name == "template":
            continue
        annotation = getattr(f.annotation, "__name__", None) or str(f.annotation)
        rows.append(
            {
                "name": name,
                "type": annotation.replace("typing.", ""),
                "default": None if f.is_required() else f.get_default(call_default_factory=True),
                "required": f.is_required(),
                "grid": list(cls.GRID.get(name, ())),
                "description": f.description or "",
            }
        )
    return rows


def template_catalog() -> list[dict[str, Any]]:
    """Every template: name, title, summary, output, parameters, assumptions, pitfalls.

    JSON-ready, sorted by name; each parameter with its type, default and
    the values the research engine searches (``grid``).
    """
    out = []
    for name in sorted(TEMPLATES):
        cls = TEMPLATES[name]
        out.append(
            {
                "name": name,
                "title": cls.TITLE,
                "summary": cls.SUMMARY,
                "output": cls.OUTPUT,
                "reads_signal": cls.USES_SIGNAL,
                "fields": list(cls.FIELDS),
                "parameters": _param_rows(cls),
                "assumes": list(cls.ASSUMES),
                "pitfalls": list(cls.PITFALLS),
                "docs": f"docs/strategies/{name}.md",
            }
        )
    return out


def parse_settings(settings: Sequence[str]) -> list[tuple[str, Any]]:
    """``key=value`` pairs, values read as YAML scalars.

    Raises
    ------
    SpecError
        A setting without ``=`` or with an empty key.
    """
    pairs = []
    for item in settings:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise SpecError(
                f"--set {item!r} is not key=value", hint="e.g. --set entry=2.5 or "
                "--set limits.max_leverage=1.5"
            )  # fmt: skip
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            value = text
        pairs.append((key.strip(), value))
    return pairs


def _put(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {} if child is None or not isinstance(child, dict) else child
            node[part] = child
        node = child
    node[parts[-1]] = value


def new_template_spec(
    name: str,
    data: str,
    settings: Sequence[str] = (),
    *,
    ws: Workspace | None = None,
) -> StrategySpec:
    """A validated spec of template ``name`` on dataset ``data``.

    Starts from the template's defaults and its
    :meth:`~alphaloop.strategies.TemplateParams.spec_defaults`, then applies
    ``settings`` (see the module docstring). With a workspace, the dataset
    must exist there and have the fields the template reads; a dataset
    without opens gets next-close fills.

    Raises
    ------
    SpecError
        An unknown template, a bad setting or an invalid result (naming the field).
    DatasetNotFoundError
        ``data`` is not in the workspace.
    """
    if name not in TEMPLATES:
        raise SpecError(
            f"unknown strategy template {name!r}",
            hint=f"templates: {', '.join(sorted(TEMPLATES))} (alphaloop strategy templates)",
        )
    cls = TEMPLATES[name]
    params: dict[str, Any] = {"template": name}
    spec: dict[str, Any] = {"name": f"{name}-{data}", "data": data}
    template_keys = set(cls.model_fields) - {"template"}
    pending: list[tuple[str, Any]] = []
    for key, value in parse_settings(settings):
        if key in template_keys:
            params[key] = value
        elif key.split(".", 1)[0] in _SPEC_KEYS:
            pending.append((key, value))
        else:
            raise SpecError(
                f"--set {key}: neither a parameter of template {name} "
                f"({', '.join(sorted(template_keys)) or 'none'}) nor a spec field",
                hint="spec fields: " + ", ".join(sorted(_SPEC_KEYS)),
            )
    try:
        template = cls.model_validate(params)
    except ValueError as exc:
        raise SpecError(f"template {name}: {exc}") from None
    for key, value in template.spec_defaults().items():
        spec[key] = value
    if ws is not None:
        info = ws.data.info(data)
        missing = [f for f in cls.FIELDS if f not in info.fields]
        if missing:
            raise SpecError(
                f"template {name} reads {', '.join(missing)}; {data!r} has "
                f"{', '.join(info.fields)}",
                hint="choose a dataset with those fields",
            )
        if "open" not in info.fields:
            spec["fills"] = "next_close"
    for key, value in pending:
        _put(spec, key, value)
    spec["template"] = template.model_dump(mode="json")
    return StrategySpec.from_dict(spec, source=f"template {name}")


def write_spec(spec: StrategySpec, path: Path, *, force: bool = False) -> Path:
    """Write ``spec`` as YAML with a header naming its template; never overwrite unless ``force``.

    Raises
    ------
    SpecError
        The file exists (and ``force`` is false).
    """
    if path.exists() and not force:
        raise SpecError(f"{path} exists; not overwriting it", hint="pass --force, or another --out")
    header = []
    if spec.template is not None:
        cls = type(spec.template)
        header.append(f"# {cls.TITLE}: {cls.SUMMARY}")
        header += [f"# assumes: {a}" for a in cls.ASSUMES]
        header.append(f"# docs/strategies/{spec.template.template}.md")
    body = spec.model_dump(mode="json")
    if not spec.uses_portfolio_rule:
        for name in ("portfolio", "exits"):  # they apply to signals only
            del body[name]
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(body, sort_keys=False)
    path.write_text("\n".join(header) + ("\n" if header else "") + text)
    return path
