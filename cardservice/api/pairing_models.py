"""Request and response bodies of the pairing routes (API v1)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PairingIn(_In):
    name: str = Field(min_length=1, max_length=48, description="the app's name, shown to the clerk")


class PairingApproveIn(_In):
    code: str = Field(description="the code the app shows, e.g. K7Q-M2P")
    role: Literal["reader", "operator"]


class PairingDenyIn(_In):
    code: str


class PairingCreated(BaseModel):
    id: str = Field(description="poll GET /v1/pairing/{id} with it; keep it secret")
    code: str = Field(description="show it to the clerk, who compares it before approving")
    expires_at: datetime


class PairingStatus(BaseModel):
    status: Literal["pending", "approved", "denied", "expired"]
    token: str | None = Field(default=None,
                              description="on the first poll after approval only")
    role: Literal["reader", "operator"] | None = None


class PairingPending(BaseModel):
    code: str
    app_name: str
    status: Literal["pending", "approved", "denied", "expired"]
    role: Literal["reader", "operator"] | None
    created_at: datetime
    expires_at: datetime
