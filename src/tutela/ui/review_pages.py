"""The reviewer's pages: the queue, a case, its blurred preview, the audited reveal, the decision
form, and the wellness settings."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tutela.clock import utc_now
from tutela.reporting.fields import Awareness
from tutela.review.case_views import (
    case_view,
    held_content,
    held_video,
    reveal_content,
    reveal_video,
    video_frame_times,
)
from tutela.review.decisions import Decision, decide
from tutela.review.preferences import Preferences, get_preferences, set_preferences
from tutela.review.queues import list_queue
from tutela.review.report_choices import (
    AccountAction,
    ReportChoices,
    parse_elsewhere,
    suggested_urgency,
)
from tutela.ui.access import ReviewerDep, page, secure
from tutela.ui.thumbnails import preview_png, revealed_png
from tutela.ui.video_strip import strip_png

router = APIRouter(prefix="/ui", include_in_schema=False)
DECISION_LABELS = {
    Decision.CONFIRM_KNOWN: ("c", "Confirm known material"),
    Decision.CONFIRM_NEW: ("n", "Confirm new material"),
    Decision.NOT_ABUSE: ("x", "Not abuse"),
    Decision.ESCALATE: ("e", "Escalate to a senior reviewer"),
}


@router.get("/queue")
def queue(viewer: ReviewerDep, done: int | None = None) -> Response:
    now = utc_now()
    entries = list_queue(viewer.services.database, viewer.user, viewer.services.settings, now)
    return page("queue.html", viewer, entries=entries, now=now, done=done)


@router.get("/cases/{case_id}")
async def case_page(case_id: int, viewer: ReviewerDep) -> Response:
    services = viewer.services
    view = await run_in_threadpool(
        case_view,
        services.database,
        case_id,
        viewer.user,
        viewer.actor,
        services.settings,
        utc_now(),
    )
    prefs = get_preferences(services.database, viewer.user.id)
    urgent, reason = suggested_urgency(view.metadata)
    report = {
        "urgent": urgent,
        "urgent_reason": reason,
        "awareness": view.awareness,
        "awareness_options": [a.value for a in Awareness],
        "account_actions": [a.value for a in AccountAction],
    }
    return page("case.html", viewer, case=view, prefs=prefs, labels=DECISION_LABELS, report=report)


@router.get("/cases/{case_id}/preview.png")
async def preview(case_id: int, viewer: ReviewerDep) -> Response:
    """Blurred and greyscale as the viewer set; only while the payload is held (undecided), so a
    preview never opens the vault. The vault copy is shown only through a reveal. A video case
    has its strip instead (`frames.png`)."""
    services = viewer.services
    if await run_in_threadpool(video_frame_times, services.database, case_id) is not None:
        return secure(Response(status_code=204))
    data = await run_in_threadpool(held_content, services.database, case_id, services.settings)
    if data is None:
        return secure(Response(status_code=204))
    prefs = get_preferences(services.database, viewer.user.id)
    png = await run_in_threadpool(
        preview_png,
        data,
        services.settings.media,
        blur_px=prefs.blur_px,
        greyscale=prefs.greyscale,
    )
    return secure(Response(png, media_type="image/png"))


@router.get("/cases/{case_id}/frames.png")
async def frames_preview(case_id: int, viewer: ReviewerDep) -> Response:
    """A video case's strip: its matched frames as blurred greyscale stills, made from the video
    only while it is held (undecided), as an image's preview; 204 when there is none to make."""
    services = viewer.services
    times = await run_in_threadpool(video_frame_times, services.database, case_id)
    if not times:
        return secure(Response(status_code=204))
    prefs = get_preferences(services.database, viewer.user.id)
    png = await run_in_threadpool(
        lambda: strip_png(
            lambda out: held_video(services.database, case_id, services.settings, out),
            times,
            services.settings.media,
            services.settings.spool_dir,
            blur_px=prefs.blur_px,
        )
    )
    if png is None:
        return secure(Response(status_code=204))
    return secure(Response(png, media_type="image/png"))


@router.post("/cases/{case_id}/reveal")
async def reveal(case_id: int, viewer: ReviewerDep) -> Response:
    """The picture unblurred, in the body of a POST (never a URL), audited before it is sent;
    for a video, its matched frames' stills in colour (the video itself is never played, nor
    read whole: it streams from what is held or from the vault into the strip's spool file)."""
    services = viewer.services
    times = await run_in_threadpool(video_frame_times, services.database, case_id)
    if times is not None:
        if not times:  # matched by its exact hashes only: no frame to show, nothing revealed
            return secure(Response(status_code=204))
        spool = services.settings.spool_dir
        png = await run_in_threadpool(
            lambda: strip_png(
                lambda out: reveal_video(
                    services.database, case_id, viewer.actor, services.settings, out
                ),
                times,
                services.settings.media,
                spool,
                reveal=True,
            )
        )
    else:
        data = await run_in_threadpool(
            reveal_content, services.database, case_id, viewer.actor, services.settings
        )
        png = (
            None
            if data is None
            else await run_in_threadpool(revealed_png, data, services.settings.media)
        )
    if png is None:
        return secure(Response(status_code=204))
    return secure(Response(png, media_type="image/png"))


@router.post("/cases/{case_id}/decision")
async def decision(
    case_id: int,
    viewer: ReviewerDep,
    decision: Annotated[Decision, Form()],
    note: Annotated[str, Form()] = "",
    urgent: Annotated[bool, Form()] = False,
    urgent_reason: Annotated[str, Form(max_length=1000)] = "",
    awareness: Annotated[Awareness | Literal[""], Form()] = "",
    account_action: Annotated[AccountAction, Form()] = AccountAction.SUSPEND_ACCOUNT,
    reported_elsewhere: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """The decision, with the reviewer's choices for the report and the platform (used only
    when it confirms)."""
    services = viewer.services
    choices = ReportChoices(
        urgent=urgent,
        urgent_reason=urgent_reason,
        awareness=awareness or None,
        account_action=account_action,
        reported_elsewhere=parse_elsewhere(reported_elsewhere),
    )
    await run_in_threadpool(
        lambda: decide(
            services.database,
            case_id,
            viewer.user.name,
            decision,
            settings=services.settings,
            note=note,
            choices=choices,
        )
    )
    entries = list_queue(services.database, viewer.user, services.settings, utc_now())
    target = f"/ui/cases/{entries[0].case_id}" if entries else f"/ui/queue?done={case_id}"
    return secure(RedirectResponse(target, status_code=303))


@router.get("/preferences")
def preferences_form(viewer: ReviewerDep) -> Response:
    prefs = get_preferences(viewer.services.database, viewer.user.id)
    return page("preferences.html", viewer, prefs=prefs, saved=False)


@router.post("/preferences")
def save_preferences(
    viewer: ReviewerDep,
    blur_px: Annotated[int, Form()] = 12,
    greyscale: Annotated[bool, Form()] = False,
    autoplay: Annotated[bool, Form()] = False,
) -> Response:
    prefs = set_preferences(
        viewer.services.database,
        viewer.user.id,
        Preferences(blur_px, greyscale, autoplay),
        utc_now(),
    )
    return page("preferences.html", viewer, prefs=prefs, saved=True)
