"""What `--diagnostics` measured, as the terminal and the report page show it: each layer's
first-epoch weight-gradient norm and its ratio to the output layer's, one table a model or one
row a variant, and what `dead` and `saturated` mean beside them. The activation facts come from
the registry (`model/activations.py`), imported only where a table is made."""

from __future__ import annotations

import math
from itertools import pairwise

from rich.table import Table

from nncli.config.keys import short_key, shown_value
from nncli.report.fit import Column, build_table

NORM_HEADER = "‖∂L/∂W‖"  # each layer's weight-gradient norm, averaged over the first epoch's steps


def ratio_cell(value: float | None, digits: int = 1) -> str:
    """`3.2e-7`: `digits` after the point and the exponent, so a column of them lines up (`1.3`
    from 1 to 10); `1` for the output layer's own, `0` for a layer no gradient reaches."""
    if value is None:
        return "-"
    if value in (0.0, 1.0) or not math.isfinite(value):  # `nan`, `inf` as they are
        return f"{value:g}"
    mantissa, exponent = f"{value:.{digits}e}".split("e")
    return mantissa if int(exponent) == 0 else f"{mantissa}e{int(exponent)}"  # 1.3, not 1.3e0


def layer_names(count: int) -> list[str]:
    """`1`, `2`, ... for the hidden layers' weights (input side first), `output` for the last."""
    return [*(str(i) for i in range(1, count)), "output"] if count else []


def model_gradient_rows(diagnostics: dict) -> tuple[list[str], list[list[str]]]:
    """One model's gradients (metrics.json's `diagnostics`) as a header and text rows, a weight
    matrix a row, input side first: its shape, its norm and that over the output layer's."""
    norms, ratios = diagnostics["grad_norms"], diagnostics["grad_ratios"]
    sizes = diagnostics.get("sizes") or []
    shapes = [f"{a} → {b}" for a, b in pairwise(sizes)]
    if len(shapes) != len(norms):
        shapes = [""] * len(norms)
    header = ["layer", "inputs → units", NORM_HEADER, "÷ output layer's"]
    cells = zip(layer_names(len(norms)), shapes, norms, ratios, strict=True)
    return header, [[name, shape, ratio_cell(n), ratio_cell(r)] for name, shape, n, r in cells]


def grid_gradient_rows(
    keys: list[tuple[str, list[str]]], results: list[dict], digits: int = 1
) -> tuple[list[str], list[list[str]]]:
    """A sweep's or comparison's gradients, a variant a row (mean over seeds): its values (a
    column per key, `keys` pairing each header with its cells), each hidden layer's norm over the
    output layer's (input side first; blank past a shallower variant's last), then the output
    layer's own norm; `digits` after the point."""
    hidden = max(len(r.get("grad_norms") or []) for r in results) - 1
    header = [name for name, _ in keys]
    header += [str(i) for i in range(1, hidden + 1)] + ["output"]
    rows = [
        [*values, *_padded(r, hidden, digits), ratio_cell((r.get("grad_norms") or [None])[-1])]
        for r, *values in zip(results, *(cells for _, cells in keys), strict=True)
    ]
    return header, rows


def gradient_keys(
    record_key: str | None, varied: list[str], results: list[dict]
) -> list[tuple[str, list[str]]]:
    """What names each row of a grid's gradient table: a comparison's `record_key` (the
    activation), else a column per varied key (`lr`, `depth`)."""
    if record_key is not None:
        return [(record_key, [str(r.get(record_key)) for r in results])]
    return [
        (short_key(key, varied), [shown_value(r.get("values", {}).get(key)) for r in results])
        for key in varied
    ]


MODEL_TITLE = "Gradient by layer (first epoch)"


def grid_title(results: list[dict]) -> str:
    """What a grid's gradient table holds: the mean over seeds, or one seed's."""
    one = all(len(r.get("seeds") or []) == 1 for r in results)
    seeds = "one seed" if one else "mean over seeds"
    return f"Gradient reaching each layer ÷ the output layer's (first epoch, {seeds})"


def model_gradient_table(diagnostics: dict) -> Table:
    """`nncli train --diagnostics`: `model_gradient_rows` as a terminal table."""
    header, rows = model_gradient_rows(diagnostics)
    return build_table(MODEL_TITLE, _columns(header, rows, 1))


def grid_gradient_table(
    keys: list[tuple[str, list[str]]], results: list[dict], width: int | None
) -> Table:
    """`grid_gradient_rows` as a terminal table in `width` characters: on a narrow terminal the
    ratios to one digit (`3e-7`), and the output layer's own norm gives way."""
    header, rows = grid_gradient_rows(keys, results)
    _, short = grid_gradient_rows(keys, results, digits=0)
    columns = _columns(header, rows, len(keys))
    for i in range(len(keys), len(header) - 1):
        columns[i] = Column(header[i], columns[i].cells, short=[row[i] for row in short])
    columns[-1] = Column(header[-1], columns[-1].cells, priority=1)
    return build_table(f"{grid_title(results)}; output: its own {NORM_HEADER}", columns, width)


def model_section(diagnostics: dict) -> tuple[str, list[str], list[list[str]], list[str]]:
    """The report page's gradients of one model: title, header, rows and notes."""
    return (MODEL_TITLE, *model_gradient_rows(diagnostics), model_notes(diagnostics))


def grid_section(
    labels: list[str], results: list[dict]
) -> tuple[str, list[str], list[list[str]], list[str]]:
    """The report page's gradients of a grid, a variant (`labels`) a row: title, header, rows
    and notes."""
    header, rows = grid_gradient_rows([("variant", labels)], results)
    header[-1] = f"output {NORM_HEADER}"
    return grid_title(results), header, rows, grid_notes(results)


def _columns(header: list[str], rows: list[list[str]], names: int) -> list[Column]:
    """A column per header, the first `names` (what a row is) to the left, numbers right."""
    return [
        Column(name, [row[i] for row in rows], justify="left" if i < names else "right")
        for i, name in enumerate(header)
    ]


def _padded(record: dict, hidden: int, digits: int = 1) -> list[str]:
    """A record's hidden layers' ratios as cells, blank past its own depth."""
    ratios = record.get("grad_ratios")
    if ratios is None:  # a summary from before ratios were kept: from the mean norms
        norms = record.get("grad_norms") or []
        out = norms[-1] if norms else None
        ratios = [n / out if n is not None and out else None for n in norms]
    cells = [ratio_cell(r, digits) for r in ratios[:-1]]
    return cells + [""] * (hidden - len(cells))


def unit_notes(
    activations: list[str], *, dead: bool, saturated: bool, grid: bool = False
) -> list[str]:
    """What the diagnostics' words mean, for the `activations` shown: `saturated` and `dead`
    where they are measured (in a `grid`, `-` for the activations they do not apply to), why a
    derivative below 1 shrinks the gradient with no unit saturated, and which activations pass
    no gradient back at all."""
    from nncli.model.activations import ACTIVATIONS  # torch: a table of a trained run only
    from nncli.model.diagnostics import SATURATION_THRESHOLD

    others = " (- for other activations)" if grid else ""
    notes = []
    if saturated:
        notes.append(
            "saturated: the share of (hidden unit, training row) pairs where a saturating"
            f" activation is flat, its derivative under {SATURATION_THRESHOLD:.0%} of its"
            f" largest: sigmoid and tanh in their tails{others}"
        )
    if dead:
        notes.append(
            "dead: the share of hidden units of a ReLU-like activation whose input is <= 0 on"
            " every training row: they output 0 (or nearly), get no gradient and never"
            f" learn{others}"
        )
    for name in dict.fromkeys(activations):
        spec = ACTIVATIONS[name]
        top = spec.max_derivative
        if top is not None and top < 1:
            notes.append(
                f"{name}: its derivative is at most {top:g}, so each {name} layer shrinks the"
                f" gradient passing back {1 / top:g}x or more with no unit saturated at all:"
                " `saturated 0.00` does not mean the gradient gets through"
            )
        if spec.blocks_gradient:
            notes.append(
                f"{name}: its derivative is 0 wherever it is defined, so no gradient reaches"
                " the layers below the output: they keep their random start"
            )
    return notes


def model_notes(diagnostics: dict) -> list[str]:
    """One model's dead and saturated fractions (those that apply to it), and `unit_notes`."""
    units = {key: diagnostics.get(f"{key}_fraction") for key in ("dead", "saturated")}
    shown = [f"{key} {value:.2f}" for key, value in units.items() if value is not None]
    notes = unit_notes([diagnostics["hidden_activation"]], dead=units["dead"] is not None,
                       saturated=units["saturated"] is not None)  # fmt: skip
    return ["hidden units: " + ", ".join(shown)] * bool(shown) + notes


def grid_notes(results: list[dict]) -> list[str]:
    """`unit_notes` for a grid's records: the words its columns use, for its activations."""
    measured = {
        key: any((r.get(f"{key}_fraction") or {}).get("mean") is not None for r in results)
        for key in ("dead", "saturated")
    }
    activations = [r["hidden_activation"] for r in results if r.get("hidden_activation")]
    return unit_notes(activations, **measured, grid=True)


def step_note(activation: str, depth: int) -> str | None:
    """`nncli train`'s note for hidden layers no gradient reaches (step): None otherwise."""
    from nncli.model.activations import ACTIVATIONS

    if depth < 1 or not ACTIVATIONS[activation].blocks_gradient:
        return None
    layers = "hidden layer gets" if depth == 1 else f"{depth} hidden layers get"
    return (
        f"model.activation={activation}: its derivative is 0 wherever it is defined, so the"
        f" {layers} zero gradient and keep their random start; only the output layer learns,"
        " a perceptron on fixed random features (the perceptron's limit: try sigmoid or relu)"
    )
