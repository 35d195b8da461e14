"""The only place error codes become HTTP statuses and translated JSON."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from envoi.domain.errors import EnvoiError, ErrorCode, encodable
from envoi.domain.messages import pick_locale, render_error
from envoi.domain.model import Locale
from envoi.services.unit_of_work import TransientConflict

STATUS: dict[ErrorCode, int] = {
    ErrorCode.VALIDATION_ERROR: 422,
    ErrorCode.INVALID_PIN_FORMAT: 422,
    ErrorCode.OBVIOUS_PIN: 422,
    ErrorCode.PASSWORD_REQUIRED: 422,
    ErrorCode.AMOUNT_OUT_OF_RANGE: 422,
    ErrorCode.UNKNOWN_NETWORK: 422,
    ErrorCode.INVALID_HANDLE: 422,
    ErrorCode.INVALID_DISPLAY_NAME: 422,
    ErrorCode.INVALID_HASHTAG: 422,
    ErrorCode.HASHTAG_TAKEN: 409,
    ErrorCode.INVALID_NETWORK_TOKEN: 422,
    ErrorCode.NETWORK_USER_NOT_FOUND: 404,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.INVALID_CREDENTIALS: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.WRONG_PIN: 403,
    ErrorCode.PIN_LOCKED: 423,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.INTENT_NOT_FOUND: 404,
    ErrorCode.TOPUP_NOT_FOUND: 404,
    ErrorCode.TOPUP_UNAVAILABLE: 503,
    ErrorCode.TOPUP_LIMIT_DAILY: 409,
    ErrorCode.TOPUP_LIMIT_MONTHLY: 409,
    ErrorCode.POST_NOT_FOUND: 404,
    ErrorCode.EMAIL_TAKEN: 409,
    ErrorCode.IDEMPOTENCY_CONFLICT: 409,
    ErrorCode.HANDLE_TAKEN: 409,
    ErrorCode.IDENTITY_ALREADY_LINKED: 409,
    ErrorCode.PIN_NOT_SET: 409,
    ErrorCode.INTENT_NOT_PENDING: 409,
    ErrorCode.INTENT_MISMATCH: 409,
    ErrorCode.INSUFFICIENT_FUNDS: 409,
    ErrorCode.INTENT_EXPIRED: 410,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.BUSY: 503,
    ErrorCode.TOO_MANY_ATTEMPTS: 429,
    ErrorCode.TOO_MANY_SIGNUPS: 429,
    ErrorCode.INVALID_REGISTRY_ID: 422,
    ErrorCode.INVALID_IBAN: 422,
    ErrorCode.ORGANISATION_NOT_VERIFIED: 409,
    ErrorCode.NOT_AN_ORGANISATION: 404,
    ErrorCode.RECEIPT_NOT_FOUND: 404,
    ErrorCode.RECEIPT_ALREADY_CANCELLED: 409,
    ErrorCode.NOT_A_DONATION: 409,
    ErrorCode.POT_CLOSED: 409,
    ErrorCode.POT_EMPTY: 409,
    ErrorCode.INVALID_CLOSING_DATE: 422,
    ErrorCode.CAMPAIGN_RUNNING: 409,
    ErrorCode.NOTHING_TO_BATCH: 409,
    ErrorCode.BATCH_NOT_FOUND: 404,
    ErrorCode.BATCH_ALREADY_EXECUTED: 409,
    ErrorCode.INVALID_STATUS_REPORT: 422,
}
# Contention passes: a client may send the same request again a moment later.
RETRY_AFTER_S = "1"


def retry_headers(error: EnvoiError) -> dict[str, str] | None:
    """``Retry-After`` for a refusal that says when to come back."""
    wait = error.params.get("retry_after_s")
    return {"Retry-After": str(wait)} if isinstance(wait, int) else None


def request_locale(request: Request) -> Locale:
    member = getattr(request.state, "member", None)
    if member is not None:
        locale: Locale = member.locale
        return locale
    return pick_locale(request.headers.get("accept-language"), "en")


def error_body(error: EnvoiError, locale: Locale) -> dict[str, object]:
    body: dict[str, object] = {"code": error.code.value, "message": render_error(error, locale)}
    details = {k: v for k, v in error.params.items() if isinstance(v, str | int)}
    if details:
        body["details"] = details
    return {"error": body}


def install(app: FastAPI) -> None:
    @app.exception_handler(EnvoiError)
    async def envoi_error(request: Request, exc: EnvoiError) -> JSONResponse:
        status = STATUS.get(exc.code, 400)
        headers = retry_headers(exc) or ({"Retry-After": RETRY_AFTER_S} if status == 503 else None)
        return JSONResponse(
            error_body(exc, request_locale(request)), status_code=status, headers=headers
        )

    @app.exception_handler(TransientConflict)
    async def transient_conflict(request: Request, exc: TransientConflict) -> JSONResponse:
        # A transaction the services do not retry (rolled back, nothing kept): still not a 500.
        return await envoi_error(request, EnvoiError(ErrorCode.BUSY))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {
                # Names only: list positions ("0") say nothing to a person.
                "field": encodable(
                    ".".join(
                        str(p) for p in err.get("loc", ()) if p != "body" and not isinstance(p, int)
                    )
                    or "body"
                ),
                "problem": str(err.get("type", "invalid")),
            }
            for err in exc.errors()
        ]
        reason = ", ".join(dict.fromkeys(f"{p['field']} ({p['problem']})" for p in problems))
        error = EnvoiError(ErrorCode.VALIDATION_ERROR, reason=reason)
        body = error_body(error, request_locale(request))
        body["error"]["fields"] = problems  # type: ignore[index]
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = ErrorCode.NOT_FOUND if exc.status_code == 404 else ErrorCode.VALIDATION_ERROR
        error = EnvoiError(code, reason=str(exc.detail))
        return JSONResponse(
            error_body(error, request_locale(request)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
