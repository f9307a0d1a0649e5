"""The dashboard's rule editor: a draft's groups and conditions as two flat formsets.

The tree travels as keys: each group form names its parent group (empty for a tier's group),
each condition form its group. A stored group's key is "g<pk>", a stored condition's "c<pk>";
rows added while editing get "n<i>" / "x<i>". Adding a row, a nested group or a tier's group, and
moving a condition up or down, re-render the posted form with the change and save nothing; only
"Save draft" writes, all at once (services_rules.save_draft), after every row passed the checks
of tiering.rule_checks (the same the admin and publishing use), each error on its field.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django import forms
from django.forms import formset_factory
from django.http import QueryDict
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from .catalogue import METRICS, OPERATOR_CHOICES, POPULATION_CHOICES
from .models import Condition, RuleGroup, RuleSet, Tier
from .rule_checks import MAX_NESTING, condition_errors, own_group_problems
from .rules import NEEDS, Cond
from .services_rules import ConditionEdit, GroupEdit
from .tiers import FALLBACK_LEVEL

GROUPS, CONDITIONS = "group", "cond"
KIND_NAMES = {"money": "Money", "count": "Counts", "days": "Days", "ratio": "Shares (0.05 = 5%)"}
METRIC_CHOICES = [("", "Choose a metric")] + [
    (KIND_NAMES[kind], [(m.name, m.label) for m in METRICS.values() if m.kind == kind]) for kind in KIND_NAMES
]
MATCH_CHOICES = [(key, text) for key, text in NEEDS.items()]
# short enough for the editor's row; the same keys as catalogue.POPULATIONS
POPULATION_LABELS = {
    "everyone": "all customers",
    "buyers": "buyers in the window",
    "repeat": "repeat buyers (2+ orders)",
}
POPULATION_SELECT = [("", "—")] + [(key, POPULATION_LABELS.get(key, label)) for key, label in POPULATION_CHOICES]


class PlainSelect(forms.Select):
    """A select written out in Python: the editor shows several hundred options, and rendering
    each through the widget templates took most of the page's time (0.5 s for 17 conditions)."""

    def render(self, name, value, attrs=None, renderer=None):
        chosen = "" if value is None else str(value)
        html = format_html(
            "<select{}>", forms.utils.flatatt(self.build_attrs(self.attrs, {**(attrs or {}), "name": name}))
        )
        for key, label in self.choices:
            if isinstance(label, (list, tuple)):
                html += format_html('<optgroup label="{}">{}</optgroup>', key, self._options(label, chosen))
            else:
                html += self._options([(key, label)], chosen)
        return html + mark_safe("</select>")

    @staticmethod
    def _options(choices, chosen: str) -> str:
        return format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            ((key, " selected" if str(key) == chosen else "", label) for key, label in choices),
        )


class GroupForm(forms.Form):
    key = forms.CharField(widget=forms.HiddenInput)
    parent = forms.CharField(widget=forms.HiddenInput, required=False)
    level = forms.IntegerField(widget=forms.HiddenInput)
    match = forms.ChoiceField(choices=MATCH_CHOICES, label="Holds when", widget=PlainSelect)


class ConditionForm(forms.Form):
    key = forms.CharField(widget=forms.HiddenInput)
    group = forms.CharField(widget=forms.HiddenInput)
    # plain text fields behind the selects: an unknown metric or comparison gets rule_checks' message
    metric = forms.CharField(label="Metric", widget=PlainSelect(choices=METRIC_CHOICES))
    op = forms.CharField(label="Comparison", widget=PlainSelect(choices=OPERATOR_CHOICES))
    value = forms.DecimalField(
        label="Value", max_digits=14, decimal_places=4, widget=forms.TextInput(attrs={"inputmode": "decimal"})
    )
    percentile = forms.DecimalField(
        label="Percentile",
        required=False,
        max_digits=5,
        decimal_places=2,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "none"}),
    )
    population = forms.CharField(label="of", required=False, widget=PlainSelect(choices=POPULATION_SELECT))

    def clean(self):
        data = super().clean()
        if self.errors:  # a field is already wrong: its own message says what
            return data
        found = condition_errors(data["metric"], data["op"], data["value"], data["percentile"], data["population"])
        for name, message in found.items():
            self.add_error(name, message)
        return data


GroupFormSet = formset_factory(GroupForm, extra=0, can_delete=True)
ConditionFormSet = formset_factory(ConditionForm, extra=0, can_delete=True, can_order=True)


@dataclass
class Node:
    """One group of the tree as the page shows it."""

    form: GroupForm
    key: str
    level: int
    depth: int
    conditions: list[ConditionForm] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)
    inside_removed: bool = False  # sits in a group marked for removal

    @property
    def removed(self) -> bool:
        return self.deleted or self.inside_removed

    @property
    def can_nest(self) -> bool:
        return self.depth < MAX_NESTING

    @property
    def deleted(self) -> bool:
        return bool(self.form["DELETE"].value())


class DraftEditor:
    """The editor's forms for one draft, unbound (from the stored draft) or bound to a POST."""

    def __init__(
        self, ruleset: RuleSet, data: QueryDict | None = None, *, unsaved: QueryDict | None = None, focus: str = ""
    ) -> None:
        """`data`: a POST to check and save. `unsaved`: posted data to show again after an editing
        step, as unbound forms (a row just added is not an error yet)."""
        self.ruleset = ruleset
        self.focus = focus  # the id of the field to focus (a row just added)
        self.tiers = list(Tier.objects.filter(level__gt=FALLBACK_LEVEL).order_by("-level"))
        self.errors: list[str] = []  # problems of the whole edit (save_draft's refusal)
        if data is None:
            groups, conditions = (
                _initial(ruleset) if unsaved is None else (_posted(unsaved, GROUPS), _posted(unsaved, CONDITIONS))
            )
            self.groups = GroupFormSet(initial=groups, prefix=GROUPS)
            self.conditions = ConditionFormSet(initial=conditions, prefix=CONDITIONS)
        else:
            self.groups = GroupFormSet(data, prefix=GROUPS)
            self.conditions = ConditionFormSet(data, prefix=CONDITIONS)

    # --- the tree ----------------------------------------------------------------------------

    def tree(self) -> list[tuple[Tier, Node | None]]:
        """Each tier above the fallback, highest first, with its group (None when it has none)."""
        roots = {node.level: node for node in self._nodes() if node.depth == 0}
        return [(tier, roots.get(tier.level)) for tier in self.tiers]

    def _nodes(self) -> list[Node]:
        """Every group reachable from a tier's group (a group whose parent is unknown is left out
        of the tree; validation reports it)."""
        children: dict[str, list[GroupForm]] = {}
        for f in self._forms(self.groups):
            children.setdefault(str(f["parent"].value() or ""), []).append(f)
        conditions: dict[str, list[ConditionForm]] = {}
        for f in sorted(self._forms(self.conditions), key=_order):
            conditions.setdefault(str(f["group"].value()), []).append(f)
        nodes: list[Node] = []

        def visit(f: GroupForm, depth: int, inside_removed: bool) -> Node:
            key = str(f["key"].value())
            node = Node(f, key, _int(f["level"].value()), depth, conditions.get(key, []), inside_removed=inside_removed)
            nodes.append(node)
            if depth <= MAX_NESTING + 1:  # a posted cycle or a too-deep chain stops here
                node.children = [visit(c, depth + 1, node.removed) for c in children.get(key, []) if c is not f]
            return node

        for f in children.get("", []):
            visit(f, 0, False)
        return nodes

    @staticmethod
    def _forms(formset) -> list:
        """The formset's forms; none when its management form was tampered with."""
        return formset.forms if formset.is_bound is False or formset.management_form.is_valid() else []

    # --- validation --------------------------------------------------------------------------

    def is_valid(self) -> bool:
        if not (self.groups.management_form.is_valid() and self.conditions.management_form.is_valid()):
            self.errors.append("The form was incomplete: reload the page and edit again.")
            return False
        nodes = self._live(self._nodes())
        reachable = {id(n.form) for n in nodes}
        ok = all(n.form.is_valid() for n in nodes)
        ok = all([c.is_valid() for n in nodes for c in self._live_conditions(n)]) and ok
        for f in self.groups.forms:
            if id(f) not in reachable and not f["DELETE"].value():
                f.add_error(None, "This group sits in a group that is not part of the draft: reload the page.")
                self.errors.append("A group sits in a group that is not part of the draft: reload the page.")
                ok = False
        return self._check_groups(nodes) and ok

    def _check_groups(self, nodes: list[Node]) -> bool:
        ok = True
        levels = {t.level for t in self.tiers}
        seen: set[int] = set()
        for node in nodes:
            if node.depth == 0:
                if node.level not in levels or node.level in seen:
                    node.form.add_error(None, f"Tier {node.level} cannot take this group: it has one, or no such tier.")
                    ok = False
                seen.add(node.level)
            live = self._live_conditions(node)
            valid = [_cond(c) for c in live if c.is_valid()]
            nested = len([n for n in node.children if not n.deleted]) + len(live) - len(valid)
            for message in own_group_problems(node.form["match"].value(), valid, nested=nested, depth=node.depth):
                node.form.add_error(None, message)
                ok = False
        return ok

    @staticmethod
    def _live(nodes: list[Node]) -> list[Node]:
        """Groups not removed, nor inside a removed group."""
        live: list[Node] = []

        def walk(node: Node) -> None:
            if node.deleted:
                return
            live.append(node)
            for child in node.children:
                walk(child)

        for node in nodes:
            if node.depth == 0:
                walk(node)
        return live

    @staticmethod
    def _live_conditions(node: Node) -> list[ConditionForm]:
        return [c for c in node.conditions if not c["DELETE"].value()]

    def edits(self) -> tuple[list[GroupEdit], list[ConditionEdit]]:
        """The draft as the valid forms say it should be (call after is_valid())."""
        groups, conditions = [], []
        for node in self._live(self._nodes()):
            data = node.form.cleaned_data
            groups.append(
                GroupEdit(data["key"], data["parent"] or None, data["level"], data["match"], _pk(data["key"], "g"))
            )
            for position, c in enumerate(self._live_conditions(node)):
                d = c.cleaned_data
                conditions.append(
                    ConditionEdit(
                        group=node.key,
                        metric=d["metric"],
                        op=d["op"],
                        value=d["value"],
                        percentile=d["percentile"],
                        population=d["population"],
                        position=position,
                        pk=_pk(d["key"], "c"),
                    )
                )
        return groups, conditions

    def error_summary(self) -> Iterator[tuple[str, str]]:
        """(field id, "where: message") for every error, in page order, for the summary on top."""
        for tier, root in self.tree():
            if root is None:
                continue
            yield from self._node_errors(root, f"Tier {tier.level}")

    def _node_errors(self, node: Node, where: str) -> Iterator[tuple[str, str]]:
        if node.deleted:
            return
        for message in node.form.non_field_errors():
            yield node.form["match"].id_for_label, f"{where}: {message}"
        for number, c in enumerate(self._live_conditions(node), start=1):
            for name, messages in c.errors.items():
                target = c[name].id_for_label if name in c.fields else c["metric"].id_for_label
                yield from ((target, f"{where}, condition {number}: {m}") for m in messages)
        for number, child in enumerate(node.children, start=1):
            yield from self._node_errors(child, f"{where}, nested group {number}")


# --- building and changing the posted data ---------------------------------------------------


def _initial(ruleset: RuleSet) -> tuple[list[dict], list[dict]]:
    """The stored draft as initial form data: groups parents first, conditions in their order."""
    stored = list(RuleGroup.objects.filter(ruleset=ruleset).select_related("tier").order_by("id"))
    groups = [
        {"key": f"g{g.pk}", "parent": f"g{g.parent_id}" if g.parent_id else "", "level": g.tier.level, "match": g.match}
        for g in sorted(stored, key=lambda g: (g.parent_id is not None, -g.tier.level, g.pk))
    ]
    conditions = [
        {
            "key": f"c{c.pk}",
            "group": f"g{c.group_id}",
            "metric": c.metric,
            "op": c.op,
            "value": _plain(c.value),
            "percentile": None if c.percentile is None else _plain(c.percentile),
            "population": c.population,
            "ORDER": c.position + 1,
        }
        for c in Condition.objects.filter(group__ruleset=ruleset).order_by("group_id", "position", "id")
    ]
    return groups, conditions


def _posted(data: QueryDict, prefix: str) -> list[dict]:
    """A formset's posted rows as initial data, in their order; a ticked box as True."""
    return [
        {name: (True if name == "DELETE" else value) for name, value in row.items() if name != "DELETE" or value}
        for _, row in sorted(_rows(data, prefix).items())
    ]


def apply_action(data: QueryDict, action: str) -> tuple[QueryDict, str]:
    """The posted data with one editing step applied (nothing is saved), and the id of the field to
    focus next. `action`: "cond:<group key>", "group:<group key>", "tier:<level>",
    "up:<condition key>" or "down:<condition key>"; anything else changes nothing."""
    data = data.copy()
    verb, _, target = action.partition(":")
    if verb == "cond":
        return data, _add_condition(data, target)
    if verb in ("group", "tier"):
        groups = _rows(data, GROUPS)
        parent = next((row for row in groups.values() if row.get("key") == target), None) if verb == "group" else None
        if verb == "group" and parent is None:
            return data, ""
        level = parent["level"] if parent else target
        key = _add_row(
            data, GROUPS, {"key": "n{i}", "parent": target if parent else "", "level": level, "match": "all"}
        )
        return data, _add_condition(data, key)
    if verb in ("up", "down"):
        _move(data, target, -1 if verb == "up" else 1)
        return data, ""
    return data, ""


def _add_condition(data: QueryDict, group: str) -> str:
    orders = [_int(row.get("ORDER")) for row in _rows(data, CONDITIONS).values() if row.get("group") == group]
    values = {
        "key": "x{i}",
        "group": group,
        "metric": "",
        "op": "gte",
        "value": "",
        "ORDER": max(orders, default=0) + 1,
    }
    _add_row(data, CONDITIONS, values)
    return f"id_{CONDITIONS}-{int(data[f'{CONDITIONS}-TOTAL_FORMS']) - 1}-metric"


def _add_row(data: QueryDict, prefix: str, values: dict) -> str:
    """Append one form to a formset's data; "{i}" in a value becomes the form's index."""
    index = _int(data.get(f"{prefix}-TOTAL_FORMS"))
    for name, value in values.items():
        data[f"{prefix}-{index}-{name}"] = str(value).replace("{i}", str(index))
    data[f"{prefix}-TOTAL_FORMS"] = str(index + 1)
    return str(values.get("key", "")).replace("{i}", str(index))


def _move(data: QueryDict, key: str, step: int) -> None:
    """Swap a condition with its neighbour in the group (in the order the page shows them)."""
    rows = _rows(data, CONDITIONS)
    mine = next((i for i, row in rows.items() if row.get("key") == key), None)
    if mine is None:
        return
    group = [i for i, row in sorted(rows.items(), key=lambda item: (_int(item[1].get("ORDER")), item[0]))
             if row.get("group") == rows[mine].get("group")]  # fmt: skip
    here = group.index(mine)
    if not 0 <= here + step < len(group):
        return
    order = {i: n for n, i in enumerate(group, start=1)}
    order[mine], order[group[here + step]] = order[group[here + step]], order[mine]
    for i, n in order.items():
        data[f"{CONDITIONS}-{i}-ORDER"] = str(n)


def _rows(data: QueryDict, prefix: str) -> dict[int, dict[str, str]]:
    """The formset's posted rows by index: {index: {field: value}}."""
    rows: dict[int, dict[str, str]] = {}
    for name in data:
        head, _, rest = name.partition("-")
        index, _, field_name = rest.partition("-")
        if head == prefix and index.isdigit() and field_name:
            rows.setdefault(int(index), {})[field_name] = data[name]
    return rows


def _order(form: ConditionForm) -> tuple[int, int]:
    """Where a condition form is shown: by its ORDER, rows without one last, then as posted."""
    return _int(form["ORDER"].value(), 10**6), _int(form.prefix.rpartition("-")[2])


def _int(value: object, default: int = 0) -> int:
    try:
        return int(str(value))
    except ValueError:
        return default


def _pk(key: str, letter: str) -> int | None:
    return int(key[1:]) if key.startswith(letter) and key[1:].isdigit() else None


def _plain(d: Decimal) -> str:
    """5000, not 5000.0000."""
    return f"{d.normalize():f}"


def _cond(form: ConditionForm) -> Cond:
    d = form.cleaned_data
    return Cond(d["metric"], d["op"], d["value"], percentile=d["percentile"], population=d["population"] or "")
