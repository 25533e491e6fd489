"""The authority console's supervision per provider (`/ui/providers`): every registered
provider with what the authority holds of it; a provider's page with its orders (state and time
to execute), the Art 5 risk reports and yearly figures it sent (each verified against its key on
receipt, shown with its signature), and the link that exports its compliance record as one file
signed with the authority's key. Case officers and supervisors read; every view and every export
is audited (tutela.authority.compliance_record)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from tutela.audit.log import Action, Subject, record
from tutela.auth.roles import Role
from tutela.authority.compliance import DocumentView, compliance_document
from tutela.authority.compliance_record import (
    ExportedRecord,
    ProviderRecord,
    ProviderSummary,
    export_record,
    provider_record,
    provider_summaries,
)
from tutela.authority.issuing import Issuer
from tutela.authority.keys import load_authority_key
from tutela.clock import utc_now
from tutela.errors import NotFound
from tutela.ui.access import Viewer, page, require_roles, secure

router = APIRouter(prefix="/ui", include_in_schema=False)
PROVIDERS = "/ui/providers"
ReaderDep = Annotated[Viewer, Depends(require_roles(Role.CASE_OFFICER, Role.SUPERVISOR))]


def _deadline(viewer: Viewer) -> timedelta:
    return timedelta(hours=viewer.services.settings.removal_deadline_hours)


def _audit_view(viewer: Viewer, subject: Subject) -> None:
    with viewer.services.database.unit_of_work() as session:
        record(session, viewer.actor, Action.VIEW, subject, {})


@router.get("/providers")
async def providers_page(viewer: ReaderDep) -> Response:
    def view() -> list[ProviderSummary]:
        rows = provider_summaries(viewer.services.database)
        _audit_view(viewer, Subject("authority_providers", "-"))
        return rows

    rows = await run_in_threadpool(view)
    return page("authority_providers.html", viewer, providers=rows, queue_url=PROVIDERS)


@router.get("/providers/{provider_id}")
async def provider_page(provider_id: int, viewer: ReaderDep) -> Response:
    def view() -> ProviderRecord:
        shown = provider_record(viewer.services.database, provider_id, utc_now(), _deadline(viewer))
        _audit_view(viewer, Subject("authority_provider", str(provider_id)))
        return shown

    shown = await run_in_threadpool(view)
    return page("authority_provider.html", viewer, record=shown, queue_url=PROVIDERS)


@router.get("/providers/{provider_id}/documents/{document_id}")
async def document_page(provider_id: int, document_id: int, viewer: ReaderDep) -> Response:
    def view() -> DocumentView:
        shown = compliance_document(viewer.services.database, document_id)
        if shown.provider_id != provider_id:
            raise NotFound(f"no compliance document {document_id} of that provider")
        _audit_view(viewer, Subject("compliance_document", str(document_id)))
        return shown

    shown = await run_in_threadpool(view)
    return page("authority_document.html", viewer, document=shown, queue_url=PROVIDERS)


@router.get("/providers/{provider_id}/record")
async def record_download(provider_id: int, viewer: ReaderDep) -> Response:
    """The provider's compliance record, signed with the authority's key, as a file."""
    settings = viewer.services.settings

    def export() -> ExportedRecord:
        return export_record(
            viewer.services.database,
            viewer.actor,
            provider_id,
            load_authority_key(settings),
            Issuer.of(settings),
            utc_now(),
            _deadline(viewer),
        )

    exported = await run_in_threadpool(export)
    return secure(
        Response(
            exported.file_bytes,
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{exported.file_name}"'},
        )
    )
