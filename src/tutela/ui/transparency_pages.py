"""The yearly figures page (`/ui/transparency`), for compliance officers and auditors: the
measured error rates with their intervals, complaints and removals, as charts drawn on the server
(inline SVG, no script) and the full table of figures; and the same document to download as
JSON, CSV or HTML. Every look and every download is in the audit log (tutela.transparency)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from tutela.auth.roles import Role
from tutela.clock import utc_now
from tutela.transparency.documents import Format, charts, figure_rows, render
from tutela.transparency.periods import FIRST_YEAR, LAST_YEAR
from tutela.transparency.reports import yearly_figures
from tutela.ui.access import Viewer, page, require_roles, secure

router = APIRouter(prefix="/ui", include_in_schema=False)
FIGURE_READERS = (Role.COMPLIANCE_OFFICER, Role.AUDITOR)
FiguresDep = Annotated[Viewer, Depends(require_roles(*FIGURE_READERS))]
YearQuery = Annotated[int | None, Query(ge=FIRST_YEAR, le=LAST_YEAR)]
MEDIA_TYPES = {
    Format.JSON: "application/json",
    Format.CSV: "text/csv; charset=utf-8",
    Format.HTML: "text/html; charset=utf-8",
}


def figures_page(template: str, viewer: Viewer, year: int, figures: Any) -> Response:
    """A year's figures as a console page: the table, the charts and the download links (the
    provider's page and the centre's differ only in their template)."""
    return page(
        template,
        viewer,
        year=year,
        figures=figures,
        # Built by tutela.transparency.charts, which escapes every label it draws.
        charts=[Markup(svg) for svg in charts(figures)],
        rows=figure_rows(figures),
        formats=list(Format),
    )


@router.get("/transparency")
async def transparency(viewer: FiguresDep, year: YearQuery = None) -> Response:
    shown = year or utc_now().year
    figures = await run_in_threadpool(
        lambda: yearly_figures(
            viewer.services.database,
            shown,
            actor=viewer.actor,
            roles=viewer.user.roles,
            purpose="view",
        )
    )
    return figures_page("transparency.html", viewer, shown, figures)


@router.get("/transparency/report")
async def transparency_download(
    viewer: FiguresDep,
    year: YearQuery = None,
    form: Annotated[Format, Query(alias="format")] = Format.CSV,
) -> Response:
    shown = year or utc_now().year
    figures = await run_in_threadpool(
        lambda: yearly_figures(
            viewer.services.database, shown, actor=viewer.actor, roles=viewer.user.roles
        )
    )
    name = f"transparency-{shown}.{form.value}"
    return secure(
        Response(
            render(figures, form),
            media_type=MEDIA_TYPES[form],
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    )
