"""The console's pages: each handler checks the role for what it shows, calls the admin domain (in a
thread: it blocks on the database) and renders a template. Nothing here decides anything."""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

from aiohttp import web

from veriframe.service.console import evidence
from veriframe.service.console.rendering import CTX, render
from veriframe.service.console.sessions import COOKIE, FORM, SESSION
from veriframe.service.errors import InvalidArgument, ServiceError

log = logging.getLogger("veriframe.console")
T = TypeVar("T")
MAX_UPLOAD_BYTES = 256 * 2**20
MAX_POLICY_BYTES = 1 * 2**20


def _ctx(request: web.Request) -> Any:
    return request.app[CTX]


async def _blocking(fn: Callable[..., T], *args: Any, **kw: Any) -> T:
    return await asyncio.to_thread(fn, *args, **kw)


async def _allowed(request: web.Request, rpc: str) -> Any:
    """The session's principal, after the gRPC API's own check that it may call `rpc`."""
    principal = request[SESSION].principal
    await _blocking(_ctx(request).check, principal, rpc)
    return principal


def _page(request: web.Request, template: str, status: int = 200, **values: Any) -> web.Response:
    return render(request, template, status=status, **values)


# ------------------------------------------------------------------------------------------ sign-in


async def signin_form(request: web.Request) -> web.Response:
    return _page(request, "signin.html", message="")


async def signin(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    address = request.remote or "unknown"
    wait = ctx.limiter.retry_after(address)
    if wait > 0:
        log.info("console: sign-in refused, too many attempts from %s", address)
        response = _page(request, "signin.html", status=429,
                         message=f"Too many failed sign-ins: wait {wait:.0f} s and try again.")
        response.headers["Retry-After"] = str(max(1, round(wait + 0.5)))
        return response
    form = await request.post()
    key = str(form.get("api_key") or "").strip()
    try:
        principal = await _blocking(ctx.sign_in, key)
    except ServiceError as error:
        ctx.limiter.failed(address)
        log.info("console: sign-in failed from %s: %s", address, type(error).__name__)
        message = ("That key may not use the console (moderators and admins only)."
                   if error.code == "PERMISSION_DENIED" else "That API key was not accepted.")
        return _page(request, "signin.html", status=403 if error.code == "PERMISSION_DENIED" else 401,
                     message=message)
    session = ctx.sessions.create(principal)
    log.info("console: signed in key %s (role %s)", principal.prefix, principal.role)
    response = web.HTTPSeeOther(str(request.app.router["queue"].url_for()))
    response.set_cookie(COOKIE, session.id, path="/console/", httponly=True, samesite="Strict",
                        secure=ctx.secure_cookies or request.secure,
                        max_age=int(ctx.sessions.absolute_s))
    raise response


async def signout(request: web.Request) -> web.Response:
    _ctx(request).sessions.end(request[SESSION].id)
    response = web.HTTPSeeOther(str(request.app.router["signin"].url_for()))
    response.del_cookie(COOKIE, path="/console/")
    raise response


# ------------------------------------------------------------------------------------- review queue


def _float(value: str | None, field: str) -> float:
    try:
        return float(value) if value else 0.0
    except ValueError:
        raise InvalidArgument(field, "must be a number") from None


QUEUE_FILTERS = ("category", "tenant", "min_age_min")


def _filters(values: Any) -> dict[str, str]:
    """The queue's filters from a query or a form, so an item's next/previous stay in that queue."""
    return {k: str(values.get(k)) for k in QUEUE_FILTERS if values.get(k)}


async def _filtered_queue(request: web.Request, principal: Any, filters: dict[str, str]) -> Any:
    min_age_min = _float(filters.get("min_age_min"), "min_age_min")
    return await _blocking(evidence.queue, _ctx(request).admin, principal,
                           category=filters.get("category", ""), tenant=filters.get("tenant", ""),
                           min_age_s=min_age_min * 60)


async def queue(request: web.Request) -> web.Response:
    principal = await _allowed(request, "ListReviews")
    filters = _filters(request.query)
    page = await _filtered_queue(request, principal, filters)
    return _page(request, "queue.html", page=page, category=filters.get("category", ""),
                 tenant=filters.get("tenant", ""), min_age_min=filters.get("min_age_min", ""),
                 query=urlencode(filters))


async def review_item(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    principal = await _allowed(request, "GetReview")
    review_id = request.match_info["review_id"]
    item = await _blocking(evidence.gather, ctx.admin, ctx.server, principal, review_id)
    session = request[SESSION]
    if item.review.prompt and review_id not in session.viewed:
        await _blocking(evidence.record_prompt_view, ctx.server, principal, item.review)
        session.viewed.add(review_id)
    filters = _filters(request.query)
    ids = await _blocking(evidence.queue_ids, ctx.server, category=filters.get("category", ""),
                          tenant=filters.get("tenant", ""),
                          min_age_s=_float(filters.get("min_age_min"), "min_age_min") * 60)
    here = ids.index(review_id) if review_id in ids else -1
    following = ids[here + 1] if 0 <= here < len(ids) - 1 else ""
    previous = ids[here - 1] if here > 0 else ""
    return _page(request, "item.html", item=item, next_id=following, prev_id=previous,
                 position=here + 1, total=len(ids), query=urlencode(filters), filters=filters)


async def decide(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    form = request[FORM]
    decision = str(form.get("decision") or "")
    reason = str(form.get("reason") or "")
    review_id = request.match_info["review_id"]
    if decision not in ("approve", "reject"):
        raise InvalidArgument("decision", "must be approve or reject")
    principal = await _allowed(request, "ApproveReview" if decision == "approve" else "RejectReview")
    if decision == "approve":
        await _blocking(ctx.admin.approve_review, principal, review_id, reason)
    else:
        await _blocking(ctx.admin.reject_review, principal, review_id, reason)
    log.info("console: review %s %sd by key %s", review_id, decision, principal.prefix)
    following = str(form.get("next") or "")
    target = request.app.router["review"].url_for(review_id=following) if following else \
        request.app.router["queue"].url_for()
    query = urlencode(_filters(form))
    raise web.HTTPSeeOther(str(target) + (f"?{query}" if query else ""))


# ---------------------------------------------------------------------------------------- policies


async def policies(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    principal = await _allowed(request, "ListPolicyVersions")
    live = await _blocking(ctx.admin.get_policy, principal, 0)
    versions, _ = await _blocking(ctx.admin.list_policy_versions, principal, page_size=100)
    return _page(request, "policies.html", live=live, versions=versions,
                 document=json.dumps(live.document, indent=2, sort_keys=True),
                 can_publish=principal.role == "admin")


async def policy_diff(request: web.Request) -> web.Response:
    principal = await _allowed(request, "DiffPolicies")
    older = int(_float(request.query.get("from"), "from"))
    newer = int(_float(request.query.get("to"), "to"))
    diff = await _blocking(_ctx(request).admin.diff_policies, principal, older, newer)
    return _page(request, "policy_diff.html", diff=diff)


def _document(form: Any) -> dict[str, Any]:
    text = str(form.get("document") or "")
    if len(text.encode()) > MAX_POLICY_BYTES:
        raise InvalidArgument("document", "a policy document is at most 1 MB")
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise InvalidArgument("document", f"not valid JSON: {str(error)[:200]}") from None
    if not isinstance(document, dict):
        raise InvalidArgument("document", "a policy document is a JSON object")
    return document


async def policy_propose(request: web.Request) -> web.Response:
    """A dry run of a draft against recent prompts: which decisions would flip. Nothing is stored."""
    ctx = _ctx(request)
    principal = await _allowed(request, "UpdatePolicy")
    form = request[FORM]
    document = _document(form)
    checked, flips = await _blocking(evidence.policy_flips, ctx.admin, ctx.server, principal, document)
    live = await _blocking(ctx.admin.get_policy, principal, 0)
    return _page(request, "policy_propose.html", checked=checked, flips=flips, live=live,
                 document=json.dumps(document, indent=2, sort_keys=True),
                 comment=str(form.get("comment") or ""))


async def policy_publish(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    principal = await _allowed(request, "UpdatePolicy")
    form = request[FORM]
    base = int(_float(form.get("base_version"), "base_version")) or None
    record = await _blocking(ctx.admin.update_policy, principal, _document(form),
                             comment=str(form.get("comment") or ""), base_version=base)
    log.info("console: policy version %d published by key %s", record.version, principal.prefix)
    raise web.HTTPSeeOther(str(request.app.router["policies"].url_for()) + f"?published={record.version}")


# ------------------------------------------------------------------------------------------- audit


async def audit(request: web.Request) -> web.Response:
    from veriframe.service.admin import AuditQuery

    principal = await _allowed(request, "SearchAudit")
    q = request.query
    query = AuditQuery(job_id=q.get("job_id") or None, actor=q.get("actor") or None,
                       tenant=q.get("tenant") or None,
                       event_types=tuple(t for t in [q.get("event_type", "")] if t))
    events, next_token = await _blocking(_ctx(request).admin.search_audit, principal, query,
                                         page_size=50, page_token=q.get("after") or None)
    return _page(request, "audit.html", events=events, next_token=next_token, q=dict(q))


def _seq(request: web.Request) -> int:
    text = request.match_info["seq"]
    if not text.isdigit() or len(text) > 18:
        raise InvalidArgument("seq", "an event number is a non-negative integer")
    return int(text)


async def audit_event(request: web.Request) -> web.Response:
    principal = await _allowed(request, "GetAuditEvent")
    event = await _blocking(_ctx(request).admin.get_audit_event, principal, _seq(request))
    return _page(request, "event.html", event=event,
                 payload=json.dumps(event.payload, indent=2, sort_keys=True))


async def audit_proof(request: web.Request) -> web.Response:
    principal = await _allowed(request, "GetInclusionProof")
    payload = await _blocking(evidence.proof_payload, _ctx(request).admin, principal, _seq(request))
    return web.json_response(payload, headers={"Cache-Control": "no-store"})


# ------------------------------------------------------------------------------------------ verify


async def verify_form(request: web.Request) -> web.Response:
    await _allowed(request, "/veriframe.v1.Verification/Verify")
    return _page(request, "verify.html", result=None, name="")


async def verify_upload(request: web.Request) -> web.Response:
    from veriframe.provenance.verify import UnreadableInput
    from veriframe.service.console.explain import explain, unreadable

    ctx = _ctx(request)
    principal = await _allowed(request, "/veriframe.v1.Verification/Verify")
    upload = request[FORM].get("file")
    if not isinstance(upload, web.FileField):
        raise InvalidArgument("file", "choose a video (.mp4) or an image (.png, .jpg) to verify")
    suffix = Path(upload.filename or "upload").suffix.lower()[:8] or ".bin"
    with tempfile.TemporaryDirectory(prefix="vf-console-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        await _blocking(_save, upload.file, path)
        try:
            explained = explain(await _blocking(ctx.server.workflow.verify, principal, path))
        except UnreadableInput:
            explained = unreadable(suffix)
    return _page(request, "verify.html", result=explained, name=upload.filename or "")


def _save(source: Any, path: Path) -> None:
    with path.open("wb") as out:
        while chunk := source.read(1 << 20):
            out.write(chunk)
