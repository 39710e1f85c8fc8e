"""The dashboard's routes: the page, its script and style, and its JSON API (Telegram-signed)."""

import json
import logging
from collections.abc import Awaitable, Callable
from functools import cache
from hashlib import sha256
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot import clock
from bot.config import Settings
from bot.render import render
from bot.services import approvals, audit
from bot.services import staff as staff_service
from bot.services.activities import ActivityError
from bot.services.approvals import ApprovalError
from bot.state import AppState
from bot.web import initdata, plans, views
from bot.web.views import Forbidden, NotFound, Viewer

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# The page's own files only: nothing from a CDN (mainland phones cannot reach one) and no
# inline script, so a text that slipped through escaping could not run either.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'"
)
NO_STORE = {"Cache-Control": "no-store"}
AUTH_SCHEME = "tma "  # Authorization: tma <init data>, as Telegram's docs show it
DECISIONS = ("approve", "reject", "changes", "note")
# Refusals written to the audit log, as handlers/approvals.py and activities.py do.
AUDITED = ("not_decider", "own_request", "not_director")

Flush = Callable[[], Awaitable[None]]
Page = Callable[[AsyncSession, Settings, AppState, Viewer, Request], Awaitable[dict]]


def routes(state: AppState, flush: Flush | None = None) -> list[BaseRoute]:
    """/app (the page), /app/static/… and /app/api/…; `flush` sends what a decision queued."""

    def guarded(page: Page) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await _answer(state, request, page, flush)

        return endpoint

    api = [
        ("me", _me, "GET"),
        ("today", _today, "GET"),
        ("kpi", _kpi, "GET"),
        ("kpi/trend", _trend, "GET"),
        ("channels", _channels, "GET"),
        ("channels/{channel_id:int}", _channel, "GET"),
        ("approvals", _waiting, "GET"),
        ("approvals/decide", _decide, "POST"),
        ("feedback", _feedback, "GET"),
    ]
    return [
        Route("/app", lambda request: _page(state), methods=["GET"]),
        Route("/app/", lambda request: RedirectResponse("/app", status_code=308)),
        Route("/app/static/{name}", _static, methods=["GET"]),
        *(Route(f"/app/api/{path}", guarded(page), methods=[m]) for path, page, m in api),
    ]


# ---- the page and its files -------------------------------------------------------------------


def _page(state: AppState) -> Response:
    locale = state.settings.team.locale
    body = render("web/dashboard.html.j2", locale, js=_asset("app.js")[1],
                  css=_asset("app.css")[1])  # fmt: skip
    headers = {"Content-Security-Policy": CSP, "Cache-Control": "no-cache"}
    return HTMLResponse(body, headers=headers)


@cache
def _asset(name: str) -> tuple[bytes, str]:
    """A static file's bytes and a short hash of them (the page asks for name?v=hash)."""
    data = (STATIC / name).read_bytes()
    return data, sha256(data).hexdigest()[:12]


async def _static(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in ("app.js", "app.css"):
        return Response(status_code=404)
    data, _ = _asset(name)
    # Versioned by the page's ?v=: a year's caching is safe, the next release asks anew.
    headers = {"Cache-Control": "public, max-age=31536000, immutable"}
    return Response(data, media_type=TYPES[Path(name).suffix], headers=headers)


# ---- who is asking ----------------------------------------------------------------------------


async def _answer(state: AppState, request: Request, page: Page, flush: Flush | None) -> Response:
    settings = state.settings
    header = request.headers.get("authorization", "")
    try:
        if not header.startswith(AUTH_SCHEME):
            raise initdata.InitDataError("missing")
        user = initdata.verify(
            header[len(AUTH_SCHEME) :],
            settings.require_token(),
            settings.web.init_data_max_age_seconds,
            clock.now(),
        )
    except initdata.InitDataError as exc:
        client = request.client.host if request.client else "?"
        # The reason only: the init data itself is a credential for as long as it is fresh.
        log.info("dashboard: refused a request from %s (%s init data)", client, exc.reason)
        return JSONResponse({"error": "unauthorised"}, status_code=401, headers=NO_STORE)
    if state.sessions is None:  # still starting
        return JSONResponse({"error": "starting"}, status_code=503, headers=NO_STORE)
    decided = False
    async with state.sessions() as session, session.begin():
        person = await staff_service.by_telegram_id(session, user.id)
        if person is None or not person.active:
            return JSONResponse({"error": "not_staff"}, status_code=403, headers=NO_STORE)
        try:
            body = await page(session, settings, state, Viewer(person), request)
        except Forbidden:
            return JSONResponse({"error": "forbidden"}, status_code=403, headers=NO_STORE)
        except NotFound:
            return JSONResponse({"error": "not_found"}, status_code=404, headers=NO_STORE)
        except _Refused as exc:
            return JSONResponse(exc.body, status_code=exc.status, headers=NO_STORE)
        decided = body.pop("_decided", False)
    if decided and flush is not None:  # committed: the chat cards are edited now, not in 2 s
        await flush()
    return JSONResponse(body, headers=NO_STORE)


class _Refused(Exception):
    """A request the viewer may make but that changes nothing (bad input, an outdated card)."""

    def __init__(self, status: int, body: dict) -> None:
        super().__init__(body.get("error"))
        self.status = status
        self.body = body


def _int(request: Request, name: str, default: int | None = None) -> int | None:
    value = request.query_params.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise NotFound(name) from None


# ---- the pages' data --------------------------------------------------------------------------


async def _me(session, settings, state, viewer: Viewer, request) -> dict:
    return views.me(viewer)


async def _today(session, settings, state, viewer: Viewer, request) -> dict:
    return await views.today(session, settings, state.calendar, viewer)


async def _kpi(session, settings, state, viewer: Viewer, request) -> dict:
    kind = request.query_params.get("period", "month")
    return await views.kpis(session, settings, state.calendar, viewer, kind,
                            _int(request, "offset", 0), _int(request, "person"))  # fmt: skip


async def _trend(session, settings, state, viewer: Viewer, request) -> dict:
    kind = request.query_params.get("period", "month")
    return await views.kpi_trend(session, settings, state.calendar, viewer, kind,
                                 _int(request, "offset", 0), _int(request, "person"))  # fmt: skip


async def _channels(session, settings, state, viewer: Viewer, request) -> dict:
    query = request.query_params
    return await views.pipeline_view(
        session, settings, viewer, query.get("region"), query.get("industry")
    )


async def _channel(session, settings, state, viewer: Viewer, request) -> dict:
    return await views.channel_history(session, settings, viewer, request.path_params["channel_id"])


async def _waiting(session, settings, state, viewer: Viewer, request) -> dict:
    return await views.waiting(session, settings, viewer)


async def _feedback(session, settings, state, viewer: Viewer, request) -> dict:
    return await views.feedback_week(session, settings, viewer, _int(request, "offset", 0))


async def _decide(session, settings, state, viewer: Viewer, request) -> dict:
    """Approve / Reject / Request changes through the very services the chat's buttons call:
    the same conditional update (one decision per version), the same cards edited."""
    try:
        asked = json.loads(await request.body())
        kind, decision = asked["kind"], asked["decision"]
        item_id, version = int(asked["id"]), int(asked["version"])
        reason = asked.get("reason") or None
    except (ValueError, KeyError, TypeError):
        raise _Refused(400, {"error": "bad_request"}) from None
    if (
        kind not in ("plan", "request")
        or decision not in DECISIONS
        or not (reason is None or isinstance(reason, str))
    ):
        raise _Refused(400, {"error": "bad_request"})
    me, today = viewer.staff, views.today_of(settings)
    try:
        if kind == "plan":
            await plans.decide(session, item_id, version, me, decision, reason, today=today)
        else:
            await approvals.decide(session, item_id, version, me, decision, reason,
                                   reports=settings.reports, today=today)  # fmt: skip
    except (ActivityError, ApprovalError) as exc:
        if exc.reason in AUDITED:  # as a forged press in chat is
            await audit.record(session, me.telegram_id, "access.refused",
                               f"web:{kind}:{item_id}:{version}", reason=exc.reason)  # fmt: skip
        _refuse(exc, me.locale)
    return {"decided": True, "_decided": True}


def _refuse(exc: Exception, locale: str) -> None:
    if isinstance(exc, ActivityError):
        text = render("activity_error.html.j2", locale, reason=exc.reason, **exc.details)
    else:
        text = render("approval_error.html.j2", locale, reason=exc.reason, **exc.details)
    raise _Refused(409, {"error": exc.reason, "message": views.plain(text)}) from None
