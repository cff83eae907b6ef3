"""Which format a report is asked for, and the response that carries it.

A report route that can answer JSON, CSV or XLSX asks `report_format(...)`: a path suffix
(`.csv`, `.xlsx`) wins, then `?format=json|csv|xlsx`, then the `Accept` header's best match;
JSON otherwise. An unknown `format` is a 400 problem, not a silent JSON answer.
`table_response(tables, fmt, name)` renders `gateway.tables` tables as the file, and
`report_route(...)` declares a report at its path and at `path.csv` / `path.xlsx` at once.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import Response, request

from gateway import tables as tabular
from gateway.api.openapi import route
from gateway.errors import ValidationFailed

JSON = "application/json"
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MEDIA_TYPES = {"json": JSON, "csv": CSV, "xlsx": XLSX}
REPORT_MEDIA_TYPES = (JSON, CSV, XLSX)
FORMAT_QUERY = "json, csv or xlsx (or Accept: text/csv, or the XLSX media type)"


def split_suffix(value: str) -> tuple[str, str | None]:
    """`W123.xlsx` → (`W123`, `xlsx`); `W123` → (`W123`, None)."""
    for fmt in ("csv", "xlsx"):
        if value.endswith(f".{fmt}"):
            return value.removesuffix(f".{fmt}"), fmt
    return value, None


def report_format(suffix: str | None = None) -> str:
    """`json`, `csv` or `xlsx`, from the path suffix, `?format=`, or `Accept`."""
    if suffix:
        return suffix
    asked = request.args.get("format")
    if asked is not None:
        if asked not in MEDIA_TYPES:
            raise ValidationFailed(
                "format must be json, csv or xlsx.", "format harus json, csv atau xlsx."
            )
        return asked
    best = request.accept_mimetypes.best_match(REPORT_MEDIA_TYPES, default=JSON)
    return {CSV: "csv", XLSX: "xlsx"}.get(best, "json")


def table_response(tables: tabular.Table | Sequence[tabular.Table], fmt: str, name: str):
    """The tables as a downloadable CSV or XLSX file called `name.csv` / `name.xlsx`."""
    if fmt == "xlsx":
        body, mimetype = tabular.to_xlsx(tables), XLSX
    elif fmt == "csv":
        body, mimetype = tabular.to_csv(tables), CSV
    else:
        raise ValueError(f"not a file format: {fmt}")
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


def report_route(blueprint, path: str, *, summary: str, **options):
    """Declare a GET report at `path` and at `path.csv` / `path.xlsx`, all documented.

    The view takes the path's parameters and `suffix` (None, "csv" or "xlsx"), and passes the
    suffix to `report_format`: so `…/report.xlsx`, `…/report?format=xlsx` and `Accept:` the
    XLSX media type all answer the same file.
    """
    query = {**options.pop("query", {}), "format": FORMAT_QUERY}
    file_options = {key: value for key, value in options.items() if key != "response"}

    def decorator(view):
        route(
            blueprint,
            "GET",
            path,
            summary=f"{summary}: JSON, CSV or XLSX (a .csv or .xlsx suffix, ?format=, or Accept)",
            query=query,
            media_types=REPORT_MEDIA_TYPES,
            **options,
        )(_suffixed(view, None))
        for fmt in ("csv", "xlsx"):
            suffixed = _suffixed(view, fmt)
            route(
                blueprint,
                "GET",
                f"{path}.{fmt}",
                summary=f"{summary}, as {fmt.upper()}",
                query={key: value for key, value in query.items() if key != "format"},
                media_types=(MEDIA_TYPES[fmt],),
                **file_options,
            )(suffixed)
        return view

    return decorator


def _suffixed(view, fmt: str | None):
    def suffixed(**parameters):
        return view(suffix=fmt, **parameters)

    suffixed.__name__ = view.__name__ if fmt is None else f"{view.__name__}_{fmt}"
    suffixed.__doc__ = view.__doc__
    return suffixed
