"""``GET /v1/models`` and ``GET /v1/models/{model}``: the catalogue with prices and tiers."""

from __future__ import annotations

from fastapi import APIRouter

from ..catalogue import CATALOGUE
from ..errors import OpenAIError

router = APIRouter(prefix="/v1", tags=["models"])


@router.get("/models")
async def list_models() -> dict[str, object]:
    """Lists the models, with the mock's prices, latency profiles and quality tiers."""
    return {"object": "list", "data": [spec.describe() for spec in CATALOGUE.values()]}


@router.get("/models/{model_id:path}")
async def retrieve_model(model_id: str) -> dict[str, object]:
    """Retrieves one model."""
    spec = CATALOGUE.get(model_id)
    if spec is None:
        raise OpenAIError(404, f"The model '{model_id}' does not exist", param="model", code="model_not_found")
    return spec.describe()
