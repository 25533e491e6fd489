"""The centre's yearly figures page (`/ui/transparency` on the centre's console), for its
auditors and compliance officers: the Art 83(3) figures — reports by Member State, kind and
provider, their assessment, duplicates, forwardings, indicators, victims helped — as charts
drawn on the server (inline SVG, no script) and the full table, and the same document to
download as JSON, CSV or HTML. Every look and every download is in the audit log
(tutela.transparency.reports)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from tutela.auth.roles import Role
from tutela.clock import utc_now
from tutela.transparency.documents import Format, render
from tutela.transparency.periods import FIRST_YEAR, LAST_YEAR
from tutela.transparency.reports import yearly_figures
from tutela.ui.access import Viewer, require_roles, secure
from tutela.ui.transparency_pages import figures_page

router = APIRouter(prefix="/ui", include_in_schema=False)
FiguresDep = Annotated[Viewer, Depends(require_roles(Role.COMPLIANCE_OFFICER, Role.AUDITOR))]
YearQuery = Annotated[int | None, Query(ge=FIRST_YEAR, le=LAST_YEAR)]
MEDIA_TYPES = {
    Format.JSON: "application/json",
    Format.CSV: "text/csv; charset=utf-8",
    Format.HTML: "text/html; charset=utf-8",
}


@router.get("/transparency")
async def centre_transparency(viewer: FiguresDep, year: YearQuery = None) -> Response:
    shown = year or utc_now().year
    figures = await run_in_threadpool(
        lambda: yearly_figures(
            viewer.services.database,
            shown,
            actor=viewer.actor,
            centre=True,
            roles=viewer.user.roles,
            purpose="view",
        )
    )
    return figures_page("centre_transparency.html", viewer, shown, figures)


@router.get("/transparency/report")
async def centre_transparency_download(
    viewer: FiguresDep,
    year: YearQuery = None,
    form: Annotated[Format, Query(alias="format")] = Format.CSV,
) -> Response:
    shown = year or utc_now().year
    figures = await run_in_threadpool(
        lambda: yearly_figures(
            viewer.services.database,
            shown,
            actor=viewer.actor,
            centre=True,
            roles=viewer.user.roles,
        )
    )
    name = f"centre-transparency-{shown}.{form.value}"
    return secure(
        Response(
            render(figures, form),
            media_type=MEDIA_TYPES[form],
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    )
