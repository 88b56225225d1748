"""Tripo error codes (reference §8) and the exception the handlers raise to answer with one."""

from __future__ import annotations

# code -> (HTTP status, message, suggestion)
ERRORS: dict[int, tuple[int, str, str]] = {
    1000: (500, "Unknown server error.", "Try again later; contact support if it persists."),
    1001: (500, "Fatal server error.", "Try again later; contact support if it persists."),
    1002: (401, "Authentication failed.", "Check your API key (Authorization: Bearer tsk_...)."),
    1003: (400, "The request body is malformed.", "Send a valid JSON body."),
    1004: (400, "Invalid parameter(s).", "Check the parameters against the documentation."),
    1005: (403, "Access denied.", "Check your permissions."),
    1007: (429, "Too many requests in a short time.", "Slow down and retry later."),
    2000: (429, "You have exceeded the limit of generation",
           "Try again later. You can also check `Retry-After` header."),
    2001: (404, "Task not found.", "Check the task ID; tasks are only visible to the API key that created them."),
    2002: (400, "The task type is not supported.", "Check the `type` field."),
    2003: (400, "The input file is empty.", "Check the file and try again."),
    2004: (400, "The file type is not supported.", "Use a supported file type."),
    2005: (400, "The draft task did not succeed.", "Use a successful draft task."),
    2006: (400, "The original task type is not supported for this task.", "Check which tasks can be chained."),
    2007: (400, "The original task has not succeeded.", "Wait for the original task to succeed."),
    2008: (400, "The request was rejected by the content policy.", "Change the prompt or input."),
    2009: (400, "The prompt contains invalid characters.", "Remove emoji and control characters."),
    2010: (403, "You don't have enough credit to create this task.", "Top up your balance."),
    2011: (400, "The input task has no model.", "Use a task that produced a model."),
    2012: (400, "The input task must be an animate_rig task.", "Rig the model first."),
    2013: (403, "Invalid priority.", "Your account is not entitled to this priority."),
    2014: (400, "Audit service error.", "Try again later."),
    2015: (400, "This model version is deprecated.", "Use a current model version."),
    2016: (400, "This task type is deprecated.", "Use the replacement task type."),
    2017: (400, "Invalid model version.", "Check `model_version` for this task type."),
    2018: (400, "The model is too complex to remesh.", "Simplify the model or use another one."),
    2019: (404, "The referenced file was not found in storage.", "Upload the file again."),
}


class ApiError(Exception):
    """An error answer: HTTP status plus the Tripo envelope {code, message, suggestion}."""

    def __init__(self, code: int, detail: str = "", *, status: int | None = None, retry_after: int | None = None,
                 suggestion: str | None = None, headers: dict[str, str] | None = None) -> None:
        base_status, message, base_suggestion = ERRORS.get(code, (500, "Error.", ""))
        self.code = code
        self.status = status if status is not None else base_status
        self.message = f"{message} {detail}".strip() if detail else message
        self.suggestion = suggestion if suggestion is not None else base_suggestion
        self.retry_after = retry_after
        self.headers = headers or {}   # extra response headers (e.g. v3's X-RateLimit-*)
        super().__init__(f"{self.status}/{code}: {self.message}")

    def body(self) -> dict:
        return {"code": self.code, "message": self.message, "suggestion": self.suggestion}


def invalid(detail: str) -> ApiError:
    """400/1004 with a specific explanation."""
    return ApiError(1004, detail)
