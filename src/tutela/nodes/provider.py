"""The provider node's composition root: the HTTP API (tutela.api.app) with the review console
(tutela.ui.console) mounted on it."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec

from fastapi import FastAPI

from tutela.api.app import create_app as create_api_app
from tutela.ui.console import install_console

P = ParamSpec("P")


def with_console(build: Callable[P, FastAPI]) -> Callable[P, FastAPI]:
    """`build` (an app factory of the API), then the review console at /ui on what it built."""

    @wraps(build)
    def create(*args: P.args, **kwargs: P.kwargs) -> FastAPI:
        app = build(*args, **kwargs)
        install_console(app)
        return app

    return create


# A provider node app: the arguments are the API's (tutela.api.app.create_app).
create_app = with_console(create_api_app)
