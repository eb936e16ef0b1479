"""Dependencies as ``Annotated`` aliases: the runtime, and the authenticated client by role."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cardservice.api.runtime import Runtime
from cardservice.api.security import authenticate, require_role
from cardservice.store.tokens import Role, TokenInfo

logger = logging.getLogger(__name__)

_bearer = HTTPBearer(auto_error=False, description="a token from `cardservice token create`")


async def get_runtime(request: Request) -> Runtime:
    # async on purpose: FastAPI runs a plain ``def`` dependency in a worker thread
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _client_with(required: Role):
    async def dependency(request: Request, credentials: Credentials) -> TokenInfo:
        # one indexed SQLite look-up (tens of microseconds): cheaper on the loop than a thread.
        # The runtime is taken from the app, not through RuntimeDep: FastAPI solves every
        # sub-dependency of every request anew (about 20 us each on the read path)
        runtime: Runtime = request.app.state.runtime
        info = authenticate(runtime.tokens, credentials.credentials if credentials else None)
        require_role(info, required)
        return info

    return dependency


ReaderClient = Annotated[TokenInfo, Depends(_client_with(Role.READER))]
OperatorClient = Annotated[TokenInfo, Depends(_client_with(Role.OPERATOR))]
AdminClient = Annotated[TokenInfo, Depends(_client_with(Role.ADMIN))]
CertifierClient = Annotated[TokenInfo, Depends(_client_with(Role.CERTIFIER))]
